// Throttling through the app: per normalised username and per client IP, trusted proxies, and counters shared over Redis.
import { randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, uniqueEmail, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, signIn, testApp } from '../helpers/app.js'
import { TEST_SESSION_KEY, waitForAudit } from '../helpers/recovery.js'

let emulator: Emulator

t.before(async () => { emulator = await startEmulator() })
t.teardown(async () => { await emulator?.stop() })

/** A fresh app (fresh memory counters unless `env` says redis), closed after the test. */
async function appFor (t: { teardown: (fn: () => Promise<void>) => void }, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await testApp(emulator, env)
  t.teardown(async () => { await app.close() })
  return app
}

const signInAs = async (app: FastifyInstance, username: string, password: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, ...headers }, payload: { username, password } })

/** The error body without its request id, plus the Retry-After header. */
const answerOf = (response: LightMyRequestResponse): string => {
  const { requestId, ...body } = response.json()
  return `${response.statusCode} ${JSON.stringify(body)}`
}

const TOO_MANY = '429 {"error":"TOO_MANY_REQUESTS","message":"Too many attempts. Wait a moment and try again."}'
const WRONG = '401 {"error":"INVALID_CREDENTIALS","message":"The username or password is incorrect."}'
const INVALID_CODE = '400 {"error":"INVALID_CODE","message":"The code is wrong or has expired."}'

/** A TEST-NET address no other test uses, so counters kept in a shared Redis start at zero. */
const clientIp = (): string => `198.18.${randomInt(256)}.${randomInt(1, 255)}`

t.test('bar 21: more than 5 failures for one normalised username give 429 with Retry-After, alike for real and unknown users', async (t) => {
  const app = await appFor(t)
  const real = await emulator.user(['MANAGER'])
  for (const username of [real, uniqueEmail('ghost')]) {
    const spellings = [username, username.toUpperCase(), ` ${username}`, `${username}\t`, username.replace('@', '\uFF20')]
    for (const spelling of spellings) t.equal(answerOf(await signInAs(app, spelling, 'Wrong-Passw0rd!')), WRONG)
    const locked = await signInAs(app, username, TEST_PASSWORD)
    t.equal(answerOf(locked), TOO_MANY, 'the sixth attempt is refused, the right password too')
    t.match(locked.headers['retry-after'], /^[1-9]\d*$/)
    t.ok(Number(locked.headers['retry-after']) <= 900, 'Retry-After within the 15-minute window')
    t.equal(locked.headers['cache-control'], 'no-store')
  }
  const other = await emulator.user(['MANAGER'])
  t.equal((await signIn(app, other, TEST_PASSWORD)).response.statusCode, 200, 'other accounts are not affected')
})

t.test('bars 21-23: naming an account another way (its Cognito username, not its email) gets no fresh budget', async (t) => {
  const logs = new LogCapture()
  const app = await testApp(emulator, { TRUST_PROXY: '127.0.0.1', SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY }, { logStream: logs })
  t.teardown(async () => { await app.close() })
  // Each request from its own address: only the per-account counters are at stake.
  const from = (): Record<string, string> => ({ 'x-forwarded-for': clientIp() })
  const nameOf = async (email: string): Promise<string> => (await signIn(app, email, TEST_PASSWORD)).response.json().user.username

  const signingIn = await emulator.user(['MANAGER'])
  const signingInName = await nameOf(signingIn)
  t.not(signingInName, signingIn, 'the pool knows the account by another name than its email')
  for (const name of [signingIn, signingIn, signingIn, signingInName, signingInName]) t.equal(answerOf(await signInAs(app, name, 'Wrong-Passw0rd!', from())), WRONG)
  t.equal(answerOf(await signInAs(app, signingInName, TEST_PASSWORD, from())), TOO_MANY, 'sign-in: five failures under two names are five for the account')
  t.equal(answerOf(await signInAs(app, signingIn, TEST_PASSWORD, from())), TOO_MANY, 'whichever name is typed')

  const resetting = await emulator.user(['MANAGER'])
  const resettingName = await nameOf(resetting)
  const verify = async (username: string) => await app.inject({ method: 'POST', url: '/auth/verify-otp', headers: from(), payload: { username, code: '000000', newPassword: 'Fresh-Passw0rd!' } })
  for (const name of [resetting, resetting, resetting, resettingName, resettingName]) t.equal((await verify(name)).json().error, 'INVALID_CODE')
  t.equal(answerOf(await verify(resettingName)), TOO_MANY, 'reset codes: five wrong under two names are five for the account')

  const mailed = await emulator.user(['MANAGER'])
  const mailedName = await nameOf(mailed)
  const forgot = async (username: string) => await app.inject({ method: 'POST', url: '/auth/forgot-password', headers: from(), payload: { username } })
  for (const [name, sends] of [[mailed, 1], [mailed, 2], [mailedName, 1]] as const) {
    t.equal((await forgot(name)).statusCode, 202)
    await waitForAudit(logs, 'forgot-password', 'sent', name, sends)
  }
  t.equal((await forgot(mailed)).statusCode, 202, 'the fourth request still answers 202')
  await t.resolves(waitForAudit(logs, 'forgot-password', 'suppressed-limit', mailed), 'code emails: three sends under two names are the account\'s three an hour; the fourth sends nothing')
})

t.test('bar 21: spraying from one IP ends in 429 on every route; a forged X-Forwarded-For from an untrusted peer changes nothing', async (t) => {
  const app = await appFor(t)
  for (let i = 0; i < 30; i++) {
    t.equal((await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })).statusCode, 401)
  }
  const fresh = await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })
  t.equal(answerOf(fresh), TOO_MANY)
  t.ok(Number(fresh.headers['retry-after']) >= 1 && Number(fresh.headers['retry-after']) <= 60)
  const real = await emulator.user(['MANAGER'])
  t.equal(answerOf(await signInAs(app, real, TEST_PASSWORD)), TOO_MANY, 'a real account from that IP too')
  const forgot = await app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { username: real }, headers: { 'x-forwarded-for': clientIp() } })
  t.equal(answerOf(forgot), TOO_MANY, 'and the code routes')
})

t.test('trusted proxies: X-Forwarded-For names the client, and a client cannot prepend its way out', async (t) => {
  const app = await appFor(t, { TRUST_PROXY: '127.0.0.1', AUTH_IP_LIMIT: '3' })
  const attacker = clientIp()
  for (let i = 0; i < 3; i++) t.equal((await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': attacker })).statusCode, 401)
  t.equal(answerOf(await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': attacker })), TOO_MANY)
  t.equal(answerOf(await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': `${clientIp()}, ${attacker}` })), TOO_MANY, 'a forged first hop is ignored')
  t.equal(answerOf(await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })), WRONG, 'another client is unaffected')
})

t.test('TRUST_PROXY=true behind a load balancer that appends the client (an ALB): a client cannot prepend its way out', async (t) => {
  const app = await appFor(t, { TRUST_PROXY: 'true', AUTH_IP_LIMIT: '3' })
  const attacker = clientIp()
  // The load balancer (the peer, here loopback) appends the address it saw after whatever the client sent.
  const via = (sent?: string): Record<string, string> => ({ 'x-forwarded-for': sent === undefined ? attacker : `${sent}, ${attacker}` })
  for (let i = 0; i < 3; i++) t.equal((await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', via(clientIp()))).statusCode, 401)
  t.equal(answerOf(await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', via(clientIp()))), TOO_MANY, 'a forged first hop is ignored')
  t.equal(answerOf(await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', via())), TOO_MANY, 'and so is none')
  t.equal(answerOf(await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })), WRONG, 'another client is unaffected')
  const proto = await app.inject({ url: '/health/live', headers: { 'x-forwarded-proto': 'https' } })
  t.match(proto.headers['strict-transport-security'], /max-age=/, 'the load balancer\'s X-Forwarded-Proto is believed (HSTS behind TLS at the ALB)')
})

t.test('more than 5 wrong current passwords on change-password give 429 for that user', async (t) => {
  const app = await appFor(t)
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const change = async (oldPassword: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie }, payload: { oldPassword, newPassword: 'Changed-Passw0rd!' } })
  for (let i = 0; i < 5; i++) t.equal((await change('Wrong-Passw0rd!')).json().error, 'INVALID_CREDENTIALS')
  const locked = await change(TEST_PASSWORD)
  t.equal(answerOf(locked), TOO_MANY)
  t.ok(Number(locked.headers['retry-after']) >= 1)
})

t.test('redis: two instances count failures together, per username and per IP', async (t) => {
  const env = { SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, TRUST_PROXY: '127.0.0.1', AUTH_IP_LIMIT: '4' }
  const [a, b] = [await appFor(t, env), await appFor(t, env)]
  const username = uniqueEmail('shared')
  const client = { 'x-forwarded-for': clientIp() }
  for (let i = 0; i < 5; i++) {
    t.equal(answerOf(await signInAs(i % 2 === 0 ? a : b, username, 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })), WRONG)
  }
  t.equal(answerOf(await signInAs(b, username, 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })), TOO_MANY, 'instance B saw A\'s failures')
  t.equal(answerOf(await signInAs(a, username, 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() })), TOO_MANY, 'and A saw B\'s')

  for (let i = 0; i < 4; i++) t.equal(answerOf(await signInAs(i % 2 === 0 ? a : b, uniqueEmail('spray'), 'Wrong-Passw0rd!', client)), WRONG)
  t.equal(answerOf(await signInAs(a, uniqueEmail('spray'), 'Wrong-Passw0rd!', client)), TOO_MANY, 'one client IP across both instances')
})

/** Sends `count` requests at once; how many got each answer (status and error body, as `answerOf` gives it). */
async function atOnce (count: number, send: (i: number) => Promise<LightMyRequestResponse>): Promise<Record<string, number>> {
  const answers = await Promise.all(Array.from({ length: count }, async (_, i) => await send(i)))
  const tally: Record<string, number> = {}
  for (const answer of answers) {
    const key = answer.statusCode === 202 ? '202' : answerOf(answer)
    tally[key] = (tally[key] ?? 0) + 1
  }
  return tally
}

t.test('bar 21: sign-ins sent at once cannot pass the limits, per username and per IP', async (t) => {
  const app = await appFor(t, { TRUST_PROXY: '127.0.0.1', AUTH_IP_LIMIT: '10' })
  const real = await emulator.user(['MANAGER'])
  const perUser = await atOnce(20, async () => await signInAs(app, real, 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() }))
  t.same(perUser, { [WRONG]: 5, [TOO_MANY]: 15 }, 'five wrong passwords reach Cognito, the other fifteen are refused')
  t.equal(answerOf(await signInAs(app, real, TEST_PASSWORD, { 'x-forwarded-for': clientIp() })), TOO_MANY, 'then the account is locked')

  const client = { 'x-forwarded-for': clientIp() }
  const perIp = await atOnce(25, async () => await signInAs(app, uniqueEmail('spray'), 'Wrong-Passw0rd!', client))
  t.same(perIp, { [WRONG]: 10, [TOO_MANY]: 15 }, 'spraying at once from one IP: ten tries, the rest refused')
})

t.test('bar 21: attempts in flight on one instance count on the other (redis)', async (t) => {
  const env = { SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, TRUST_PROXY: '127.0.0.1' }
  const [a, b] = [await appFor(t, env), await appFor(t, env)]
  const username = uniqueEmail('burst')
  const tally = await atOnce(16, async (i) => await signInAs(i % 2 === 0 ? a : b, username, 'Wrong-Passw0rd!', { 'x-forwarded-for': clientIp() }))
  t.same(tally, { [WRONG]: 5, [TOO_MANY]: 11 })
})

/** Two instances on the shared Redis that believe X-Forwarded-For, logging to `logs`, closed after the test. */
async function twoInstances (t: { teardown: (fn: () => Promise<void>) => void }, logs = new LogCapture()): Promise<[FastifyInstance, FastifyInstance]> {
  const env = { SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, TRUST_PROXY: '127.0.0.1' }
  const apps = [await testApp(emulator, env, { logStream: logs }), await testApp(emulator, env, { logStream: logs })] as const
  t.teardown(async () => { await Promise.all(apps.map(async (app) => { await app.close() })) })
  return [...apps]
}

/** A new account's email and the other name it signs in by, its Cognito username (the sub). */
async function twoNames (app: FastifyInstance): Promise<[string, string]> {
  const email = await emulator.user(['MANAGER'])
  const username: string = (await signIn(app, email, TEST_PASSWORD)).response.json().user.username
  return [email, username]
}

t.test('bars 21 and 23: attempts sent at once under an account\'s two names to two instances (redis) share one limit of five', async (t) => {
  const [a, b] = await twoInstances(t)
  // Request i goes to instance A or B and names the account by its email or its Cognito username, in every mix.
  const spread = async (names: readonly string[], send: (app: FastifyInstance, name: string) => Promise<LightMyRequestResponse>) =>
    await atOnce(40, async (i) => await send(i % 2 === 0 ? a : b, names[Math.floor(i / 2) % 2]!))
  const from = (): Record<string, string> => ({ 'x-forwarded-for': clientIp() })

  const signingIn = await twoNames(a)
  const signIns = await spread(signingIn, async (app, name) => await signInAs(app, name, 'Wrong-Passw0rd!', from()))
  t.ok(signIns[WRONG]! >= 1 && signIns[WRONG]! <= 5, `${signIns[WRONG]} passwords checked`)
  t.equal(signIns[WRONG]! + signIns[TOO_MANY]!, 40, 'every other attempt refused')
  for (const name of signingIn) t.equal(answerOf(await signInAs(b, name, TEST_PASSWORD, from())), TOO_MANY, 'then the account is locked under either name')

  const resetting = await twoNames(a)
  const codes = await spread(resetting, async (app, name) => await app.inject({
    method: 'POST', url: '/auth/verify-otp', headers: from(), payload: { username: name, code: '000000', newPassword: 'Fresh-Passw0rd!' }
  }))
  t.ok(codes[INVALID_CODE]! >= 1 && codes[INVALID_CODE]! <= 5, `${codes[INVALID_CODE]} codes judged`)
  t.equal(codes[INVALID_CODE]! + codes[TOO_MANY]!, 40, 'every other code refused')
})

t.test('bar 22: code requests sent at once under an account\'s two names to two instances (redis) send at most three emails', async (t) => {
  const logs = new LogCapture()
  const [a, b] = await twoInstances(t, logs)
  const names = await twoNames(a)
  const tally = await atOnce(12, async (i) => await (i % 2 === 0 ? a : b).inject({
    method: 'POST', url: '/auth/forgot-password', headers: { 'x-forwarded-for': clientIp() }, payload: { username: names[Math.floor(i / 2) % 2] }
  }))
  t.same(tally, { 202: 12 }, 'every request answers 202')
  // Sends end after the answer: wait until each request has been settled one way or the other.
  const settled = (outcome: RegExp): number => logs.entries.filter((e) => e.audit?.event === 'forgot-password' && outcome.test(e.audit?.outcome)).length
  const deadline = Date.now() + 10_000
  while (settled(/^(sent|suppressed-limit|not-sent:)/) < 12 && Date.now() < deadline) await sleep(20)
  t.equal(settled(/^(sent|suppressed-limit)$/), 12, 'each request was sent or suppressed')
  t.equal(settled(/^sent$/), 3, 'three emails an hour for the account, whichever name each request gave')
})

t.test('bar 23: wrong reset codes sent at once cannot pass the limit of five', async (t) => {
  const app = await appFor(t, { TRUST_PROXY: '127.0.0.1' })
  const email = await emulator.user(['LINE_LEADER'])
  const tally = await atOnce(12, async () => await app.inject({
    method: 'POST', url: '/auth/verify-otp', headers: { 'x-forwarded-for': clientIp() }, payload: { username: email, code: '000000', newPassword: 'Fresh-Passw0rd!' }
  }))
  t.same(tally, { [INVALID_CODE]: 5, [TOO_MANY]: 7 })
})

t.test('the per-IP limit holds for code requests sent at once to two instances (redis): 429 beyond it', async (t) => {
  const env = { SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, TRUST_PROXY: '127.0.0.1', AUTH_IP_LIMIT: '5' }
  const [a, b] = [await appFor(t, env), await appFor(t, env)]
  const client = { 'x-forwarded-for': clientIp() }
  const tally = await atOnce(12, async (i) => await (i % 2 === 0 ? a : b).inject({ method: 'POST', url: '/auth/forgot-password', headers: client, payload: { username: uniqueEmail('burst') } }))
  t.same(tally, { 202: 5, [TOO_MANY]: 7 })
})

t.test('a flood of failed sign-ins for other usernames does not wipe a user\'s count (memory store)', async (t) => {
  const app = await appFor(t, { AUTH_IP_LIMIT: '100000' })
  const victim = await emulator.user(['ADMIN'])
  for (let i = 0; i < 5; i++) t.equal((await signInAs(app, victim, `guess-${i}`)).statusCode, 401)
  // More distinct usernames than @fastify/rate-limit's default memory store holds (5,000), in bounded batches.
  for (let batch = 0; batch < 51; batch++) {
    await Promise.all(Array.from({ length: 100 }, async (_, i) => await signInAs(app, `flood-${batch}-${i}@ims.test`, 'wrong')))
  }
  const next = await signInAs(app, victim, 'guess-5')
  t.equal(next.statusCode, 429, 'the victim\'s sixth guess is still refused')
})

t.test('bar 21: wrong passwords at sign-in and wrong current passwords at change-password share the account\'s one budget, across instances (redis)', async (t) => {
  const [a, b] = await twoInstances(t)
  const from = (): Record<string, string> => ({ 'x-forwarded-for': clientIp() })
  const change = async (app: FastifyInstance, cookie: string, oldPassword: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, ...from(), cookie }, payload: { oldPassword, newPassword: 'Changed-Passw0rd!' } })

  // Five wrong passwords at sign-in on B: the account is locked; a session it already had on A cannot guess on.
  const guessed = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, guessed, TEST_PASSWORD)
  for (let i = 0; i < 5; i++) t.equal(answerOf(await signInAs(b, guessed, 'Wrong-Passw0rd!', from())), WRONG)
  t.equal(answerOf(await change(a, cookie, 'Wrong-Passw0rd!')), TOO_MANY, 'change-password: the sixth guess of the password is refused')

  // Five wrong current passwords at change-password on A: the next sign-in on B is refused, the right password too.
  const changing = await emulator.user(['MANAGER'])
  const session = (await signIn(a, changing, TEST_PASSWORD)).cookie
  for (let i = 0; i < 5; i++) t.equal((await change(a, session, 'Wrong-Passw0rd!')).json().error, 'INVALID_CREDENTIALS')
  t.equal(answerOf(await signInAs(b, changing, TEST_PASSWORD, from())), TOO_MANY, 'sign-in: the sixth guess of the password is refused')
})

t.test('bar 21: Retry-After covers every limit that refuses the request: a retry after it is not refused again by another (redis)', async (t) => {
  const env = { SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, TRUST_PROXY: '127.0.0.1', AUTH_IP_LIMIT: '5', AUTH_IP_WINDOW_SECONDS: '2', AUTH_FAILURE_WINDOW_SECONDS: '5' }
  const [a, b] = [await appFor(t, env), await appFor(t, env)]
  // One client, five wrong passwords for one account: both its address and the account have used their five.
  const client = { 'x-forwarded-for': clientIp() }
  const email = await emulator.user(['MANAGER'])
  for (let i = 0; i < 5; i++) t.equal(answerOf(await signInAs(i % 2 === 0 ? a : b, email, 'Wrong-Passw0rd!', client)), WRONG)
  const refused = await signInAs(b, email, TEST_PASSWORD, client)
  t.equal(answerOf(refused), TOO_MANY)
  const wait = Number(refused.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 5, `Retry-After ${wait}: within the longer window`)
  await sleep(wait * 1000 + 100)
  t.equal((await signInAs(a, email, TEST_PASSWORD, client)).statusCode, 200, 'the retry Retry-After asked for signs in')
})
