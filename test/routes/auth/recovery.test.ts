// Password recovery through the app against cognito-local (fixed code): uniform answers and timing, codes, rules, sessions, logs.
import t from 'tap'
import { payloadOf } from '../../helpers/jwt.js'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, uniqueEmail, type Emulator } from '../../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, cookieValue, signIn, testApp } from '../../helpers/app.js'
import { TEST_SESSION_KEY, median, throttlingCognito, unconfirmedUser, waitForAudit } from '../../helpers/recovery.js'

const CODE = '123456'
const ENV = { SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, AUTH_IP_LIMIT: '100000' }

let emulator: Emulator
let app: FastifyInstance
let logs: LogCapture

t.before(async () => {
  emulator = await startEmulator({ code: CODE })
  logs = new LogCapture()
  app = await testApp(emulator, ENV, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

const post = async (url: string, payload: object, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  await app.inject({ method: 'POST', url, payload, headers })

/** The error body without its request id. */
const errorOf = (response: LightMyRequestResponse): Record<string, unknown> => {
  const { requestId, ...rest } = response.json()
  return rest
}

/** Asks for a reset code and waits until Cognito has sent it. */
async function requestCode (username: string, sends = 1): Promise<void> {
  const response = await post('/auth/forgot-password', { username })
  if (response.statusCode !== 202) throw new Error(`forgot-password answered ${response.statusCode}`)
  await waitForAudit(logs, 'forgot-password', 'sent', username, sends)
}

t.test('bar 18: forgot-password and resend-code answer one 202 body for every kind of user, medians within 50 ms', async (t) => {
  const ROUNDS = 30
  const make = async (n: number, f: () => Promise<string>): Promise<string[]> => { const out = []; for (let i = 0; i < n; i++) out.push(await f()); return out }
  const throttled = await emulator.user([])
  for (let i = 0; i < 3; i++) await post('/auth/forgot-password', { username: throttled })
  const cases: Record<string, string[]> = {
    known: await make(ROUNDS, async () => await emulator.user([])),
    unknown: await make(ROUNDS, async () => uniqueEmail('ghost')),
    unconfirmed: await make(ROUNDS, async () => await unconfirmedUser(emulator)),
    disabled: await make(ROUNDS, async () => { const email = await emulator.user([]); await emulator.disable(email); return email }),
    throttled: Array.from({ length: ROUNDS }, () => throttled)
  }
  for (const url of ['/auth/forgot-password', '/auth/resend-code']) {
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((name) => [name, []]))
    const answers = new Set<string>()
    for (let round = 0; round < ROUNDS; round++) {
      // One request of each kind at once per round, so load and drift hit every kind alike.
      const kinds = Object.keys(cases)
      const order = [...kinds.slice(round % kinds.length), ...kinds.slice(0, round % kinds.length)]
      // Each kind takes each place in the batch equally often, so a place's cost does not favour one kind.
      await Promise.all(order.map(async (name) => {
        const users = cases[name]!
        const started = performance.now()
        const response = await post(url, { username: users[round]! })
        times[name]!.push(performance.now() - started)
        answers.add(`${response.statusCode} ${response.headers['content-type']} ${response.headers['content-length']} ${response.body}`)
      }))
    }
    t.same([...answers], ['202 application/json; charset=utf-8 22 {"status":"CODE_SENT"}'], `${url}: one status and body, byte for byte`)
    const medians = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, Math.round(median(values) * 10) / 10]))
    t.comment(`${url} median ms over ${ROUNDS} requests per kind: ${JSON.stringify(medians)}`)
    const spread = Math.max(...Object.values(medians)) - Math.min(...Object.values(medians))
    t.ok(spread <= 50, `${url}: medians within 50 ms (spread ${spread.toFixed(1)} ms)`)
  }
})

t.test('bar 22: beyond 3 forgot-password requests per account per hour the answer stays 202 but no code is sent', async (t) => {
  const email = await emulator.user([])
  await requestCode(email, 1)
  await requestCode(email, 2)
  await requestCode(email, 3)
  const reset = await post('/auth/verify-otp', { username: email, code: CODE, newPassword: 'Fresh-Passw0rd!' })
  t.equal(reset.statusCode, 200, 'the third code arrived and works')
  // The fourth request, typed differently, counts against the same normalised username.
  const fourth = await post('/auth/forgot-password', { username: `  ${email.toUpperCase()} ` })
  t.equal(fourth.statusCode, 202)
  t.equal(fourth.body, '{"status":"CODE_SENT"}')
  const noCode = await post('/auth/verify-otp', { username: email, code: CODE, newPassword: 'Other-Passw0rd!' })
  t.equal(noCode.statusCode, 400, 'no new code was sent, so none works')
  t.equal(noCode.json().error, 'INVALID_CODE')
})

t.test('bar 20: wrong, used and absent codes, unknown and already-confirmed users get one INVALID_CODE', async (t) => {
  const wrong = await emulator.user([])
  await requestCode(wrong)
  const used = await emulator.user([])
  await requestCode(used)
  t.equal((await post('/auth/verify-otp', { username: used, code: CODE, newPassword: 'Fresh-Passw0rd!' })).statusCode, 200)
  const neverAsked = await emulator.user([])
  const unconfirmed = await unconfirmedUser(emulator)
  const confirmedTwice = await unconfirmedUser(emulator)
  t.equal((await post('/auth/confirm-sign-up', { username: confirmedTwice, code: CODE })).statusCode, 200)

  const answers = [
    await post('/auth/verify-otp', { username: wrong, code: '000000', newPassword: 'Fresh-Passw0rd!' }),
    await post('/auth/verify-otp', { username: used, code: CODE, newPassword: 'Other-Passw0rd!' }),
    await post('/auth/verify-otp', { username: neverAsked, code: CODE, newPassword: 'Fresh-Passw0rd!' }),
    await post('/auth/verify-otp', { username: uniqueEmail('ghost'), code: CODE, newPassword: 'Fresh-Passw0rd!' }),
    await post('/auth/confirm-sign-up', { username: unconfirmed, code: '000000' }),
    await post('/auth/confirm-sign-up', { username: confirmedTwice, code: CODE }),
    await post('/auth/confirm-sign-up', { username: await emulator.user([]), code: CODE }),
    await post('/auth/confirm-sign-up', { username: uniqueEmail('ghost'), code: CODE })
  ]
  for (const answer of answers) {
    t.equal(answer.statusCode, 400)
    t.same(errorOf(answer), { error: 'INVALID_CODE', message: 'The code is wrong or has expired.' })
  }
  const signedIn = await signIn(app, used, 'Fresh-Passw0rd!')
  t.equal(signedIn.response.statusCode, 200, 'a refused reuse changed nothing')
})

t.test('bar 23: more than 5 wrong codes give 429 with Retry-After, for real and unknown users alike', async (t) => {
  const real = await emulator.user([])
  await requestCode(real)
  const bodies = []
  for (const username of [real, uniqueEmail('ghost')]) {
    for (let i = 0; i < 5; i++) {
      const wrong = await post('/auth/verify-otp', { username, code: `99999${i}`, newPassword: 'Fresh-Passw0rd!' })
      t.equal(wrong.statusCode, 400)
    }
    const locked = await post('/auth/verify-otp', { username, code: CODE, newPassword: 'Fresh-Passw0rd!' })
    t.equal(locked.statusCode, 429, 'even the right code is refused now')
    t.match(locked.headers['retry-after'], /^[1-9]\d*$/)
    t.ok(Number(locked.headers['retry-after']) <= 900)
    bodies.push(errorOf(locked))
  }
  t.same(bodies[0], { error: 'TOO_MANY_REQUESTS', message: 'Too many attempts. Wait a moment and try again.' })
  t.same(bodies[1], bodies[0])
  const confirmLocked = await post('/auth/confirm-sign-up', { username: real, code: CODE })
  t.equal(confirmLocked.statusCode, 429, 'wrong codes count for every code route of that username')
})

t.test('password rules: each route checks the pool policy before Cognito and names the unmet rules', async (t) => {
  const email = await emulator.user([])
  await requestCode(email)
  const weakReset = await post('/auth/verify-otp', { username: email, code: CODE, newPassword: 'short' })
  t.equal(weakReset.statusCode, 400)
  t.same(errorOf(weakReset), {
    error: 'INVALID_PASSWORD',
    message: 'The new password does not meet the password rules.',
    rules: ['MINIMUM_LENGTH', 'REQUIRE_UPPERCASE', 'REQUIRE_NUMBERS', 'REQUIRE_SYMBOLS']
  })
  t.equal((await post('/auth/verify-otp', { username: email, code: CODE, newPassword: 'Fresh-Passw0rd!' })).statusCode, 200, 'the code was not spent on the weak password')

  const { cookie } = await signIn(app, email, 'Fresh-Passw0rd!')
  const weakChange = await post('/auth/change-password', { oldPassword: 'Fresh-Passw0rd!', newPassword: 'NoSymbols123' }, { ...CSRF, cookie })
  t.equal(weakChange.statusCode, 400)
  t.same(weakChange.json().rules, ['REQUIRE_SYMBOLS'])
  t.same((await post('/auth/change-password', { oldPassword: 'Fresh-Passw0rd!', newPassword: 'ALLUPPER-1' }, { ...CSRF, cookie })).json().rules, ['REQUIRE_LOWERCASE'])
  t.equal((await signIn(app, email, 'Fresh-Passw0rd!')).response.statusCode, 200, 'the password did not change')

  const invited = await emulator.invitedUser('Temp-Passw0rd!')
  const first = await post('/auth/sign-in', { username: invited, password: 'Temp-Passw0rd!' }, CSRF)
  const preAuth = { ...CSRF, cookie: `__Host-ims-preauth=${cookieValue(first, '__Host-ims-preauth')}` }
  const weakNew = await post('/auth/challenge', { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Sh0rt!' }, preAuth)
  t.equal(weakNew.statusCode, 400)
  t.same(weakNew.json().rules, ['MINIMUM_LENGTH'])
  const done = await post('/auth/challenge', { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Long-Enough-Passw0rd' }, preAuth)
  t.equal(done.json().status, 'SIGNED_IN', 'the same challenge takes a good password next')
})

t.test('bar 33: a password with a leading space and Unicode reaches Cognito byte for byte', async (t) => {
  const email = await emulator.user([])
  await requestCode(email)
  const password = ' Mật-khẩu Ca1 e\u0301 '
  const reset = await post('/auth/verify-otp', { username: email, code: CODE, newPassword: password })
  t.equal(reset.statusCode, 200)
  t.equal((await signIn(app, email, password)).response.json().status, 'SIGNED_IN', 'exactly that password signs in')
  t.equal((await signIn(app, email, password.trim())).response.statusCode, 401, 'not trimmed')
  t.equal((await signIn(app, email, password.normalize('NFC'))).response.statusCode, 401, 'not normalised')
})

t.test('bar 16: a reset ends every session of the user (cookie and bearer) and signs nobody in', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const first = await signIn(app, email, TEST_PASSWORD)
  const second = await signIn(app, email, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 200)
  await requestCode(email)
  // The adapter's "tokens issued before" mark has a one-second grain.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const reset = await post('/auth/verify-otp', { username: email, code: CODE, newPassword: 'After-Reset-Passw0rd!' }, { ...CSRF, cookie: first.cookie })
  t.equal(reset.statusCode, 200)
  t.same(reset.json(), { status: 'PASSWORD_RESET' })
  t.notOk(cookieValue(reset, '__Host-ims-session'), 'no session cookie is set')
  const audited = logs.entries.find((e) => e.audit?.event === 'password-reset' && e.audit?.outcome === 'success' && e.audit?.sub === payloadOf(accessToken).sub)
  t.equal(audited?.audit.cognitoGlobalSignOut, false, 'Cognito is asked to revoke refresh tokens held elsewhere; the emulator cannot, and the audit line says so')
  for (const cookie of [first.cookie, second.cookie]) {
    t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 401, 'an older session ended')
  }
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 401, 'an older access token ended')
  t.equal((await signIn(app, email, TEST_PASSWORD)).response.statusCode, 401, 'the old password is gone')
  t.equal((await signIn(app, email, 'After-Reset-Passw0rd!')).response.statusCode, 200)
})

t.test('change-password: 204, other sessions end, this browser gets a fresh session; a wrong current password is refused', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const mine = await signIn(app, email, TEST_PASSWORD)
  const other = await signIn(app, email, TEST_PASSWORD)
  const wrong = await post('/auth/change-password', { oldPassword: 'Not-The-Passw0rd!', newPassword: 'Changed-Passw0rd!' }, { ...CSRF, cookie: mine.cookie })
  t.equal(wrong.statusCode, 401)
  t.same(errorOf(wrong), { error: 'INVALID_CREDENTIALS', message: 'The current password is incorrect.' })
  t.equal((await post('/auth/change-password', { oldPassword: TEST_PASSWORD, newPassword: 'Changed-Passw0rd!' })).statusCode, 401, 'needs a signed-in user')
  t.equal((await post('/auth/change-password', { oldPassword: TEST_PASSWORD, newPassword: 'Changed-Passw0rd!' }, { cookie: mine.cookie })).statusCode, 403, 'needs X-CSRF with a cookie')

  const changed = await post('/auth/change-password', { oldPassword: TEST_PASSWORD, newPassword: 'Changed-Passw0rd!' }, { ...CSRF, cookie: mine.cookie })
  t.equal(changed.statusCode, 204)
  t.equal(changed.body, '')
  const audited = logs.entries.find((e) => e.audit?.event === 'password-change' && e.audit?.outcome === 'success' && e.audit?.sub === mine.response.json().user.sub)
  t.equal(audited?.audit.cognitoGlobalSignOut, false, 'Cognito is asked to revoke refresh tokens held elsewhere; the emulator cannot, and the audit line says so')
  const fresh = cookieValue(changed, '__Host-ims-session')
  t.ok(fresh, 'a fresh session for this browser')
  t.not(`__Host-ims-session=${fresh}`, mine.cookie)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: `__Host-ims-session=${fresh}` } })).json().email, email)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: mine.cookie } })).statusCode, 401, 'the old id is gone')
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: other.cookie } })).statusCode, 401, 'the other session ended')
  t.equal((await signIn(app, email, TEST_PASSWORD)).response.statusCode, 401)
  t.equal((await signIn(app, email, 'Changed-Passw0rd!')).response.statusCode, 200)

  // A bearer token from the very second of the revocation is refused too (src/session/revocations.ts).
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const { accessToken } = await cognitoTokens(app, email, 'Changed-Passw0rd!')
  const viaBearer = await post('/auth/change-password', { oldPassword: 'Changed-Passw0rd!', newPassword: 'Bearer-Passw0rd!' }, { authorization: `Bearer ${accessToken}` })
  t.equal(viaBearer.statusCode, 204, 'a bearer caller may change it too (no CSRF header needed)')
  t.notOk(cookieValue(viaBearer, '__Host-ims-session'), 'and gets no cookie')
  t.equal((await signIn(app, email, 'Bearer-Passw0rd!')).response.statusCode, 200)

  const documented = (await app.inject({ method: 'GET', url: '/docs/json' })).json().paths['/auth/change-password'].post.responses
  t.match(documented['204'], { description: 'No content' }, 'the API document lists the 204 a client gets')
})

t.test('bar 40: Cognito throttling is 429 on code routes and leaves forgot-password uniform, for known and unknown users', async (t) => {
  const throttling = await throttlingCognito(emulator, {
    ForgotPassword: 'LimitExceededException',
    ConfirmForgotPassword: 'LimitExceededException',
    ConfirmSignUp: 'TooManyRequestsException'
  })
  const throttledApp = await testApp(emulator, { ...ENV, COGNITO_ENDPOINT: throttling.endpoint })
  t.teardown(async () => { await throttledApp.close(); await throttling.close() })
  const known = await emulator.user([])
  const unknown = uniqueEmail('ghost')
  const answers: Record<string, string[]> = {}
  for (const [url, payload] of [
    ['/auth/forgot-password', {}],
    ['/auth/verify-otp', { code: CODE, newPassword: 'Fresh-Passw0rd!' }],
    ['/auth/confirm-sign-up', { code: CODE }]
  ] as const) {
    for (const username of [known, unknown]) {
      const response = await throttledApp.inject({ method: 'POST', url, payload: { username, ...payload } })
      const { requestId, ...body } = response.json()
      ;(answers[url] ??= []).push(`${response.statusCode} ${response.headers['retry-after'] ?? '-'} ${JSON.stringify(body)}`)
    }
  }
  t.same(answers['/auth/forgot-password'], ['202 - {"status":"CODE_SENT"}', '202 - {"status":"CODE_SENT"}'])
  const tooMany = '429 30 {"error":"TOO_MANY_REQUESTS","message":"Too many attempts. Wait a moment and try again."}'
  t.same(answers['/auth/verify-otp'], [tooMany, tooMany])
  t.same(answers['/auth/confirm-sign-up'], [tooMany, tooMany])
})

t.test('bar 20: whatever state Cognito says the account is in, the code routes answer one INVALID_CODE', async (t) => {
  for (const exception of ['UserNotConfirmedException', 'PasswordResetRequiredException', 'InvalidParameterException']) {
    const refusing = await throttlingCognito(emulator, { ConfirmForgotPassword: exception, ConfirmSignUp: exception })
    const refusingApp = await testApp(emulator, { ...ENV, COGNITO_ENDPOINT: refusing.endpoint })
    try {
      for (const [url, payload] of [['/auth/verify-otp', { code: CODE, newPassword: 'Fresh-Passw0rd!' }], ['/auth/confirm-sign-up', { code: CODE }]] as const) {
        const response = await refusingApp.inject({ method: 'POST', url, payload: { username: uniqueEmail('state'), ...payload } })
        t.equal(`${response.statusCode} ${String(response.json().error)}`, '400 INVALID_CODE', `${url} when Cognito says ${exception}`)
      }
    } finally {
      await refusingApp.close()
      await refusing.close()
    }
  }
})

t.test('a new password Cognito refuses (password history, its own policy) is 400 INVALID_PASSWORD naming the rule', async (t) => {
  // cognito-local keeps no password history: a loopback Cognito refuses the new password per operation, in front of a
  // pool of its own whose tokens name that loopback as their issuer (so the app signs users in through it).
  const refusals: Record<string, string> = {
    ConfirmForgotPassword: 'PasswordHistoryPolicyViolationException',
    ChangePassword: 'PasswordHistoryPolicyViolationException',
    RespondToAuthChallenge: 'PasswordHistoryPolicyViolationException'
  }
  const behind = { endpoint: '' }
  const refusing = await throttlingCognito(behind, refusals)
  const pool = await startEmulator({ issuerDomain: refusing.endpoint })
  behind.endpoint = pool.endpoint
  const refusingApp = await testApp(pool, { ...ENV, COGNITO_ENDPOINT: refusing.endpoint })
  t.teardown(async () => { await refusingApp.close(); await refusing.close(); await pool.stop() })
  const send = async (url: string, payload: object, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    await refusingApp.inject({ method: 'POST', url, payload, headers })
  const refused = (rule: string): object => ({ error: 'INVALID_PASSWORD', message: 'The new password does not meet the password rules.', rules: [rule] })

  const email = await pool.user([])
  const reset = await send('/auth/verify-otp', { username: email, code: CODE, newPassword: 'Recent-Passw0rd!' })
  t.equal(reset.statusCode, 400, 'verify-otp')
  t.same(errorOf(reset), refused('PASSWORD_HISTORY'))

  const { cookie } = await signIn(refusingApp, email, TEST_PASSWORD)
  const change = await send('/auth/change-password', { oldPassword: TEST_PASSWORD, newPassword: 'Recent-Passw0rd!' }, { ...CSRF, cookie })
  t.equal(change.statusCode, 400, 'change-password')
  t.same(errorOf(change), refused('PASSWORD_HISTORY'))
  t.equal((await refusingApp.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 200, 'the user is still signed in')

  const invited = await pool.invitedUser('Temp-Passw0rd!')
  const first = await send('/auth/sign-in', { username: invited, password: 'Temp-Passw0rd!' }, CSRF)
  const preAuth = { ...CSRF, cookie: `__Host-ims-preauth=${cookieValue(first, '__Host-ims-preauth')}` }
  const answer = async (): Promise<LightMyRequestResponse> => await send('/auth/challenge', { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: 'Brand-New-Passw0rd!' }, preAuth)
  const recent = await answer()
  t.equal(recent.statusCode, 400, 'NEW_PASSWORD_REQUIRED')
  t.same(errorOf(recent), refused('PASSWORD_HISTORY'))
  refusals.RespondToAuthChallenge = 'InvalidPasswordException'
  const unnamed = await answer()
  t.equal(unnamed.statusCode, 400, 'the same challenge can be answered again')
  t.same(errorOf(unnamed), refused('POOL_POLICY'))
  delete refusals.RespondToAuthChallenge
  const accepted = await answer()
  t.equal(accepted.statusCode, 200)
  t.equal(accepted.json().status, 'SIGNED_IN', 'and signs in once Cognito accepts the password')
})

t.test('bar 35/36: a full recovery flow writes one audit line per outcome and never a password or a code', async (t) => {
  const flowLogs = new LogCapture()
  const flowApp = await testApp(emulator, ENV, { logStream: flowLogs })
  t.teardown(async () => { await flowApp.close() })
  const send = async (url: string, payload: object, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    await flowApp.inject({ method: 'POST', url, payload, headers })
  const email = uniqueEmail('flow')
  const passwords = ['Sign-Up-Passw0rd!', 'weakpass', 'Reset-Passw0rd!', 'Changed-Passw0rd!', 'Wrong-Old-Passw0rd!']
  const wrongCode = '987654'

  t.equal((await send('/auth/sign-up', { username: email, password: passwords[1], email })).statusCode, 400)
  t.equal((await send('/auth/sign-up', { username: email, password: passwords[0], email })).statusCode, 202)
  t.equal((await send('/auth/confirm-sign-up', { username: email, code: wrongCode })).statusCode, 400)
  t.equal((await send('/auth/confirm-sign-up', { username: email, code: CODE })).statusCode, 200)
  t.equal((await send('/auth/resend-code', { username: email })).statusCode, 202)
  t.equal((await send('/auth/forgot-password', { username: email })).statusCode, 202)
  await waitForAudit(flowLogs, 'forgot-password', 'sent', email)
  t.equal((await send('/auth/verify-otp', { username: email, code: wrongCode, newPassword: passwords[2] })).statusCode, 400)
  t.equal((await send('/auth/verify-otp', { username: email, code: CODE, newPassword: passwords[2] })).statusCode, 200)
  const signedIn = await send('/auth/sign-in', { username: email, password: passwords[2] }, CSRF)
  const cookie = `__Host-ims-session=${cookieValue(signedIn, '__Host-ims-session')}`
  t.equal((await send('/auth/change-password', { oldPassword: passwords[4], newPassword: passwords[3] }, { ...CSRF, cookie })).statusCode, 401)
  t.equal((await send('/auth/change-password', { oldPassword: passwords[2], newPassword: passwords[3] }, { ...CSRF, cookie })).statusCode, 204)
  await waitForAudit(flowLogs, 'resend-code', 'not-sent:UNSUPPORTED_BY_EMULATOR', email)

  for (const secret of passwords) t.notOk(flowLogs.text.includes(secret), 'no password in the logs')
  for (const code of [CODE, wrongCode]) t.notMatch(flowLogs.text, new RegExp(`(?<![0-9.])${code}(?![0-9])`), 'no code in the logs')

  const audits = flowLogs.entries.filter((e) => e.audit !== undefined).map((e) => e.audit)
  const outcomes = audits.map((a) => `${a.event}:${a.outcome}`)
  t.same(outcomes.filter((o) => !o.startsWith('sign-in')).sort(), [
    'confirm-sign-up:INVALID_CODE', 'confirm-sign-up:success', 'forgot-password:sent',
    'password-change:INVALID_CREDENTIALS', 'password-change:success', 'password-reset:INVALID_CODE', 'password-reset:success',
    'resend-code:not-sent:UNSUPPORTED_BY_EMULATOR', 'sign-up:INVALID_PASSWORD', 'sign-up:success'
  ], 'one audit line per outcome')
  for (const audit of audits) {
    t.ok(audit.time && audit.ip && (audit.user || audit.sub), `${audit.event} names time, ip and a hashed user or sub`)
    t.notOk(JSON.stringify(audit).includes(email), 'usernames are hashed')
  }
})
