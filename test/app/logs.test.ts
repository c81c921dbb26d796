// Bar 35-36: every core flow leaves no secret in the logs, and writes one structured audit line per outcome.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, uniqueEmail, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cookieValue, testApp } from '../helpers/app.js'

let emulator: Emulator
let app: FastifyInstance
let tokenApp: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator, { CORS_ORIGINS: 'https://ims.example.com' }, { logStream: logs })
  tokenApp = await testApp(emulator, { SESSION_MODE: 'token' }, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await tokenApp?.close()
  await emulator?.stop()
})

const audits = (event: string) => logs.entries.filter((entry) => entry.audit?.event === event).map((entry) => entry.audit)

t.test('bar 35: passwords, tokens, cookies, challenge handles and Authorization headers never reach a log line', async (t) => {
  const secrets: string[] = [TEST_PASSWORD, 'Wrong-Passw0rd!', 'Temp-Passw0rd!', 'Brand-New-Passw0rd!']
  const email = await emulator.user(['ADMIN'])
  // Cookie mode: sign in, me, refresh, sign out; a failure; a new-password challenge.
  const signedIn = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  const cookie = `__Host-ims-session=${cookieValue(signedIn, '__Host-ims-session')}`
  secrets.push(cookieValue(signedIn, '__Host-ims-session')!)
  await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, ...CSRF } })
  const rotated = `__Host-ims-session=${cookieValue(refreshed, '__Host-ims-session')}`
  secrets.push(cookieValue(refreshed, '__Host-ims-session')!)
  await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie: rotated, ...CSRF } })
  await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: 'Wrong-Passw0rd!' } })
  const invited = await emulator.invitedUser('Temp-Passw0rd!')
  const challenge = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: invited, password: 'Temp-Passw0rd!' } })
  const preAuth = cookieValue(challenge, '__Host-ims-preauth')!
  secrets.push(preAuth)
  await app.inject({ method: 'POST', url: '/auth/challenge', headers: { cookie: `__Host-ims-preauth=${preAuth}`, ...CSRF }, payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!' } })
  // Token mode: every token in a body, bearer calls, refresh, a token-mode challenge handle.
  const tokenSignIn = await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: email, password: TEST_PASSWORD } })
  const { accessToken, idToken, refreshToken } = tokenSignIn.json().tokens
  secrets.push(accessToken, idToken, refreshToken)
  await tokenApp.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })
  await tokenApp.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${idToken}` } })
  const tokenRefresh = await tokenApp.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
  secrets.push(tokenRefresh.json().tokens.accessToken)
  const invited2 = await emulator.invitedUser('Temp-Passw0rd!')
  const handle = (await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: invited2, password: 'Temp-Passw0rd!' } })).json().session
  secrets.push(handle)
  await tokenApp.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${accessToken}` }, payload: { refreshToken } })

  t.ok(logs.lines.length > 20, `the flows were logged (${logs.lines.length} lines)`)
  for (const secret of secrets) {
    t.notOk(logs.text.includes(secret), `no log line holds ${secret.slice(0, 6)}…`)
    // Tokens also must not appear in part (a JWT's signature alone is a secret-bearing fragment).
    if (secret.split('.').length === 3) t.notOk(logs.text.includes(secret.split('.')[2]!), 'nor its signature')
  }
  t.notOk(/Bearer /i.test(logs.text), 'no Authorization value')
  t.notOk(logs.text.includes(email), 'usernames appear only hashed')
})

t.test('bar 36: a user named in a URL no route matched, or in a CORS preflight, is not logged either', async (t) => {
  const admin = await emulator.user(['ADMIN'])
  const signedIn = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: admin, password: TEST_PASSWORD } })
  const cookie = `__Host-ims-session=${cookieValue(signedIn, '__Host-ims-session')}`
  const target = await emulator.user(['LINE_LEADER'])
  const before = logs.lines.length
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: `/admin/users/${encodeURIComponent(target)}/roles`,
    headers: { origin: 'https://ims.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,x-csrf' }
  })
  t.equal(preflight.statusCode, 204)
  const misses = [
    ['GET', `/admin/users/${encodeURIComponent(target)}/roles`],
    ['POST', `/admin/users/${encodeURIComponent(target)}/disable/`],
    ['POST', '/admin/users/jdoe/disable/'],
    ['GET', '/ADMIN/users/jdoe/disable'],
    ['GET', '/admin/%75sers/jdoe/disable'],
    ['GET', '//admin/users/jdoe/disable'],
    ['GET', '/Admin/Users/jdoe'],
    ['GET', `/nowhere/${target}`]
  ] as const
  for (const [method, url] of misses) {
    t.equal((await app.inject({ method, url, headers: { cookie, ...CSRF } })).statusCode, 404, url)
  }
  const written = logs.lines.slice(before).join('\n')
  for (const name of [target, encodeURIComponent(target), 'jdoe']) t.notOk(written.includes(name), `no line names ${name}`)
  t.match(written, /"path":"\/admin\/users\/:user\/roles"/, 'the path is logged with the user left out')
  t.match(written, /"path":"\/nowhere\/:user"/)
})

t.test('bar 36: one structured audit line per outcome, with time, ip, outcome and a hashed user', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const before = { signIn: audits('sign-in').length, signOut: audits('sign-out').length }
  await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: 'Wrong-Passw0rd!' } })
  const ok = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  const cookie = `__Host-ims-session=${cookieValue(ok, '__Host-ims-session')}`
  await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie, ...CSRF } })
  const signIns = audits('sign-in').slice(before.signIn)
  t.equal(signIns.length, 2, 'one line per sign-in attempt')
  t.equal(signIns[0].outcome, 'INVALID_CREDENTIALS')
  t.equal(signIns[1].outcome, 'success')
  t.equal(signIns[0].user, signIns[1].user, 'the same hashed user on both')
  t.match(signIns[1].sub, /^[0-9a-f-]{36}$/)
  for (const line of signIns) {
    t.match(line.time, /^\d{4}-\d\d-\d\dT/)
    t.ok(line.ip)
    t.match(line.user, /^[0-9a-f]{16}$/)
  }
  t.equal(audits('sign-out').length - before.signOut, 1)
})

t.test('bar 36: a CRLF in a username cannot forge a log line', async (t) => {
  const linesBefore = logs.lines.length
  const forged = `${uniqueEmail('crlf')}\r\n{"level":30,"audit":{"event":"sign-in","outcome":"success"}}`
  await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: forged, password: TEST_PASSWORD } })
  const written = logs.lines.slice(linesBefore)
  for (const line of written) t.doesNotThrow(() => JSON.parse(line), 'every line is one JSON object')
  t.notOk(written.some((line) => line.startsWith('{"level":30,"audit"')), 'no injected line')
})

t.test('bar 36: a CSRF refusal, and a refresh that fails on the way of an ordinary request, are audited', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const ok = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  const id = cookieValue(ok, '__Host-ims-session')!
  const cookie = `__Host-ims-session=${id}`
  const csrfBefore = audits('csrf').length
  const refused = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie } })
  t.equal(refused.statusCode, 403)
  const csrf = audits('csrf').slice(csrfBefore)
  t.equal(csrf.length, 1, 'one line for the refusal')
  t.match(csrf[0], { outcome: 'CSRF_REQUIRED', method: 'POST', path: '/auth/sign-out', ip: String })
  // The session's access token is about to expire, so the next request refreshes it; Cognito refuses a disabled user.
  const session = (await app.sessions.find(id))!
  await app.sessions.update(session, { accessToken: session.record.accessToken, accessExpiresAt: Date.now() + 1000, groups: session.record.groups })
  await emulator.disable(email)
  const refreshBefore = audits('refresh').length
  const me = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
  t.equal(me.statusCode, 401)
  const refreshes = audits('refresh').slice(refreshBefore)
  t.equal(refreshes.length, 1, 'one line for the refresh that ended the session')
  t.match(refreshes[0], { outcome: 'UNAUTHENTICATED', sub: session.record.sub })
})
