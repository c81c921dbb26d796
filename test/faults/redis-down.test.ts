// Bar 41: with the Redis store down, session routes answer 503 and nothing crashes; service resumes when Redis returns.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, setCookies, signIn, testApp } from '../helpers/app.js'
import { ownRedis, rawRedis, type OwnRedis } from '../helpers/redis.js'

let emulator: Emulator
let redis: OwnRedis
let a: FastifyInstance
let b: FastifyInstance
/** What A logged. */
const logsOfA = new LogCapture()

t.before(async () => {
  // A redis-server of this test's own: the machine's shared one on 6379 is never stopped.
  redis = await ownRedis()
  emulator = await startEmulator()
  const env = { SESSION_STORE: 'redis', REDIS_URL: redis.url, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') }
  a = await testApp(emulator, env, { logStream: logsOfA })
  b = await testApp(emulator, env)
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await redis?.kill()
  await emulator?.stop()
})

const me = async (app: FastifyInstance, headers: Record<string, string>) => await app.inject({ method: 'GET', url: '/auth/me', headers })
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('bar 41: Redis down gives 503 with Retry-After on session routes, fast; it all resumes when Redis returns', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, email, TEST_PASSWORD)
  t.equal((await me(b, { cookie })).statusCode, 200)
  t.equal((await me(a, { cookie })).statusCode, 200, 'A now holds the session in its local view')
  const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
  const bearer = { authorization: `Bearer ${accessToken}` }
  t.equal((await me(a, bearer)).statusCode, 200)

  await redis.kill()
  try {
    // A's view may answer for a session it holds until its subscription is known to be gone (2 s at most), no longer.
    const killedAt = performance.now()
    let started = performance.now()
    let session = await me(a, { cookie })
    while (session.statusCode === 200 && performance.now() - killedAt < 2500) {
      await sleep(100)
      started = performance.now()
      session = await me(a, { cookie })
    }
    t.equal(session.statusCode, 503, 'a session held in the local view is not served once the view is stale')
    t.equal(session.json().error, 'UPSTREAM_UNAVAILABLE')
    t.ok(Number(session.headers['retry-after']) > 0, 'Retry-After is set')
    t.ok(performance.now() - started < 1500, 'fails fast')
    const signingIn = await b.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
    t.equal(signingIn.statusCode, 503)
    t.equal(signingIn.json().error, 'UPSTREAM_UNAVAILABLE')
    const out = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
    t.equal(out.statusCode, 503, 'a sign-out that cannot be recorded says so')
    t.equal((await a.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
    const ready = await a.inject({ method: 'GET', url: '/health/ready' })
    t.equal(ready.statusCode, 503)
    t.match(ready.json(), { error: 'UPSTREAM_UNAVAILABLE', message: 'Not ready: store not answering.', requestId: String, status: 'unavailable', checks: { keys: true, cognito: true, store: false } }, 'the contract\'s error body, with the checks')
    t.ok(Number(ready.headers['retry-after']) > 0, 'Retry-After on the 503')
    // Revocations made elsewhere cannot be known now: once the local view is stale, bearer tokens fail closed too.
    await sleep(2500)
    const token = await me(a, bearer)
    t.equal(token.statusCode, 503)
    t.equal(token.json().error, 'UPSTREAM_UNAVAILABLE')
  } finally {
    await redis.start()
  }

  // Back by itself: the same port, no restart of the app (Redis kept nothing, so sessions start anew).
  let resumed
  for (let attempt = 0; attempt < 50; attempt++) {
    resumed = await signIn(a, email, TEST_PASSWORD)
    if (resumed.response.statusCode === 200) break
    await sleep(200)
  }
  t.equal(resumed?.response.statusCode, 200, 'sign-in works again')
  // The operator learns why, once for the outage, not once per reconnection attempt (one a second at most, for some
  // seconds): a connection reset when Redis died may come first, then refused reconnections. Then that it is over.
  const told = logsOfA.entries.filter((line) => line.store === 'redis').map((line) => `${String(line.level)} ${String(line.fault)} ${String(line.msg)}`)
  const outage = told.slice(0, -1)
  t.ok(outage.length >= 1 && outage.length <= 2, `one line for the outage, or two if its cause changed (${outage.length})`)
  t.match(outage.at(-1), /^40 ECONNREFUSED Redis store unavailable: what needs it answers 503 until it returns$/, 'its cause: Redis refuses connections')
  t.ok(outage.every((line) => /^40 (ECONNRESET|ECONNREFUSED) Redis store unavailable/.test(line)), 'each a warning with its cause')
  t.equal(told.at(-1), '30 undefined Redis store available again', 'then that it is back')
  t.equal((await me(b, { cookie: resumed!.cookie })).statusCode, 200, 'and the session is shared again')
  t.equal((await me(a, { cookie })).statusCode, 401, 'the old session is gone with the old Redis')

  // Revocation after the gap: A must not trust what it knew before Redis went away.
  for (let attempt = 0; attempt < 50 && (await me(a, bearer)).statusCode !== 200; attempt++) await sleep(100)
  t.equal((await me(a, bearer)).statusCode, 200)
  const out = await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: resumed!.cookie }, payload: { global: true } })
  t.equal(out.statusCode, 204)
  t.equal((await me(a, bearer)).statusCode, 401, 'a global sign-out on B reaches A after the outage')
})

/** Each instance's broadcast channel for revocations (the store hands out one per name). */
const revocationChannel = (app: FastifyInstance) => app.store.channel('revocations')

/** Waits until both instances have subscribed anew since `generations` were read, and hear their channel. */
async function untilResubscribed (generations: number[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const channels = [a, b].map(revocationChannel)
    if (channels.every((channel, i) => channel.live && channel.generation !== generations[i])) return
    await sleep(100)
  }
  throw new Error('the instances did not subscribe again within 10 s')
}

t.test('a bearer sign-out whose write failed is not taken as done: retried, it reaches every instance', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
  const bearer = { authorization: `Bearer ${accessToken}` }
  await untilResubscribed([-1, -1])
  t.equal((await me(a, bearer)).statusCode, 200)
  t.equal((await me(b, bearer)).statusCode, 200)
  // The command connections drop (the subscriptions stay): A still trusts what it knows, only the write fails.
  const admin = await rawRedis(redis.url)
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal')
  admin.disconnect()
  const failed = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer, payload: {} })
  t.equal(failed.statusCode, 503, 'the sign-out could not be recorded, and says so')
  let retried = failed
  for (let attempt = 0; attempt < 50 && retried.statusCode === 503; attempt++) {
    await sleep(100)
    retried = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer, payload: {} })
  }
  t.equal(retried.statusCode, 204)
  // A answered once its own subscription had the message, so Redis has written it to B's too. B reads it on its next
  // turn of the event loop: the residual window src/session/revocations.ts names (a message still in B's socket),
  // which an inject in this same process could otherwise slip into.
  await nextTurn()
  t.equal((await me(b, bearer)).statusCode, 401, 'the retry was written: B refuses the token')
  t.equal((await me(a, bearer)).statusCode, 401)
})

t.test('a cookie sign-out that could not be recorded leaves the browser its cookie, and the retry ends the session everywhere', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, email, TEST_PASSWORD)
  await untilResubscribed([-1, -1])
  t.equal((await me(a, { cookie })).statusCode, 200, 'A holds the session in its local view')
  const admin = await rawRedis(redis.url)
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal')
  admin.disconnect()
  const failed = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
  t.equal(failed.statusCode, 503, 'the sign-out could not be recorded, and says so')
  t.same(setCookies(failed), [], 'the browser keeps its cookie, to sign out again')
  let retried = failed
  for (let attempt = 0; attempt < 50 && retried.statusCode === 503; attempt++) {
    await sleep(100)
    retried = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
  }
  t.equal(retried.statusCode, 204)
  t.ok(setCookies(retried).some((line) => line.startsWith('__Host-ims-session=;')), 'now the cookie is cleared')
  t.equal((await me(b, { cookie })).statusCode, 401, 'and the session is over on every instance')
  t.equal((await me(a, { cookie })).statusCode, 401)
})

t.test('revoked tokens stay revoked on every instance when Redis comes back empty', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
  const bearer = { authorization: `Bearer ${accessToken}` }
  await untilResubscribed([-1, -1])
  t.equal((await a.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer, payload: {} })).statusCode, 204)
  t.equal((await me(b, bearer)).statusCode, 401)
  const generations = [a, b].map((app) => revocationChannel(app).generation)
  await redis.kill()
  await redis.start()
  await untilResubscribed(generations)
  t.equal((await me(a, bearer)).statusCode, 401, 'A still refuses it though Redis lost the revocation')
  t.equal((await me(b, bearer)).statusCode, 401, 'and so does B')
})
