// Two app instances on one Redis behave as one: sessions, sign-out and revocation at once, throttling, sealed storage.
import t from 'tap'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, cognitoTokens, cookieValue, signIn, testApp } from '../helpers/app.js'
import { rawRedis, SHARED_REDIS_URL } from '../helpers/redis.js'
import { payloadOf, signRs256 } from '../helpers/jwt.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'

let emulator: Emulator
let a: FastifyInstance
let b: FastifyInstance
let redis: Redis

t.before(async () => {
  redis = await rawRedis()
  emulator = await startEmulator()
  // Instances that share a store share the key; the IP limit is raised so other tests on this Redis cannot trip it.
  const env = { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex'), AUTH_IP_LIMIT: '1000' }
  a = await testApp(emulator, env)
  b = await testApp(emulator, env)
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  redis?.disconnect()
  await emulator?.stop()
})

const me = async (app: FastifyInstance, headers: Record<string, string>) => await app.inject({ method: 'GET', url: '/auth/me', headers })
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

t.test('signed in on A, the session works on B; a global sign-out on B is refused on A at the very next request', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, email, TEST_PASSWORD)
  const onB = await me(b, { cookie })
  t.equal(onB.statusCode, 200)
  t.equal(onB.json().email, email)
  // The same user's access token from another device, used on both instances first (so each remembers it as valid).
  const device = await cognitoTokens(a, email, TEST_PASSWORD)
  t.equal((await me(a, bearer(device.accessToken))).statusCode, 200)
  t.equal((await me(b, bearer(device.accessToken))).statusCode, 200)

  const out = await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: { global: true } })
  t.equal(out.statusCode, 204)
  const cookieOnA = await me(a, { cookie })
  t.equal(cookieOnA.statusCode, 401)
  t.equal(cookieOnA.json().error, 'UNAUTHENTICATED')
  const tokenOnA = await me(a, bearer(device.accessToken))
  t.equal(tokenOnA.statusCode, 401, 'the old access token is refused on the other instance')
  t.equal(tokenOnA.json().error, 'UNAUTHENTICATED')
  t.equal((await me(b, bearer(device.accessToken))).statusCode, 401)
})

/** How many GETs Redis has served so far (all clients). */
async function redisGets (): Promise<number> {
  const stats = await redis.info('commandstats')
  return Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

t.test('a session in use on A is answered from A\'s own view, and still ends on A the moment B ends it', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const single = await signIn(b, email, TEST_PASSWORD)
  const everywhere = await signIn(b, email, TEST_PASSWORD)
  const rotated = await signIn(b, email, TEST_PASSWORD)
  for (const { cookie } of [single, everywhere, rotated]) t.equal((await me(a, { cookie })).statusCode, 200, 'A reads each once')

  const before = await redisGets()
  for (let i = 0; i < 40; i++) t.equal((await me(a, { cookie: single.cookie })).statusCode, 200)
  const gets = await redisGets() - before
  t.ok(gets < 10, `40 cookie requests on A cost ${gets} Redis GETs`)

  // New tokens written by B (the refresh that runs near expiry keeps the id): A serves them, not what it remembered.
  const id = everywhere.cookie.split('=')[1]!
  const seenOnA = await a.sessions.find(id)
  const onB = await b.sessions.find(id)
  await b.refreshSession(onB!)
  const written = (await b.sessions.find(id))!.record.accessToken
  t.not(written, seenOnA!.record.accessToken, 'B holds new tokens')
  t.equal((await a.sessions.find(id))!.record.accessToken, written, 'A reads them at once')

  // The refresh route also rotates the id: the old one is refused on A at once.
  const refreshed = await b.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie: rotated.cookie }, payload: {} })
  t.equal(refreshed.statusCode, 200)
  const newCookie = `__Host-ims-session=${refreshed.cookies.find((c) => c.name === '__Host-ims-session')?.value ?? ''}`
  t.equal((await me(a, { cookie: rotated.cookie })).statusCode, 401, 'the id B rotated away is refused on A at once')
  t.equal((await me(a, { cookie: newCookie })).statusCode, 200, 'and the new one works there')

  t.equal((await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: single.cookie }, payload: {} })).statusCode, 204)
  t.equal((await me(a, { cookie: single.cookie })).statusCode, 401, 'a sign-out on B ends the session on A at the very next request')
  t.equal((await me(a, { cookie: everywhere.cookie })).statusCode, 200, 'the user\'s other session is untouched')

  t.equal((await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: everywhere.cookie }, payload: { global: true } })).statusCode, 204)
  t.equal((await me(a, { cookie: newCookie })).statusCode, 401, 'sign-out everywhere on B ends every session of the user on A at once')
})

t.test('a sign-out with a bearer token revokes that token on every instance, and only that token', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const first = await cognitoTokens(a, email, TEST_PASSWORD)
  const second = await cognitoTokens(a, email, TEST_PASSWORD)
  for (const app of [a, b]) {
    t.equal((await me(app, bearer(first.accessToken))).statusCode, 200)
    t.equal((await me(app, bearer(second.accessToken))).statusCode, 200)
  }
  const out = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer(first.accessToken), payload: {} })
  t.equal(out.statusCode, 204)
  t.equal((await me(b, bearer(first.accessToken))).statusCode, 401, 'refused on B at once')
  t.equal((await me(a, bearer(first.accessToken))).statusCode, 401)
  t.equal((await me(b, bearer(second.accessToken))).statusCode, 200, 'the other token of that user still works')
})

t.test('a token seen for the first time on an instance is judged by what another instance revoked', async (t) => {
  const email = await emulator.user(['ADMIN'])
  const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
  t.equal((await a.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer(accessToken), payload: {} })).statusCode, 204)
  t.equal((await me(b, bearer(accessToken))).statusCode, 401)
})

t.test('revoking a token revokes the tokens refreshed from the same sign-in (one origin_jti), on every instance', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
  // Real Cognito's tokens carry origin_jti (cognito-local's do not): two tokens of one sign-in, signed by the pool's key.
  const origin = randomUUID()
  const [first, refreshed] = [randomUUID(), randomUUID()].map((jti) => signRs256({ ...payloadOf(accessToken), jti, origin_jti: origin }))
  t.equal((await me(b, bearer(refreshed!))).statusCode, 200)
  t.equal((await a.inject({ method: 'POST', url: '/auth/sign-out', headers: bearer(first!), payload: {} })).statusCode, 204)
  t.equal((await me(b, bearer(refreshed!))).statusCode, 401, 'the refreshed token of that sign-in is refused too')
  t.equal((await me(a, bearer(accessToken))).statusCode, 200, 'a token of another sign-in is not')
  // Its refresh token goes on giving tokens with that origin_jti for the app client's refresh-token validity (30 days
  // by default), not only for an access token's lifetime.
  t.ok(await redis.ttl(`ims:revoked-jti:${origin}`) > 29 * 86_400, 'the sign-in stays revoked as long as its refresh token lives')
})

t.test('the token a refresh replaced is revoked on every instance, and its successor from the same sign-in is not', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
  const origin = randomUUID()
  const [replaced, successor] = [randomUUID(), randomUUID()].map((jti) => signRs256({ ...payloadOf(accessToken), jti, origin_jti: origin }))
  await a.revocations.revokeToken(replaced!)
  t.equal((await me(b, bearer(replaced!))).statusCode, 401)
  t.equal((await me(b, bearer(successor!))).statusCode, 200, 'the successor shares the origin_jti and still works')
})

t.test('a sign-in right after a global sign-out gets a token that works (same second as the revocation)', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, email, TEST_PASSWORD)
  const out = await a.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: { global: true } })
  t.equal(out.statusCode, 204)
  const { accessToken } = await cognitoTokens(b, email, TEST_PASSWORD)
  t.equal((await me(b, bearer(accessToken))).statusCode, 200)
  t.equal((await me(a, bearer(accessToken))).statusCode, 200)
})

t.test('failed sign-ins are counted across both instances', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const statuses: number[] = []
  let limited
  for (let attempt = 0; attempt < 8 && limited === undefined; attempt++) {
    const app = attempt % 2 === 0 ? a : b
    const response = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: 'Wrong-Passw0rd!' } })
    statuses.push(response.statusCode)
    if (response.statusCode === 429) limited = response
  }
  // AUTH_FAILURE_LIMIT is 5: five failures spread over A and B, then 429 whichever instance answers.
  t.same(statuses, [401, 401, 401, 401, 401, 429])
  t.equal(limited?.json().error, 'TOO_MANY_REQUESTS')
  t.ok(Number(limited?.headers['retry-after']) > 0, 'Retry-After is set')
})

t.test('bar 26: what Redis keeps holds no session id, no access, ID or refresh token in clear', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, email, TEST_PASSWORD)
  const id = cookie.split('=')[1]!
  // The tokens the session holds, as the app opens them (only the app with the key can).
  const session = await a.sessions.find(id)
  t.ok(session, 'the session exists')
  const secrets = { id, access: session!.record.accessToken, refresh: a.sessions.refreshToken(session!.record)! }
  t.ok(secrets.refresh.length > 0)

  const hashed = await redis.zrange(`ims:session-list:${session!.record.sub}`, '0', '-1')
  t.equal(hashed.length, 1, 'the user has one session in Redis')
  const raw = await redis.get(`ims:session:${hashed[0]}`)
  t.ok(raw !== null && raw.length > 0, 'the session is in Redis')
  t.notOk(raw!.includes('eyJ'), 'no JWT in clear')
  for (const [name, secret] of Object.entries(secrets)) t.notOk(raw!.includes(secret), `no ${name} in the stored session`)

  // And nowhere in the adapter's key space (bounded scan).
  let cursor = '0'
  let rounds = 0
  const found: string[] = []
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'ims:*', 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      const type = await redis.type(key)
      const values = type === 'string' ? [await redis.get(key) ?? ''] : type === 'set' ? await redis.smembers(key) : []
      for (const value of [key, ...values]) {
        for (const [name, secret] of Object.entries(secrets)) if (value.includes(secret)) found.push(`${name} in ${key}`)
      }
    }
  } while (cursor !== '0' && ++rounds < 200)
  t.same(found, [], 'no secret anywhere in ims:*')

  // The other instance opens the sealed session with the shared key.
  t.equal((await me(b, { cookie })).statusCode, 200)
})

/** True when the response tells the browser to drop its session cookie. */
const clears = (response: { cookies: Array<{ name: string, value: string }> }) => response.cookies.some((c) => c.name === SESSION_COOKIE && c.value === '')

t.test('two tabs refresh one session at once on two instances: both are refreshed, and one sign-out ends it all', async (t) => {
  const refresh = async (app: FastifyInstance, cookie: string) => await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie }, payload: {} })
  for (let round = 0; round < 8; round++) {
    const email = await emulator.user(['MANAGER'])
    const { cookie } = await signIn(a, email, TEST_PASSWORD)
    const answers = await Promise.all([refresh(a, cookie), refresh(b, cookie)])
    t.same(answers.map((r) => r.statusCode), [200, 200], `round ${round}: both tabs are refreshed`)
    const issued = answers.map((r) => cookieValue(r, SESSION_COOKIE))
    t.equal(issued[0], issued[1], `round ${round}: both are given the one new session id, whichever answer the browser keeps`)
    const newCookie = `${SESSION_COOKIE}=${issued[0]!}`
    for (const app of [a, b]) t.equal((await me(app, { cookie: newCookie })).statusCode, 200, `round ${round}: it works`)
    t.equal((await me(b, { cookie })).statusCode, 401, `round ${round}: the old id does not`)

    // Signed out from either tab (both hold that cookie now): nothing of the session lives on, whichever id is tried.
    const out = await [a, b][round % 2]!.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: newCookie }, payload: {} })
    t.equal(out.statusCode, 204)
    for (const app of [a, b]) {
      for (const tried of [cookie, newCookie]) t.equal((await me(app, { cookie: tried })).statusCode, 401, `round ${round}: signed out`)
      t.equal((await refresh(app, newCookie)).statusCode, 401, `round ${round}: and it cannot be refreshed back`)
    }
  }
})

t.test('a refresh before expiry on B that loses to a refresh on A does not end the session A issued', async (t) => {
  for (let round = 0; round < 5; round++) {
    const email = await emulator.user(['MANAGER'])
    const { cookie } = await signIn(a, email, TEST_PASSWORD)
    // The session's access token is about to expire, so B refreshes it before answering.
    const session = (await a.sessions.find(cookie.split('=')[1]))!
    await a.sessions.update(session, { accessToken: session.record.accessToken, accessExpiresAt: Date.now() + 30_000, groups: session.record.groups })
    const [refreshed, used] = await Promise.all([
      a.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie }, payload: {} }),
      b.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
    ])
    if (refreshed.statusCode !== 200) continue // B moved it first: then A lost, which the test above covers
    const issued = cookieValue(refreshed, SESSION_COOKIE)!
    t.equal((await me(b, { cookie: `${SESSION_COOKIE}=${issued}` })).statusCode, 200, `round ${round}: the refreshed session works (B answered ${used.statusCode})`)
    if (used.statusCode === 401) t.notOk(clears(used), `round ${round}: B's 401 leaves the browser the new cookie`)
  }
})

/** The Redis key of the session a cookie names, and what Redis holds there now with its time to live (ms). */
async function storedSession (cookie: string): Promise<{ key: string, raw: string | null, ttlMs: number }> {
  const key = `ims:session:${createHash('sha256').update(cookie.split('=')[1]!).digest('base64url')}`
  return { key, raw: await redis.get(key), ttlMs: await redis.pttl(key) }
}

t.test('a signed-out session that Redis brings back (a lost delete: a failover, a restored snapshot) is refused on both instances', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(a, email, TEST_PASSWORD)
  t.equal((await me(a, { cookie })).statusCode, 200)
  t.equal((await me(b, { cookie })).statusCode, 200)
  const before = await storedSession(cookie)
  t.ok(before.raw !== null, 'the session is in Redis')

  t.equal((await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie } })).statusCode, 204)
  t.equal((await storedSession(cookie)).raw, null, 'the sign-out deleted it')
  // What a replica that never got the delete would serve after a failover: the record as it was.
  await redis.set(before.key, before.raw!, 'PX', before.ttlMs)

  for (const [name, app] of [['A', a], ['B', b]] as const) {
    const response = await me(app, { cookie })
    t.equal(response.statusCode, 401, `${name}: the old cookie is refused`)
    t.equal(response.json().error, 'UNAUTHENTICATED')
    const refresh = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie } })
    t.equal(refresh.statusCode, 401, `${name}: nor can it be refreshed`)
  }
})

t.test('a copy of a session whose token was revoked gives way to the newer one in Redis, which A has not yet heard of', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(b, email, TEST_PASSWORD)
  const id = cookie.split('=')[1]!
  const first = await storedSession(cookie)
  // B refreshes the tokens (same id): Redis holds the new ones, and the token they replace is revoked everywhere.
  await b.refreshSession((await b.sessions.find(id))!)
  const second = await storedSession(cookie)
  t.not(second.raw, first.raw)

  // A comes to hold the old copy, then Redis gets the new one without a word to A (written here by hand, unannounced).
  await redis.set(first.key, first.raw!, 'PX', first.ttlMs)
  t.equal((await me(a, { cookie })).statusCode, 401, 'the old copy alone: its token is revoked')
  await redis.set(second.key, second.raw!, 'PX', second.ttlMs)

  const response = await me(a, { cookie })
  t.equal(response.statusCode, 200, 'A finds the new copy in Redis instead of refusing the session')
  t.equal(response.json().email, email)
})

t.test('a session record altered in Redis no longer opens: roles, owner, lifetime and key are sealed with its token', async (t) => {
  const admin = await signIn(a, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const adminRaw = (await storedSession(admin.cookie)).raw!
  /** A fresh LINE_LEADER session whose record in Redis `alter` rewrites, asked about on B (which never read it). */
  const afterAltering = async (alter: (record: Record<string, unknown>) => Record<string, unknown>) => {
    const { cookie } = await signIn(a, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
    const stored = await storedSession(cookie)
    await redis.set(stored.key, JSON.stringify(alter(JSON.parse(stored.raw!) as Record<string, unknown>)), 'PX', stored.ttlMs)
    return await b.inject({ method: 'GET', url: '/admin/users', headers: { cookie } })
  }
  t.equal((await afterAltering((record) => record)).statusCode, 403, 'written back unchanged: still the LINE_LEADER it was')
  t.equal((await afterAltering((record) => ({ ...record, lastSeenAt: Date.now() }))).statusCode, 403,
    'the last-seen time alone is written without a seal (a touch); changing it grants nothing')
  const altered: Record<string, (record: Record<string, unknown>) => Record<string, unknown>> = {
    'ADMIN among its groups': (record) => ({ ...record, groups: ['ADMIN'] }),
    'another owner': (record) => ({ ...record, sub: JSON.parse(adminRaw).sub, username: JSON.parse(adminRaw).username }),
    'a later absolute end': (record) => ({ ...record, absoluteExpiresAt: Number(record.absoluteExpiresAt) + 86_400_000 }),
    'an extra field': (record) => ({ ...record, role: 'ADMIN' }),
    "the ADMIN's record moved under its key": () => JSON.parse(adminRaw) as Record<string, unknown>,
    "the ADMIN's sealed token in it": (record) => ({ ...record, accessTokenSealed: JSON.parse(adminRaw).accessTokenSealed })
  }
  for (const [name, alter] of Object.entries(altered)) {
    const response = await afterAltering(alter)
    t.equal(response.statusCode, 401, `${name}: the session is refused`)
    t.equal(response.json().error, 'UNAUTHENTICATED')
  }
  t.equal((await b.inject({ method: 'GET', url: '/admin/users', headers: { cookie: admin.cookie } })).statusCode, 200, 'the ADMIN\'s own session still works')
})

t.test('a pending challenge in Redis opens only under its own key and as written', async (t) => {
  const pending = { challenge: 'SOFTWARE_TOKEN_MFA' as const, cognitoName: 'SOFTWARE_TOKEN_MFA', cognitoSession: randomUUID(), username: 'someone', details: {}, startedAt: Date.now() }
  const keyOf = (id: string) => `ims:challenge:${createHash('sha256').update(id).digest('base64url')}`
  const copyTo = async (from: string, alter: (record: Record<string, unknown>) => Record<string, unknown> = (record) => record) => {
    const to = randomBytes(32).toString('base64url')
    await redis.set(keyOf(to), JSON.stringify(alter(JSON.parse((await redis.get(keyOf(from)))!) as Record<string, unknown>)), 'EX', 60)
    return to
  }
  const expiresAt = Date.now() + 30_000
  const id = await a.sessions.saveChallenge(pending, { attempts: 2, id: randomBytes(32).toString('base64url'), expiresAt })
  const moved = await copyTo(id)
  const fewerAttempts = await copyTo(id, (record) => ({ ...record, attempts: 0 }))
  const otherUser = await copyTo(id, (record) => ({ ...record, username: 'someone-else' }))
  const later = await copyTo(id, (record) => ({ ...record, expiresAt: expiresAt + 600_000 }))
  t.equal(await b.sessions.takeChallenge(moved), undefined, 'copied under another id: refused')
  t.equal(await b.sessions.takeChallenge(fewerAttempts), undefined, 'its wrong answers reset: refused')
  t.equal(await b.sessions.takeChallenge(otherUser), undefined, 'another username: refused')
  t.equal(await b.sessions.takeChallenge(later), undefined, 'a later end: refused')
  t.same(await b.sessions.takeChallenge(id), { ...pending, attempts: 2, expiresAt }, 'as written, under its own id: it opens')
})
