// A Redis store whose memory is full (maxmemory-policy noeviction, the one start-up accepts): writes are refused with
// 503, nothing already written is lost (a revocation included), and service resumes once memory is freed.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp } from '../helpers/app.js'
import { ownRedis, rawRedis, type OwnRedis } from '../helpers/redis.js'

let emulator: Emulator
let redis: OwnRedis
let raw: Redis
let app: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  redis = await ownRedis({ settings: ['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] })
  raw = await rawRedis(redis.url)
  emulator = await startEmulator()
  app = await testApp(emulator, { SESSION_STORE: 'redis', REDIS_URL: redis.url, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') }, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  raw?.disconnect()
  await redis?.kill()
  await emulator?.stop()
})

const me = async (headers: Record<string, string>) => await app.inject({ method: 'GET', url: '/auth/me', headers })

/**
 * Sets the server's memory limit: below what it uses (1 byte), it is full, as after writes took all its memory (a
 * noeviction server then refuses every write, whatever its size); 64 MB frees it again.
 */
async function limitMemory (bytes: number): Promise<void> {
  await raw.config('SET', 'maxmemory', String(bytes))
}

t.test('a full store refuses writes with 503, keeps what it holds, and serves again once memory is freed', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const session = await signIn(app, email, TEST_PASSWORD)
  const signedOut = await cognitoTokens(app, email, TEST_PASSWORD)
  t.equal((await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${signedOut.accessToken}` }, payload: {} })).statusCode, 204)

  await limitMemory(1)
  t.equal(await raw.set('probe', '1').then(() => 'written', () => 'refused'), 'refused', 'Redis is full')
  const refused = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(refused.statusCode, 503, 'a sign-in cannot be written: 503')
  t.equal(refused.json().error, 'UPSTREAM_UNAVAILABLE')
  t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After')
  t.equal((await me({ authorization: `Bearer ${signedOut.accessToken}` })).statusCode, 401, 'the token signed out before stays refused')
  t.equal((await me({ cookie: session.cookie })).statusCode, 200, 'the session written before still works')
  const signingOut = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: session.cookie }, payload: {} })
  t.equal(signingOut.statusCode, 503, 'a sign-out cannot be recorded either: 503')
  // The operator learns why: once, however many writes were refused (the sign-in's and the sign-out's).
  const told = logs.entries.filter((line) => line.store === 'redis').map((line) => `${String(line.level)} ${String(line.fault)} ${String(line.msg)}`)
  t.same(told, ['40 OOM Redis refused a command: what needs it answers 503'], 'one line names the full memory')

  await limitMemory(64 * 1024 * 1024)
  const again = await signIn(app, email, TEST_PASSWORD)
  t.equal(again.response.statusCode, 200, 'memory freed: sign-ins work again')
  t.equal((await me({ cookie: again.cookie })).statusCode, 200)
})

t.test('a sign-out refused with 503 (store full) and retried once memory is freed revokes the session\'s access token', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const accessToken = (await app.sessions.find(cookie.split('=')[1]))!.record.accessToken
  const bearer = { authorization: `Bearer ${accessToken}` }
  t.equal((await me(bearer)).statusCode, 200, 'the session\'s access token works before')
  await limitMemory(1)
  const first = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
  t.equal(first.statusCode, 503, 'the sign-out cannot be recorded')
  t.notOk(first.headers['set-cookie'], 'the browser keeps its cookie to try again with')
  await limitMemory(64 * 1024 * 1024)
  const retry = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
  t.equal(retry.statusCode, 204, 'the retry signs out')
  t.equal((await me({ cookie })).statusCode, 401, 'the session has ended')
  t.equal((await me(bearer)).statusCode, 401, 'and its access token is refused')
})

t.test('token mode: a sign-out with only the refresh token, refused with 503 and retried once memory is freed, ends the sign-in', async (t) => {
  const tokenApp = await testApp(emulator, { SESSION_MODE: 'token', SESSION_STORE: 'redis', REDIS_URL: redis.url, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') })
  t.teardown(async () => { await tokenApp.close() })
  const signedIn = await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: await emulator.user(['MANAGER']), password: TEST_PASSWORD } })
  const { accessToken, refreshToken } = signedIn.json().tokens as { accessToken: string, refreshToken: string }
  const bearer = { authorization: `Bearer ${accessToken}` }
  const meHere = async () => (await tokenApp.inject({ method: 'GET', url: '/auth/me', headers: bearer })).statusCode
  t.equal(await meHere(), 200, 'the access token works before')
  await limitMemory(1)
  // Cognito revokes the refresh token; the store cannot record the sign-out.
  t.equal((await tokenApp.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken } })).statusCode, 503)
  await limitMemory(64 * 1024 * 1024)
  // The retry finds the refresh token revoked at Cognito already, and its sign-in still listed here.
  t.equal((await tokenApp.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken } })).statusCode, 204, 'the retry signs out')
  t.equal(await meHere(), 401, 'and the sign-in\'s access token is refused')
})
