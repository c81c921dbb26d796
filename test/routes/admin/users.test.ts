// /admin/users against a real cognito-local: listing with roles and paging, invitations, validation, guards, audit lines.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { AdminGetUserCommand, CreateGroupCommand } from '@aws-sdk/client-cognito-identity-provider'
import { startEmulator, TEST_PASSWORD, uniqueEmail, type Emulator } from '../../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp } from '../../helpers/app.js'
import { MAX_USERNAME_LENGTH } from '../../../src/routes/schemas.js'

/** Every temporary password cognito-local makes in this file. */
const TEMPORARY_PASSWORD = 'Temp-Passw0rd!'

let emulator: Emulator
let app: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  emulator = await startEmulator({ code: TEMPORARY_PASSWORD })
  app = await testApp(emulator, {}, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

/** Signs a fresh user of `groups` in and returns its cookie, sub and email. */
async function session (groups: string[]): Promise<{ cookie: string, sub: string, email: string }> {
  const email = await emulator.user(groups)
  const { cookie, response } = await signIn(app, email, TEST_PASSWORD)
  if (cookie === '') throw new Error(`sign-in failed: ${response.body}`)
  return { cookie, sub: response.json().user.sub, email }
}

interface Listed { sub: string, username: string, email: string, roles: string[], groups: string[], enabled: boolean, status: string }

/** Reads every page of a listing (bounded), checking each page's size. */
async function listAll (target: FastifyInstance, cookie: string, query: string, limit: number): Promise<{ users: Listed[], pages: number }> {
  const users: Listed[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const response = await target.inject({ method: 'GET', url: `/admin/users?limit=${limit}${query}${cursor === null ? '' : `&cursor=${cursor}`}`, headers: { cookie } })
    if (response.statusCode !== 200) throw new Error(`listing failed: ${response.body}`)
    const body = response.json() as { users: Listed[], nextCursor: string | null }
    if (body.users.length > limit) throw new Error(`a page of ${body.users.length} > ${limit}`)
    users.push(...body.users)
    cursor = body.nextCursor
    pages++
  } while (cursor !== null && pages < 500)
  return { users, pages }
}

t.test('GET /admin/users lists users with roles, groups, status, enabled, email, sub and username', async (t) => {
  const admin = await session(['ADMIN'])
  const leader = await emulator.user(['LINE_LEADER', 'MANAGER'])
  const disabled = await emulator.user(['MANAGER'])
  await emulator.disable(disabled)
  const { users } = await listAll(app, admin.cookie, '', 60)
  const found = users.find((u) => u.email === leader)
  t.ok(found, 'the user is listed')
  t.same(found!.roles, ['MANAGER', 'LINE_LEADER'])
  t.same(found!.groups, ['LINE_LEADER', 'MANAGER'])
  t.equal(found!.enabled, true)
  t.equal(found!.status, 'CONFIRMED')
  t.match(found!.sub, /^[0-9a-f-]{36}$/)
  t.equal(found!.username, found!.sub, 'with email sign-in the Cognito username is the sub')
  t.equal(users.find((u) => u.email === disabled)?.enabled, false)
  t.same(users.find((u) => u.sub === admin.sub)?.roles, ['ADMIN'])
})

t.test('GET /admin/users?role= filters by role and pages with a cursor, without gaps or repeats', async (t) => {
  const admin = await session(['ADMIN'])
  const leaders = [await emulator.user(['LINE_LEADER']), await emulator.user(['LINE_LEADER']), await emulator.user(['LINE_LEADER', 'ADMIN'])]
  const manager = await emulator.user(['MANAGER'])
  const { users, pages } = await listAll(app, admin.cookie, '&role=LINE_LEADER', 2)
  t.ok(pages >= 2, `several pages (${pages})`)
  t.equal(new Set(users.map((u) => u.sub)).size, users.length, 'no user twice')
  for (const email of leaders) t.ok(users.some((u) => u.email === email), `${email} listed`)
  t.notOk(users.some((u) => u.email === manager), 'a MANAGER is not a LINE_LEADER')
  t.ok(users.every((u) => u.roles.includes('LINE_LEADER')), 'everyone listed holds the role')

  const all = await listAll(app, admin.cookie, '', 3)
  t.equal(new Set(all.users.map((u) => u.sub)).size, all.users.length, 'the whole pool, no user twice')
  for (const email of [...leaders, manager]) t.ok(all.users.some((u) => u.email === email))
})

t.test('a role granted by two groups (ROLE_GROUPS) is listed across both groups, each user once', async (t) => {
  await emulator.client.send(new CreateGroupCommand({ UserPoolId: emulator.userPoolId, GroupName: 'ims-leaders' }))
  const mapped = await testApp(emulator, { ROLE_GROUPS: '{"LINE_LEADER": ["LINE_LEADER", "ims-leaders"]}' })
  t.teardown(async () => { await mapped.close() })
  const { cookie } = await signIn(mapped, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const inFirst = await emulator.user(['LINE_LEADER'])
  const inSecond = [await emulator.user(['ims-leaders']), await emulator.user(['ims-leaders'])]
  const inBoth = await emulator.user(['LINE_LEADER', 'ims-leaders'])
  const { users } = await listAll(mapped, cookie, '&role=LINE_LEADER', 2)
  for (const email of [inFirst, ...inSecond, inBoth]) t.equal(users.filter((u) => u.email === email).length, 1, `${email} listed once`)
  t.equal(new Set(users.map((u) => u.sub)).size, users.length, 'no user twice')
  t.same(users.find((u) => u.email === inSecond[0])?.roles, ['LINE_LEADER'])
})

t.test('a group ROLE_GROUPS names but the pool lacks (not created yet) lists no one, wherever it stands among the role\'s groups', async (t) => {
  const mapped = await testApp(emulator, { ROLE_GROUPS: '{"ADMIN": ["ims-admins-not-yet", "ADMIN", "ims-admins-later"]}' })
  t.teardown(async () => { await mapped.close() })
  const admin = await emulator.user(['ADMIN'])
  const { cookie } = await signIn(mapped, admin, TEST_PASSWORD)
  const { users, pages } = await listAll(mapped, cookie, '&role=ADMIN', 2)
  t.ok(pages >= 3, `every group was read (${pages} pages)`)
  t.equal(users.filter((u) => u.email === admin).length, 1, 'the ADMIN group\'s members are listed')
  t.ok(users.every((u) => u.roles.includes('ADMIN')))
})

t.test('GET /admin/users refuses a bad role, limit or cursor with 400', async (t) => {
  const admin = await session(['ADMIN'])
  for (const query of ['role=admin', 'role=OWNER', 'limit=0', 'limit=61', 'limit=ten', 'cursor=%2F%2F', 'cursor=bm90LWpzb24', 'other=1']) {
    const response = await app.inject({ method: 'GET', url: `/admin/users?${query}`, headers: { cookie: admin.cookie } })
    t.equal(response.statusCode, 400, query)
    t.equal(response.json().error, 'VALIDATION_ERROR')
  }
  const first = await app.inject({ method: 'GET', url: '/admin/users?limit=1&role=MANAGER', headers: { cookie: admin.cookie } })
  const cursor = first.json().nextCursor as string | null
  if (cursor !== null) {
    const misused = await app.inject({ method: 'GET', url: `/admin/users?limit=1&role=ADMIN&cursor=${cursor}`, headers: { cookie: admin.cookie } })
    t.equal(misused.statusCode, 400, 'a cursor of one listing is refused by another')
  }
})

t.test('POST /admin/users invites a user with roles; it signs in with the temporary password to a new-password challenge', async (t) => {
  const admin = await session(['ADMIN'])
  const email = uniqueEmail('Invited').replace('invited', 'InViTeD')
  const response = await app.inject({ method: 'POST', url: '/admin/users', headers: CSRF_WITH(admin.cookie), payload: { email, roles: ['MANAGER', 'LINE_LEADER'] } })
  t.equal(response.statusCode, 201)
  const user = response.json()
  t.equal(user.email, email.toLowerCase())
  t.same(user.roles, ['MANAGER', 'LINE_LEADER'])
  t.equal(user.primaryRole, 'MANAGER')
  t.equal(user.status, 'FORCE_CHANGE_PASSWORD')
  t.equal(user.enabled, true)
  const first = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email.toLowerCase(), password: TEMPORARY_PASSWORD } })
  t.equal(first.statusCode, 200)
  t.equal(first.json().status, 'CHALLENGE')
  t.equal(first.json().challenge, 'NEW_PASSWORD_REQUIRED')

  const again = await app.inject({ method: 'POST', url: '/admin/users', headers: CSRF_WITH(admin.cookie), payload: { email: email.toLowerCase(), roles: [] } })
  t.equal(again.statusCode, 409)
  t.equal(again.json().error, 'USERNAME_EXISTS')

  const line = logs.entries.find((e) => e.audit?.event === 'admin.create-user' && e.audit?.target === user.sub)
  t.ok(line, 'an audit line for the creation')
  t.equal(line!.audit.sub, admin.sub, 'who')
  t.equal(line!.audit.outcome, 'success')
  t.same(line!.audit.roles, ['MANAGER', 'LINE_LEADER'], 'what')
  t.match(line!.audit.user, /^[0-9a-f]{16}$/, 'whom, by hashed email')
  t.notOk(logs.text.toLowerCase().includes(email.toLowerCase()), 'the email never appears in clear')
  t.ok(logs.entries.some((e) => e.audit?.event === 'admin.create-user' && e.audit?.outcome === 'USERNAME_EXISTS' && e.audit?.sub === admin.sub), 'the refusal is audited too')
})

/** The headers of an unsafe cookie request. */
function CSRF_WITH (cookie: string): Record<string, string> {
  return { ...CSRF, cookie }
}

t.test('POST /admin/users refuses bad bodies with 400', async (t) => {
  const admin = await session(['ADMIN'])
  for (const payload of [
    { email: 'not-an-email', roles: [] },
    { email: uniqueEmail(), roles: ['admin'] },
    { email: uniqueEmail(), roles: ['ADMIN', 'ADMIN'] },
    { email: uniqueEmail() },
    { email: uniqueEmail(), roles: [], password: 'x' }
  ].map((body) => JSON.stringify(body)).concat(`{"email":"${uniqueEmail()}","roles":[],"__proto__":{"admin":true}}`)) {
    const response = await app.inject({ method: 'POST', url: '/admin/users', headers: { ...CSRF_WITH(admin.cookie), 'content-type': 'application/json' }, payload })
    t.equal(response.statusCode, 400, payload)
    t.equal(response.json().error, 'VALIDATION_ERROR')
  }
  const text = await app.inject({ method: 'POST', url: '/admin/users', headers: { ...CSRF_WITH(admin.cookie), 'content-type': 'text/plain' }, payload: 'email=x' })
  t.equal(text.statusCode, 415)
})

t.test('every email POST /admin/users accepts can name its user on the per-user routes; a longer one is refused', async (t) => {
  const admin = await session(['ADMIN'])
  // As long as Cognito allows a username (128), with characters the URL must escape: the router counts them decoded.
  const email = uniqueEmail(`night+shift/${'l'.repeat(MAX_USERNAME_LENGTH - 30)}`)
  t.equal(email.length, MAX_USERNAME_LENGTH)
  const created = await app.inject({ method: 'POST', url: '/admin/users', headers: CSRF_WITH(admin.cookie), payload: { email, roles: ['LINE_LEADER'] } })
  t.equal(created.statusCode, 201)
  const path = `/admin/users/${encodeURIComponent(email)}`
  t.ok(path.length - '/admin/users/'.length > MAX_USERNAME_LENGTH, 'longer than that in the URL')
  for (const [method, action, payload, check] of [
    ['PUT', 'roles', { roles: ['MANAGER'] }, { roles: ['MANAGER'] }],
    ['POST', 'disable', undefined, { enabled: false }],
    ['POST', 'enable', undefined, { enabled: true }],
    ['POST', 'sign-out', undefined, { status: 'SIGNED_OUT' }]
  ] as const) {
    const response = await app.inject({ method, url: `${path}/${action}`, headers: CSRF_WITH(admin.cookie), ...(payload === undefined ? {} : { payload }) })
    t.equal(response.statusCode, 200, `${method} ${action} by email`)
    t.match(response.json(), check)
  }

  const longer = await app.inject({ method: 'POST', url: '/admin/users', headers: CSRF_WITH(admin.cookie), payload: { email: `l${email}`, roles: [] } })
  t.equal(longer.statusCode, 400, 'an email Cognito could not take as a username is refused')
  t.equal(longer.json().error, 'VALIDATION_ERROR')
  await t.rejects(emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: `l${email}` })), 'and not created')
  const unnamed = await app.inject({ method: 'POST', url: `/admin/users/l${encodeURIComponent(email)}/sign-out`, headers: CSRF_WITH(admin.cookie) })
  t.equal(unnamed.statusCode, 400)
  t.equal(unnamed.json().error, 'VALIDATION_ERROR')
})

t.test('an unknown user is 404 NOT_FOUND on every per-user route', async (t) => {
  const admin = await session(['ADMIN'])
  const ghost = uniqueEmail('ghost')
  for (const [method, url, payload] of [
    ['PUT', `/admin/users/${ghost}/roles`, { roles: ['MANAGER'] }],
    ['POST', `/admin/users/${ghost}/disable`, undefined],
    ['POST', `/admin/users/${ghost}/enable`, undefined],
    ['POST', '/admin/users/00000000-0000-4000-8000-000000000000/sign-out', undefined]
  ] as const) {
    const response = await app.inject({ method, url, headers: CSRF_WITH(admin.cookie), ...(payload === undefined ? {} : { payload }) })
    t.equal(response.statusCode, 404, `${method} ${url}`)
    t.equal(response.json().error, 'NOT_FOUND')
  }
})

t.test('bar 8: every admin route refuses MANAGER and LINE_LEADER with 403 (and a stranger with 401); nothing changes', async (t) => {
  const target = await emulator.user(['LINE_LEADER'])
  const newcomer = uniqueEmail('refused')
  const routes = [
    ['GET', '/admin/users', undefined],
    ['POST', '/admin/users', { email: newcomer, roles: ['ADMIN'] }],
    ['PUT', `/admin/users/${target}/roles`, { roles: ['ADMIN'] }],
    ['POST', `/admin/users/${target}/disable`, undefined],
    ['POST', `/admin/users/${target}/enable`, undefined],
    ['POST', `/admin/users/${target}/sign-out`, undefined]
  ] as const
  for (const role of ['MANAGER', 'LINE_LEADER']) {
    const caller = await session([role])
    const email = await emulator.user([role])
    const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
    for (const [method, url, payload] of routes) {
      const byCookie = await app.inject({ method, url, headers: CSRF_WITH(caller.cookie), ...(payload === undefined ? {} : { payload }) })
      t.equal(byCookie.statusCode, 403, `${role} ${method} ${url}`)
      t.equal(byCookie.json().error, 'FORBIDDEN')
      const byBearer = await app.inject({ method, url, headers: { authorization: `Bearer ${accessToken}` }, ...(payload === undefined ? {} : { payload }) })
      t.equal(byBearer.statusCode, 403, `${role} bearer ${method} ${url}`)
    }
    t.ok(logs.entries.some((e) => e.audit?.outcome === 'forbidden' && e.audit?.sub === caller.sub), 'refusals are audited')
    const malformed = await app.inject({ method: 'POST', url: '/admin/users', headers: CSRF_WITH(caller.cookie), payload: { nonsense: true } })
    t.equal(malformed.statusCode, 403, `${role}: a malformed body is still 403, so the route's schema is not revealed`)
  }
  for (const [method, url, payload] of routes) {
    const stranger = await app.inject({ method, url, headers: CSRF, ...(payload === undefined ? {} : { payload }) })
    t.equal(stranger.statusCode, 401, `no session ${method} ${url}`)
  }
  await t.rejects(emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: newcomer })), 'no user was created')
  const still = await signIn(app, target, TEST_PASSWORD)
  t.same(still.response.json().user.roles, ['LINE_LEADER'], 'the target is untouched: enabled, same roles')
})

t.test('each admin route works for ADMIN, by cookie and by bearer token', async (t) => {
  const admin = await session(['ADMIN'])
  const { accessToken } = await cognitoTokens(app, admin.email, TEST_PASSWORD)
  const target = await emulator.user(['LINE_LEADER'])
  const bearer = { authorization: `Bearer ${accessToken}` }
  const list = await app.inject({ method: 'GET', url: '/admin/users?role=LINE_LEADER', headers: bearer })
  t.equal(list.statusCode, 200)
  const roles = await app.inject({ method: 'PUT', url: `/admin/users/${target}/roles`, headers: bearer, payload: { roles: ['MANAGER'] } })
  t.equal(roles.statusCode, 200)
  t.same(roles.json().roles, ['MANAGER'])
  const disable = await app.inject({ method: 'POST', url: `/admin/users/${target}/disable`, headers: CSRF_WITH(admin.cookie) })
  t.equal(disable.statusCode, 200)
  t.equal(disable.json().enabled, false)
  const enable = await app.inject({ method: 'POST', url: `/admin/users/${target}/enable`, headers: CSRF_WITH(admin.cookie), payload: {} })
  t.equal(enable.statusCode, 200)
  t.equal(enable.json().enabled, true)
  const signOut = await app.inject({ method: 'POST', url: `/admin/users/${target}/sign-out`, headers: bearer })
  t.equal(signOut.statusCode, 200)
  t.same(signOut.json(), { status: 'SIGNED_OUT', cognitoGlobalSignOut: false }, 'the emulator cannot revoke tokens held elsewhere, and says so')
  const csrfLess = await app.inject({ method: 'POST', url: `/admin/users/${target}/sign-out`, headers: { cookie: admin.cookie } })
  t.equal(csrfLess.statusCode, 403)
  t.equal(csrfLess.json().error, 'CSRF_REQUIRED')
  for (const event of ['admin.list-users', 'admin.set-roles', 'admin.disable-user', 'admin.enable-user', 'admin.sign-out-user']) {
    t.ok(logs.entries.some((e) => e.audit?.event === event && e.audit?.sub === admin.sub && e.audit?.outcome === 'success'), `${event} audited`)
  }
})
