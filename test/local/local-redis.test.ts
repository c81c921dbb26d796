// `npm start` with SESSION_STORE=redis: Redis setups the store cannot hold with stop start-up by name; TLS with a password and a least-privilege user work.
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { ownRedis, type OwnRedis } from '../helpers/redis.js'
import { selfSignedCertificate, type TestCertificate } from '../helpers/tls.js'
import { DEMO_PASSWORD, localEnv, runUntilExit, startServer, stopServer } from '../helpers/local-server.js'

/** A password the server expects, and one it does not: neither may show in what the adapter prints. */
const REDIS_PASSWORD = 'redis-Secret-4711'
const WRONG_PASSWORD = 'not-the-Secret-0815'

/**
 * Redis setups the store cannot hold with, each: how to reach it (a redis-server of the test's own, and the REDIS_URL
 * and environment to start with) and the sentence start-up stops with.
 */
const unfitRedis: Array<[string, (t: Test) => Promise<{ redis: OwnRedis, env: Record<string, string> }>, RegExp]> = [
  ['a Redis Cluster node', async () => {
    const redis = await ownRedis({ cluster: true })
    return { redis, env: { REDIS_URL: redis.url } }
  }, /REDIS_URL points at a Redis Cluster \(cluster mode enabled, as ElastiCache Serverless always is\); the session store needs a single primary/],
  ['a server that evicts keys when full', async () => {
    const redis = await ownRedis({ settings: ['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru'] })
    return { redis, env: { REDIS_URL: redis.url } }
  }, /REDIS_URL's server evicts keys when its memory is full \(maxmemory-policy volatile-lru\), so it could drop a revocation/],
  ['a server that wants a password REDIS_URL does not give', async () => {
    const redis = await ownRedis({ password: REDIS_PASSWORD })
    return { redis, env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` } }
  }, /REDIS_URL's server refused to let this instance in \(NOAUTH\): give it the username and password it expects \(on ElastiCache, the AUTH token\)/],
  ['a server that refuses REDIS_URL\'s password', async () => {
    const redis = await ownRedis({ password: REDIS_PASSWORD })
    return { redis, env: { REDIS_URL: `redis://:${WRONG_PASSWORD}@127.0.0.1:${redis.port}` } }
  }, /REDIS_URL's server refused to let this instance in \(WRONGPASS\)/],
  ['a TLS server whose certificate nobody vouches for', async (t) => {
    const certificate = await selfSignedCertificate()
    t.teardown(certificate.remove)
    const redis = await ownRedis({ tls: certificate, password: REDIS_PASSWORD })
    return { redis, env: { REDIS_URL: redis.url } }
  }, /REDIS_URL's server presented a TLS certificate this process does not trust \(DEPTH_ZERO_SELF_SIGNED_CERT\): ElastiCache's are trusted as they are; for a server with a certificate of your own, give its CA certificate in NODE_EXTRA_CA_CERTS/],
  ['a TLS server by a name its certificate does not have', async (t) => {
    const certificate = await selfSignedCertificate()
    t.teardown(certificate.remove)
    const redis = await ownRedis({ tls: certificate, password: REDIS_PASSWORD })
    return { redis, env: { REDIS_URL: redis.url.replace('127.0.0.1', 'localhost'), NODE_EXTRA_CA_CERTS: certificate.certFile } }
  }, /REDIS_URL's server presented a TLS certificate this process does not trust \(ERR_TLS_CERT_ALTNAME_INVALID\)/],
  ['a replica (a reader endpoint where the primary\'s belongs)', async (t) => {
    const primary = await ownRedis()
    t.teardown(async () => { await primary.kill() })
    const redis = await ownRedis({ settings: ['--replicaof', '127.0.0.1', String(primary.port)] })
    return { redis, env: { REDIS_URL: redis.url } }
  }, /REDIS_URL points at a replica, which refuses every write: give the primary's address \(on ElastiCache, the primary endpoint, not the reader endpoint\)/],
  ['a server whose ACL denies its user transactions', async () => {
    const redis = await ownRedis({ settings: ['--user', 'ims', 'on', `>${REDIS_PASSWORD}`, '~*', '&*', '+@all', '-@transaction'] })
    return { redis, env: { REDIS_URL: `redis://ims:${REDIS_PASSWORD}@127.0.0.1:${redis.port}` } }
  }, /REDIS_URL's user may not run every command the session store needs \(NOPERM\)/],
  ['a server whose ACL denies its user pub/sub', async () => {
    const redis = await ownRedis({ settings: ['--user', 'ims', 'on', `>${REDIS_PASSWORD}`, '~*', '&*', '+@all', '-@pubsub'] })
    return { redis, env: { REDIS_URL: `redis://ims:${REDIS_PASSWORD}@127.0.0.1:${redis.port}` } }
  }, /REDIS_URL's user may not run every command the session store needs \(NOPERM\): it needs reads, writes, transactions, scripts and pub\/sub on the keys and channels that start with ims:/]
]
for (const [name, reach, refusal] of unfitRedis) {
  t.test(`a REDIS_URL that reaches ${name} stops start-up with a sentence naming the setting`, async (t) => {
    const { redis, env } = await reach(t)
    t.teardown(async () => { await redis.kill() })
    const { code, output } = await runUntilExit({ ...await localEnv(t), SESSION_STORE: 'redis', ...env })
    t.equal(code, 1, 'start-up stops')
    t.match(output, /Refusing to start: /)
    t.match(output, refusal)
    t.notMatch(output, /\n\s+at /, 'no stack trace')
    t.notOk(output.includes(REDIS_PASSWORD) || output.includes(WRONG_PASSWORD), 'no password is shown')
  })
}

t.test('a REDIS_URL to a TLS server with its password, as ElastiCache with in-transit encryption and AUTH: the store works over it', async (t) => {
  const certificate = await selfSignedCertificate()
  t.teardown(certificate.remove)
  const redis = await ownRedis({ tls: certificate, password: REDIS_PASSWORD })
  t.teardown(async () => { await redis.kill() })
  t.match(redis.url, /^rediss:\/\/:/, 'TLS, and a password in the URL')
  const server = await startServer({ ...await localEnv(t), SESSION_STORE: 'redis', REDIS_URL: redis.url, NODE_EXTRA_CA_CERTS: certificate.certFile, LOG_LEVEL: 'info' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const ready = await fetch(`${server.url}/health/ready`)
  t.same([ready.status, (await ready.json() as { checks: unknown }).checks], [200, { keys: true, cognito: true, store: true }], 'ready, the store included')
  await signInAndOut(t, server.url, async () => {
    const keys = await tlsRedisKeys(redis, certificate)
    t.ok(keys.some((key) => key.startsWith('ims:session:')), 'the session is in that Redis')
  })
  await stopServer(server)
  t.notOk(server.output().includes(REDIS_PASSWORD), 'the password shows nowhere in the logs')
})

t.test('a REDIS_URL whose user has only the access string start-up suggests (ims: keys and channels, nothing dangerous but INFO): the store works', async (t) => {
  const redis = await ownRedis({ settings: ['--user', 'ims', 'on', `>${REDIS_PASSWORD}`, '~ims:*', '&ims:*', '+@all', '-@dangerous', '+info'] })
  t.teardown(async () => { await redis.kill() })
  const server = await startServer({ ...await localEnv(t), SESSION_STORE: 'redis', REDIS_URL: `redis://ims:${REDIS_PASSWORD}@127.0.0.1:${redis.port}` })
  t.teardown(() => { server.child.kill('SIGKILL') })
  t.equal((await fetch(`${server.url}/health/ready`)).status, 200, 'ready')
  await signInAndOut(t, server.url, async () => {})
  await stopServer(server)
  t.notMatch(server.output(), /NOPERM|Skipping the ready check/, 'no command was refused')
})

/**
 * Signs the demo LINE_LEADER in and reads the session back, runs `meanwhile`, then signs out (published on the change
 * channel, the store's second connection) and finds the session over: what every use of a store goes through.
 */
async function signInAndOut (t: Test, url: string, meanwhile: () => Promise<void>): Promise<void> {
  const signedIn = await fetch(`${url}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body: JSON.stringify({ username: 'leader@ims.local', password: DEMO_PASSWORD }) })
  t.equal(signedIn.status, 200, 'a sign-in writes its session')
  const cookie = signedIn.headers.getSetCookie().find((line) => line.startsWith('__Host-ims-session='))!.split(';')[0]!
  const me = await fetch(`${url}/auth/me`, { headers: { cookie } })
  t.equal(`${me.status} ${(await me.json() as { primaryRole?: string }).primaryRole}`, '200 LINE_LEADER', 'and reads it back')
  await meanwhile()
  const out = await fetch(`${url}/auth/sign-out`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf': '1' }, body: '{}' })
  t.equal(out.status, 204, 'a sign-out is recorded and published')
  t.equal((await fetch(`${url}/auth/me`, { headers: { cookie } })).status, 401, 'and the session is over')
}

/** The keys a TLS redis-server holds, read with its password. */
async function tlsRedisKeys (redis: OwnRedis, certificate: TestCertificate): Promise<string[]> {
  const client = new Redis(redis.url, { tls: { ca: certificate.cert }, lazyConnect: true, retryStrategy: () => null })
  try {
    await client.connect()
    return await client.keys('*')
  } finally {
    client.disconnect()
  }
}

t.test('a REDIS_URL that reaches a server with a memory limit and noeviction starts', async (t) => {
  const redis = await ownRedis({ settings: ['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] })
  t.teardown(async () => { await redis.kill() })
  const server = await startServer({ ...await localEnv(t), SESSION_STORE: 'redis', REDIS_URL: redis.url })
  t.equal((await fetch(`${server.url}/health/ready`)).status, 200, 'ready')
  await stopServer(server)
})
