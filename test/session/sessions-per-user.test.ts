// One account signing in again and again (a script, a compromised password) keeps a bounded number of sessions, or of token-mode sign-ins: the oldest end.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { signIn, testApp, twoInstances } from '../helpers/app.js'
import { rawRedis, SHARED_REDIS_URL } from '../helpers/redis.js'

/** SESSION_MAX_PER_USER in these apps. */
const MAX = 5
/** Sign-ins of one account, one after the other (a failure budget counts none of them). */
const SIGN_INS = 4 * MAX

let emulator: Emulator
t.before(async () => { emulator = await startEmulator() })
t.teardown(async () => { await emulator?.stop() })

/** The sessions the store still holds for `sub`. */
async function storedSessions (app: FastifyInstance, sub: string): Promise<number> {
  const listed = await app.store.members(`session-list:${sub}`)
  const stored = await Promise.all(listed.map(async (hashed) => await app.store.get(`session:${hashed}`)))
  return stored.filter((entry) => entry !== undefined).length
}

for (const store of ['memory', 'redis'] as const) {
  t.test(`${store}: ${SIGN_INS} sign-ins of one account leave its ${MAX} newest sessions, and only those work`, async (t) => {
    const app = await testApp(emulator, {
      SESSION_MAX_PER_USER: String(MAX),
      ...store === 'redis' ? { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') } : {}
    })
    t.teardown(async () => { await app.close() })
    const email = await emulator.user(['LINE_LEADER'])
    const cookies: string[] = []
    const signedIn: number[] = []
    for (let i = 0; i < SIGN_INS; i++) {
      const { cookie, response } = await signIn(app, email, TEST_PASSWORD)
      signedIn.push(response.statusCode)
      cookies.push(cookie)
    }
    t.same(signedIn, Array(SIGN_INS).fill(200), 'every sign-in succeeds')
    const sub = (await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: cookies.at(-1)! } })).json().sub as string
    t.equal(await storedSessions(app, sub), MAX, `the store keeps ${MAX} sessions of the account, not ${SIGN_INS}`)
    const statuses = await Promise.all(cookies.map(async (cookie) => (await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode))
    t.same(statuses, [...Array(SIGN_INS - MAX).fill(401), ...Array(MAX).fill(200)], 'the oldest sessions ended, the newest work')
  })
}

for (const store of ['memory', 'redis'] as const) {
  t.test(`token mode, ${store}: ${SIGN_INS} sign-ins of one account leave its ${MAX} newest sign-ins, and only their tokens work`, async (t) => {
    const app = await testApp(emulator, {
      SESSION_MODE: 'token',
      SESSION_MAX_PER_USER: String(MAX),
      ...store === 'redis' ? { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') } : {}
    })
    t.teardown(async () => { await app.close() })
    const email = await emulator.user(['LINE_LEADER'])
    const tokens: Array<{ accessToken: string, refreshToken: string }> = []
    for (let i = 0; i < SIGN_INS; i++) {
      const response = await app.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: email, password: TEST_PASSWORD } })
      t.equal(response.statusCode, 200)
      tokens.push(response.json().tokens)
    }
    const bearer = async (accessToken: string): Promise<number> =>
      (await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode
    const statuses = await Promise.all(tokens.map(async ({ accessToken }) => await bearer(accessToken)))
    t.same(statuses, [...Array(SIGN_INS - MAX).fill(401), ...Array(MAX).fill(200)], 'the oldest sign-ins ended, the newest work')
    const sub = (await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.at(-1)!.accessToken}` } })).json().sub as string
    t.equal((await app.store.members(`token-sign-ins:${sub}`)).length, MAX, `the store lists ${MAX} sign-ins of the account, not ${SIGN_INS}`)
    const refreshOf = async (refreshToken: string): Promise<number> => (await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })).statusCode
    t.equal(await refreshOf(tokens[0]!.refreshToken), 401, 'the oldest sign-in\'s refresh token was revoked')
    t.equal(await refreshOf(tokens.at(-1)!.refreshToken), 200, 'the newest one refreshes')

    // A sign-out drops its sign-in's kept refresh token; the next sign-in then ends no other.
    const newest = tokens.at(-1)!
    t.equal((await app.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken: newest.refreshToken } })).statusCode, 204)
    const after = await app.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: email, password: TEST_PASSWORD } })
    t.equal(after.statusCode, 200)
    t.same(await Promise.all(tokens.slice(SIGN_INS - MAX, -1).map(async ({ accessToken }) => await bearer(accessToken))), Array(MAX - 1).fill(200),
      'the sign-in that replaced the signed-out one ended none of the others')
  })
}

t.test('sessions that lapsed count for nothing: a sign-in at the limit ends none of the account\'s live sessions while lapsed ones are listed', async (t) => {
  const apps = await Promise.all((['memory', 'redis'] as const).map(async (store) => await testApp(emulator, {
    SESSION_MAX_PER_USER: '3',
    SESSION_IDLE_SECONDS: '60',
    ...store === 'redis' ? { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') } : {}
  })))
  t.teardown(async () => { await Promise.all(apps.map(async (app) => { await app.close() })) })
  const me = async (app: FastifyInstance, cookie: string): Promise<number> => (await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode
  const accounts = await Promise.all(apps.map(async (app) => {
    const email = await emulator.user(['LINE_LEADER'])
    // The terminal in use, then two sign-ins left alone (a closed tab), which lapse after SESSION_IDLE_SECONDS.
    const inUse = (await signIn(app, email, TEST_PASSWORD)).cookie
    await signIn(app, email, TEST_PASSWORD)
    await signIn(app, email, TEST_PASSWORD)
    return { app, email, inUse }
  }))
  await sleep(35_000)
  t.same(await Promise.all(accounts.map(async ({ app, inUse }) => await me(app, inUse))), [200, 200], 'the terminal in use is used')
  await sleep(30_000)
  for (const { app, email, inUse } of accounts) {
    const next = await signIn(app, email, TEST_PASSWORD)
    t.equal(next.response.statusCode, 200)
    t.equal(await me(app, inUse), 200, 'the one live session of the account goes on: the two lapsed ones made the room')
    t.equal(await me(app, next.cookie), 200)
  }
})

/** Two instances on the machine's Redis keeping two sessions (or token-mode sign-ins) per account, closed after the test. */
async function instancesKeepingTwo (t: { teardown: (fn: () => Promise<void>) => void }, env: Record<string, string> = {}): Promise<readonly [FastifyInstance, FastifyInstance]> {
  const apps = await twoInstances(emulator, { SESSION_MAX_PER_USER: '2', ...env })
  t.teardown(async () => { await Promise.all(apps.map(async (app) => { await app.close() })) })
  return apps
}

/** Rounds of one account's four sign-ins sent at once, two to each instance (a burst that its failure budget allows). */
const ROUNDS = 10
const AT_ONCE = 4

t.test('redis, two instances: sign-ins of one account sent at once to both leave two sessions that work, not fewer', async (t) => {
  const [a, b] = await instancesKeepingTwo(t)
  for (let round = 0; round < ROUNDS; round++) {
    const email = await emulator.user(['LINE_LEADER'])
    const signIns = await Promise.all(Array.from({ length: AT_ONCE }, async (_, i) => await signIn(i % 2 === 0 ? a : b, email, TEST_PASSWORD)))
    t.same(signIns.map(({ response }) => response.statusCode), Array(AT_ONCE).fill(200), 'every sign-in succeeds')
    const working = await Promise.all(signIns.map(async ({ cookie }) => (await a.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode))
    t.equal(working.filter((status) => status === 200).length, 2, `round ${round}: two sessions work (${working.join(' ')})`)
  }
})

t.test('token mode, redis, two instances: sign-ins of one account sent at once to both leave two sign-ins that work, not fewer', async (t) => {
  const [a, b] = await instancesKeepingTwo(t, { SESSION_MODE: 'token' })
  for (let round = 0; round < ROUNDS; round++) {
    const email = await emulator.user(['LINE_LEADER'])
    const signIns = await Promise.all(Array.from({ length: AT_ONCE }, async (_, i) =>
      await (i % 2 === 0 ? a : b).inject({ method: 'POST', url: '/auth/sign-in', payload: { username: email, password: TEST_PASSWORD } })))
    // A sign-in that an answer at the same time made room against may be refused already (401), as if it came first.
    const refreshes = await Promise.all(signIns.map(async (response) => response.statusCode !== 200
      ? response.statusCode
      : (await a.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: response.json().tokens.refreshToken } })).statusCode))
    t.equal(refreshes.filter((status) => status === 200).length, 2, `round ${round}: two sign-ins work (${signIns.map((r) => r.statusCode).join(' ')}; refreshed: ${refreshes.join(' ')})`)
  }
})

t.test('redis: a sign-in writes its session before it lists it under the user (ending every session of the user relies on it)', async (t) => {
  const app = await testApp(emulator, { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') })
  const raw = await rawRedis()
  const monitor = await raw.monitor()
  t.teardown(async () => { monitor.disconnect(); raw.disconnect(); await app.close() })
  // Every command Redis executes, in the order it executes them (MONITOR), for the keys of sessions and their lists.
  const executed: string[] = []
  monitor.on('monitor', (_time: string, args: string[]) => {
    const [command, key] = args
    if (key?.startsWith('ims:session:') === true || key?.startsWith('ims:session-list:') === true) executed.push(`${command!.toLowerCase()} ${key.split(':')[1]!}`)
  })
  const { response } = await signIn(app, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
  t.equal(response.statusCode, 200, response.body)
  for (let wait = 0; wait < 50 && !executed.includes('zadd session-list'); wait++) await sleep(20)
  const written = executed.indexOf('set session')
  const listed = executed.indexOf('zadd session-list')
  t.ok(written !== -1 && listed !== -1, `the session is written and listed (${executed.join(', ')})`)
  t.ok(written < listed, `written first (${executed.join(', ')})`)
})
