// Sign-in and challenges through the app against a real cognito-local: roles, cookies, uniform failures, new password.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, uniqueEmail, type Emulator } from '../../helpers/emulator.js'
import { CSRF, cookieValue, setCookies, signIn, testApp } from '../../helpers/app.js'

let emulator: Emulator
let app: FastifyInstance
let tokenApp: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator)
  tokenApp = await testApp(emulator, { SESSION_MODE: 'token' })
})
t.teardown(async () => {
  await app?.close()
  await tokenApp?.close()
  await emulator?.stop()
})

t.test('each role signs in and sees its roles', async (t) => {
  for (const [group, primary] of [['ADMIN', 'ADMIN'], ['MANAGER', 'MANAGER'], ['LINE_LEADER', 'LINE_LEADER']] as const) {
    const email = await emulator.user([group])
    const { cookie, response } = await signIn(app, email, TEST_PASSWORD)
    t.equal(response.statusCode, 200)
    const body = response.json()
    t.equal(body.status, 'SIGNED_IN')
    t.equal(body.user.email, email)
    t.same(body.user.roles, [primary])
    t.equal(body.user.primaryRole, primary)
    t.same(body.user.groups, [group])
    t.notOk(JSON.stringify(body).includes('eyJ'), 'no token in a cookie-mode body')
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
    t.equal(me.statusCode, 200)
    t.same(me.json(), body.user)
  }
})

t.test('a user in several groups gets every role, highest first; no mapped group gives no role', async (t) => {
  const both = await emulator.user(['LINE_LEADER', 'MANAGER'])
  const { response } = await signIn(app, both, TEST_PASSWORD)
  t.same(response.json().user.roles, ['MANAGER', 'LINE_LEADER'])
  t.equal(response.json().user.primaryRole, 'MANAGER')
  const none = await emulator.user([])
  const plain = await signIn(app, none, TEST_PASSWORD)
  t.same(plain.response.json().user.roles, [])
  t.equal(plain.response.json().user.primaryRole, null)
})

t.test('bar 24: the session cookie has the contract attributes and a 256-bit random value', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { response } = await signIn(app, email, TEST_PASSWORD)
  const line = setCookies(response).find((c) => c.startsWith('__Host-ims-session='))!
  t.match(line, /; Path=\//)
  t.match(line, /; HttpOnly/)
  t.match(line, /; Secure/)
  t.match(line, /; SameSite=Strict/)
  t.notMatch(line, /Domain=/i)
  t.ok(line.length < 4096)
  t.match(cookieValue(response, '__Host-ims-session'), /^[A-Za-z0-9_-]{43}$/)
})

t.test('bar 19: unknown user, wrong password and disabled user get one and the same 401 body', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const disabled = await emulator.user(['MANAGER'])
  await emulator.disable(disabled)
  const answers = []
  for (const [username, password] of [[uniqueEmail('ghost'), TEST_PASSWORD], [email, 'Wrong-Passw0rd!'], [disabled, TEST_PASSWORD]]) {
    const response = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username, password } })
    t.equal(response.statusCode, 401)
    t.notOk(cookieValue(response, '__Host-ims-session'), 'no session')
    const { requestId, ...rest } = response.json()
    t.ok(requestId)
    answers.push(rest)
  }
  t.same(answers[0], { error: 'INVALID_CREDENTIALS', message: 'The username or password is incorrect.' })
  t.same(answers[1], answers[0])
  t.same(answers[2], answers[0])
})

t.test('bar 13: sign-in issues a fresh session id, never one the client planted, and ends the previous one', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const first = await signIn(app, email, TEST_PASSWORD)
  const planted = 'A'.repeat(43)
  const second = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, cookie: `__Host-ims-session=${planted}` }, payload: { username: email, password: TEST_PASSWORD } })
  t.not(cookieValue(second, '__Host-ims-session'), planted)
  const again = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, cookie: first.cookie }, payload: { username: email, password: TEST_PASSWORD } })
  t.not(`__Host-ims-session=${cookieValue(again, '__Host-ims-session')}`, first.cookie)
  const old = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: first.cookie } })
  t.equal(old.statusCode, 401, 'the session the browser had before is gone')
})

t.test('NEW_PASSWORD_REQUIRED for an admin-created user, end to end in cookie mode', async (t) => {
  const email = await emulator.invitedUser('Temp-Passw0rd!', ['LINE_LEADER'])
  const first = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: 'Temp-Passw0rd!' } })
  t.equal(first.statusCode, 200)
  t.same(first.json(), { status: 'CHALLENGE', challenge: 'NEW_PASSWORD_REQUIRED' }, 'no Cognito session in the body')
  const preAuth = cookieValue(first, '__Host-ims-preauth')
  t.ok(preAuth, 'the challenge is bound to a pre-auth cookie')
  t.notOk(cookieValue(first, '__Host-ims-session'))

  const meDuring = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: `__Host-ims-preauth=${preAuth}` } })
  t.equal(meDuring.statusCode, 401, 'bar 11: /auth/me during a pending challenge')

  const otherJar = await app.inject({ method: 'POST', url: '/auth/challenge', headers: CSRF, payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!' } })
  t.equal(otherJar.statusCode, 401, 'bar 11: answering from another cookie jar')

  const wrongStep = await app.inject({ method: 'POST', url: '/auth/challenge', headers: { ...CSRF, cookie: `__Host-ims-preauth=${preAuth}` }, payload: { challenge: 'SOFTWARE_TOKEN_MFA', answer: '123456' } })
  t.equal(wrongStep.statusCode, 401, 'bar 11: skipping a step ends the challenge')
  t.equal(wrongStep.json().error, 'UNAUTHENTICATED')

  const restart = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: 'Temp-Passw0rd!' } })
  const restartCookie = `__Host-ims-preauth=${cookieValue(restart, '__Host-ims-preauth')}`
  const done = await app.inject({ method: 'POST', url: '/auth/challenge', headers: { ...CSRF, cookie: restartCookie }, payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!' } })
  t.equal(done.statusCode, 200)
  t.equal(done.json().status, 'SIGNED_IN')
  t.same(done.json().user.roles, ['LINE_LEADER'])
  t.ok(cookieValue(done, '__Host-ims-session'))

  const replay = await app.inject({ method: 'POST', url: '/auth/challenge', headers: { ...CSRF, cookie: restartCookie }, payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Another-Passw0rd!' } })
  t.equal(replay.statusCode, 401, 'a challenge is answered once')

  const withNew = await signIn(app, email, 'Brand-New-Passw0rd!')
  t.equal(withNew.response.json().status, 'SIGNED_IN', 'the new password works')
})

t.test('token mode: tokens in the body, challenge handle instead of a cookie', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const response = await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: email, password: TEST_PASSWORD } })
  t.equal(response.statusCode, 200)
  const { tokens, user } = response.json()
  t.same(user.roles, ['MANAGER'])
  t.ok(tokens.accessToken && tokens.idToken && tokens.refreshToken)
  t.ok(tokens.expiresIn > 0)
  t.notOk(cookieValue(response, '__Host-ims-session'), 'no cookie in token mode')
  const me = await tokenApp.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.accessToken}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().email, email, 'the email is looked up for bearer callers')

  const refreshed = await tokenApp.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: tokens.refreshToken } })
  t.equal(refreshed.statusCode, 200)
  t.equal(refreshed.json().status, 'REFRESHED')
  t.ok(refreshed.json().tokens.accessToken)

  const invited = await emulator.invitedUser('Temp-Passw0rd!')
  const challenge = await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: invited, password: 'Temp-Passw0rd!' } })
  t.equal(challenge.json().challenge, 'NEW_PASSWORD_REQUIRED')
  t.match(challenge.json().session, /^[A-Za-z0-9_-]{43}$/, 'an opaque handle, not the Cognito session')
  const answered = await tokenApp.inject({ method: 'POST', url: '/auth/challenge', payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!', session: challenge.json().session } })
  t.equal(answered.json().status, 'SIGNED_IN')
  t.ok(answered.json().tokens.accessToken)
})

t.test('a user disabled while their challenge is pending gets no session (cognito-local answers them; real Cognito does not)', async (t) => {
  const invited = await emulator.invitedUser('Temp-Passw0rd!', ['LINE_LEADER'])
  const first = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: invited, password: 'Temp-Passw0rd!' } })
  t.equal(first.json().challenge, 'NEW_PASSWORD_REQUIRED')
  await emulator.disable(invited)
  const answer = await app.inject({
    method: 'POST', url: '/auth/challenge', headers: { ...CSRF, cookie: `__Host-ims-preauth=${cookieValue(first, '__Host-ims-preauth')}` }, payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!' }
  })
  t.equal(answer.statusCode, 401)
  t.equal(answer.json().error, 'UNAUTHENTICATED')
  t.notOk(cookieValue(answer, '__Host-ims-session'), 'no session cookie')
})

t.test('a challenge begun before the user\'s sessions were ended (an admin sign-out, a reset) gives no session when answered after', async (t) => {
  const adminEmail = await emulator.user(['ADMIN'])
  const adminCookie = (await signIn(app, adminEmail, TEST_PASSWORD)).cookie
  const adminToken = (await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: adminEmail, password: TEST_PASSWORD } })).json().tokens.accessToken
  for (const target of [app, tokenApp]) {
    const invited = await emulator.invitedUser('Temp-Passw0rd!', ['LINE_LEADER'])
    const first = await target.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: invited, password: 'Temp-Passw0rd!' } })
    t.equal(first.json().challenge, 'NEW_PASSWORD_REQUIRED')
    const adminCredentials = target === app ? { ...CSRF, cookie: adminCookie } : { authorization: `Bearer ${adminToken}` }
    const ended = await target.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(invited)}/sign-out`, headers: adminCredentials })
    t.equal(ended.statusCode, 200, 'an ADMIN signs the user out everywhere')
    const answer = await target.inject({
      method: 'POST',
      url: '/auth/challenge',
      headers: { ...CSRF, cookie: `__Host-ims-preauth=${cookieValue(first, '__Host-ims-preauth')}` },
      payload: { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!', ...(target === tokenApp ? { session: first.json().session } : {}) }
    })
    t.equal(answer.statusCode, 401, target === app ? 'cookie mode' : 'token mode')
    t.equal(answer.json().error, 'UNAUTHENTICATED')
    t.notOk(cookieValue(answer, '__Host-ims-session'), 'no session cookie')
    t.notOk(answer.json().tokens, 'no tokens')
    // Once the sign-out has passed, the user signs in afresh.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    t.equal((await target.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: invited, password: 'Brand-New-Passw0rd!' } })).statusCode, 200, 'a new sign-in works')
  }
})
