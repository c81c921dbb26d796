// Bar 8 through the exported guard: any IMS Fastify service checks roles from bearer tokens alone, exact-case groups.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { CreateGroupCommand } from '@aws-sdk/client-cognito-identity-provider'
import { imsAuth, requireRole, requireUser } from '../../src/index.js'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { cognitoTokens, testApp } from '../helpers/app.js'
import { ownRedis, redisLink, replicate, SHARED_REDIS_URL } from '../helpers/redis.js'

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

/**
 * The adapter on the Redis store at `adapterRedis`, a service (imsAuth, a LINE_LEADER route at /tasks) reading
 * revocations at `serviceRedis`, and a LINE_LEADER's access token; all closed after `t`.
 */
async function adapterAndService (t: Test, adapterRedis: string, serviceRedis: string): Promise<{ adapter: FastifyInstance, watching: FastifyInstance, accessToken: string, bearer: { authorization: string } }> {
  const adapter = await testApp(emulator, { SESSION_STORE: 'redis', REDIS_URL: adapterRedis, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') })
  const watching = Fastify({ logger: false })
  await watching.register(imsAuth, { userPoolId: emulator.userPoolId, clientId: emulator.clientId, endpoint: emulator.endpoint, redisUrl: serviceRedis })
  watching.get('/tasks', { preHandler: requireRole('LINE_LEADER') }, async () => ({ tasks: [] }))
  await watching.ready()
  t.teardown(async () => { await watching.close(); await adapter.close() })
  const { accessToken } = await cognitoTokens(adapter, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
  return { adapter, watching, accessToken, bearer: { authorization: `Bearer ${accessToken}` } }
}

t.test('a service given the adapter\'s Redis refuses at once a token the adapter revoked; without it, the token lives on', async (t) => {
  const { adapter, watching, accessToken, bearer } = await adapterAndService(t, SHARED_REDIS_URL, SHARED_REDIS_URL)
  t.equal((await watching.inject({ url: '/tasks', headers: bearer })).statusCode, 200, 'before the sign-out')
  t.equal((await adapter.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer, payload: {} })).statusCode, 204)
  const after = await watching.inject({ url: '/tasks', headers: bearer })
  t.equal(after.statusCode, 401, 'the very next request after the sign-out')
  t.equal(after.json().error, 'UNAUTHENTICATED')
  t.equal((await call('GET', '/tasks', accessToken)).statusCode, 200, 'a service without the Redis cannot know')
})

t.test('a service may read revocations from a replica (the reader endpoint) as a user who may only read and listen', async (t) => {
  const primary = await ownRedis()
  const replica = await ownRedis({ settings: ['--user', 'reader', 'on', '>reader-Pass-1', '~ims:*', '&ims:*', '+@read', '+@pubsub', '+@connection', '+info'] })
  t.teardown(async () => { await replica.kill(); await primary.kill() })
  await replicate(replica, primary.port)
  const { adapter, watching, bearer } = await adapterAndService(t, primary.url, `redis://reader:reader-Pass-1@127.0.0.1:${replica.port}`)
  t.equal((await watching.inject({ url: '/tasks', headers: bearer })).statusCode, 200, 'the service started, and serves the token')
  t.equal((await adapter.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer, payload: {} })).statusCode, 204)
  // The sign-out reaches the replica as fast as replication runs, which is not the adapter's to bound.
  let after = await watching.inject({ url: '/tasks', headers: bearer })
  for (let attempt = 0; attempt < 50 && after.statusCode === 200; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    after = await watching.inject({ url: '/tasks', headers: bearer })
  }
  t.equal(after.statusCode, 401, 'the sign-out reaches it through the replica')
})

t.test('a service reading a replica that stops hearing from its primary answers 503 within seconds, then refuses what was revoked meanwhile', async (t) => {
  const primary = await ownRedis()
  const replica = await ownRedis()
  // The replica follows the primary through a link that can go silent (no FIN, no RST), as a lost network path does.
  const link = await redisLink({ port: primary.port })
  t.teardown(async () => { link.heal(); await link.close(); await replica.kill(); await primary.kill() })
  await replicate(replica, Number(new URL(link.url).port))
  const { adapter, watching, bearer } = await adapterAndService(t, primary.url, replica.url)
  t.equal((await watching.inject({ url: '/tasks', headers: bearer })).statusCode, 200, 'before the sign-out')
  link.cut()
  const cutAt = Date.now()
  t.equal((await adapter.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer, payload: {} })).statusCode, 204)
  // The replica still answers at once, but never hears of the sign-out: the service must stop trusting it, within the
  // 12 s a primary may stay silent towards a replica that follows it, and a check a second.
  let answer = await watching.inject({ url: '/tasks', headers: bearer })
  while (answer.statusCode === 200 && Date.now() - cutAt < 16_000) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    answer = await watching.inject({ url: '/tasks', headers: bearer })
  }
  t.equal(answer.statusCode, 503, `the service fails closed ${Date.now() - cutAt} ms after the link went silent`)
  t.equal(answer.json().error, 'UPSTREAM_UNAVAILABLE')
  t.ok(Number(answer.headers['retry-after']) > 0, 'with Retry-After')

  link.heal()
  const seen: number[] = []
  for (let attempt = 0; attempt < 40 && answer.statusCode !== 401; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    answer = await watching.inject({ url: '/tasks', headers: bearer })
    seen.push(answer.statusCode)
  }
  t.equal(answer.statusCode, 401, 'once the replica has caught up, the signed-out token is refused')
  t.notOk(seen.includes(200), `and it was never let through meanwhile (${seen.join(' ')})`)
})

t.test('a service with its own 404 and error handlers may use the plugin in an encapsulated scope or at the root', async (t) => {
  const options = { userPoolId: emulator.userPoolId, clientId: emulator.clientId, endpoint: emulator.endpoint }
  const scoped = Fastify({ logger: false })
  t.teardown(async () => { await scoped.close() })
  scoped.setNotFoundHandler((_request, reply) => { void reply.code(404).send({ own: 'not found' }) })
  await scoped.register(async (scope) => {
    await scope.register(imsAuth, options)
    scope.get('/plans', { preHandler: requireRole('ADMIN', 'MANAGER') }, async () => ({ plans: [] }))
  })
  scoped.get('/status', async () => { throw new Error('the service\'s own failure') })
  scoped.setErrorHandler((_error, _request, reply) => { void reply.code(500).send({ own: 'error' }) })
  await scoped.ready()
  t.equal((await scoped.inject({ url: '/plans', headers: { authorization: `Bearer ${tokens.manager!}` } })).statusCode, 200)
  const refused = await scoped.inject({ url: '/plans', headers: { authorization: `Bearer ${tokens.leader!}` } })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().error, 'FORBIDDEN', 'the contract\'s body inside the scope')
  t.same((await scoped.inject({ url: '/nowhere' })).json(), { own: 'not found' }, 'the service\'s own 404')
  t.same((await scoped.inject({ url: '/status' })).json(), { own: 'error' }, 'the service\'s own error handler outside the scope')

  const rooted = Fastify({ logger: false })
  t.teardown(async () => { await rooted.close() })
  rooted.setNotFoundHandler((_request, reply) => { void reply.code(404).send({ own: 'not found' }) })
  await rooted.register(imsAuth, options)
  rooted.get('/plans', { preHandler: requireRole('ADMIN', 'MANAGER') }, async () => ({ plans: [] }))
  await rooted.ready()
  t.equal((await rooted.inject({ url: '/plans' })).json().error, 'UNAUTHENTICATED')
  t.same((await rooted.inject({ url: '/nowhere' })).json(), { own: 'not found' }, 'a 404 handler set before the plugin stays')
})

t.test('a grace past exp beyond 60 s (bar 4) stops the service at registration, naming the option', async (t) => {
  for (const graceSeconds of [61, 3600, -1, 1.5]) {
    const lenient = Fastify({ logger: false })
    t.teardown(async () => { await lenient.close() })
    await t.rejects(async () => {
      await lenient.register(imsAuth, { userPoolId: emulator.userPoolId, clientId: emulator.clientId, endpoint: emulator.endpoint, graceSeconds })
      await lenient.ready()
    }, { message: /graceSeconds must be a whole number of seconds from 0 to 60/ }, String(graceSeconds))
  }
})
