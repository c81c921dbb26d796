// Bar 8 through the exported guard: any IMS Fastify service checks roles from bearer tokens alone, exact-case groups.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { CreateGroupCommand } from '@aws-sdk/client-cognito-identity-provider'
import { imsAuth, requireRole, requireUser } from '../../src/index.js'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { cognitoTokens, testApp } from '../helpers/app.js'

let emulator: Emulator
let service: FastifyInstance
let bff: FastifyInstance
const tokens: Record<string, string> = {}

t.before(async () => {
  emulator = await startEmulator()
  bff = await testApp(emulator)
  await emulator.client.send(new CreateGroupCommand({ UserPoolId: emulator.userPoolId, GroupName: 'admin' }))
  for (const [name, groups] of Object.entries({ admin: ['ADMIN'], manager: ['MANAGER'], leader: ['LINE_LEADER'], nogroup: [], lowercase: ['admin'] })) {
    tokens[name] = (await cognitoTokens(bff, await emulator.user(groups), TEST_PASSWORD)).accessToken
  }
  // An IMS service of its own: no BFF, no sessions, just the exported plugin and guards.
  service = Fastify({ logger: false })
  await service.register(imsAuth, { userPoolId: emulator.userPoolId, clientId: emulator.clientId, endpoint: emulator.endpoint })
  service.get('/whoami', { preHandler: requireUser }, async (request) => request.identity!.user)
  service.post('/users', { preHandler: requireRole('ADMIN') }, async () => ({ created: true }))
  service.get('/plans', { preHandler: requireRole('ADMIN', 'MANAGER') }, async () => ({ plans: [] }))
  service.get('/tasks', { preHandler: requireRole('ADMIN', 'MANAGER', 'LINE_LEADER') }, async () => ({ tasks: [] }))
  await service.ready()
})
t.teardown(async () => {
  await service?.close()
  await bff?.close()
  await emulator?.stop()
})

const call = async (method: 'GET' | 'POST', url: string, token?: string, extra: Record<string, string> = {}) =>
  await service.inject({ method, url, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...extra }, ...(method === 'POST' ? { payload: { roles: ['ADMIN'] } } : {}) })

t.test('each role reaches what it may, and gets 403 FORBIDDEN elsewhere', async (t) => {
  const expected: Record<string, Record<string, number>> = {
    admin: { '/users': 200, '/plans': 200, '/tasks': 200 },
    manager: { '/users': 403, '/plans': 200, '/tasks': 200 },
    leader: { '/users': 403, '/plans': 403, '/tasks': 200 },
    nogroup: { '/users': 403, '/plans': 403, '/tasks': 403 },
    lowercase: { '/users': 403, '/plans': 403, '/tasks': 403 }
  }
  for (const [who, routes] of Object.entries(expected)) {
    for (const [url, status] of Object.entries(routes)) {
      const response = await call(url === '/users' ? 'POST' : 'GET', url, tokens[who])
      t.equal(response.statusCode, status, `${who} ${url}`)
      if (status === 403) t.equal(response.json().error, 'FORBIDDEN')
    }
  }
})

t.test('roles named in a body, query or header are ignored', async (t) => {
  const response = await call('POST', '/users?role=ADMIN&roles=ADMIN', tokens.leader, { 'x-ims-roles': 'ADMIN', 'x-roles': 'ADMIN', 'cognito-groups': 'ADMIN' })
  t.equal(response.statusCode, 403)
})

t.test('the group "admin" (wrong case) grants nothing; the user object shows groups and roles apart', async (t) => {
  const response = await call('GET', '/whoami', tokens.lowercase)
  t.equal(response.statusCode, 200)
  t.same(response.json().groups, ['admin'])
  t.same(response.json().roles, [])
  t.equal(response.json().primaryRole, null)
})

t.test('no token is 401; an ID token or a forged one is 401', async (t) => {
  const none = await call('GET', '/plans')
  t.equal(none.statusCode, 401)
  t.equal(none.json().error, 'UNAUTHENTICATED')
  t.equal((await call('GET', '/plans', 'not.a.token')).statusCode, 401)
})

t.test('a custom ROLE_GROUPS mapping in the BFF is honoured exactly', async (t) => {
  const mapped = await testApp(emulator, { ROLE_GROUPS: '{"ADMIN":["admin"]}' })
  t.teardown(async () => { await mapped.close() })
  const lower = await mapped.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.lowercase}` } })
  t.same(lower.json().roles, ['ADMIN'], 'the group "admin" now grants ADMIN')
  const upper = await mapped.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.admin}` } })
  t.same(upper.json().roles, [], 'and "ADMIN" no longer does')
})
