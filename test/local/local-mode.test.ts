// `npm start` in local mode, as a newcomer runs it: the emulator, mailbox, pool and demo users, kept across restarts; busy ports refused; crashes logged.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { startBareEmulator } from '../helpers/emulator.js'
import { freePort } from '../helpers/ports.js'
import { ownRedis, type OwnRedis } from '../helpers/redis.js'
import { selfSignedCertificate, type TestCertificate } from '../helpers/tls.js'

const DEMO_PASSWORD = 'Ims-Demo-2026!'

interface Running { child: ChildProcessWithoutNullStreams, output: () => string, url: string, readyMs: number }

/** Spawns the server the way `npm start` does (`nodeArgs` go to Node first); `output` is stdout and stderr so far. */
function spawnServer (env: Record<string, string>, nodeArgs: string[] = []): { child: ChildProcessWithoutNullStreams, output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts'], { env: { PATH: process.env.PATH ?? '', ...env } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return { child, output: () => output }
}

/** Runs the server the way `npm start` does and waits for its banner. */
async function startServer (env: Record<string, string>, nodeArgs: string[] = []): Promise<Running> {
  const started = Date.now()
  const { child, output: read } = spawnServer(env, nodeArgs)
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const banner = /adapter\s+(http:\/\/\S+)/.exec(read())
    if (banner !== null) return { child, output: read, url: banner[1]!, readyMs: Date.now() - started }
    if (child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`the server did not start: ${read().slice(-800)}`)
}

/** Runs the server until it exits by itself (killed after `timeoutMs`, exit code null then). */
async function runUntilExit (env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null, output: string }> {
  const { child, output } = spawnServer(env)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await exited
  clearTimeout(timer)
  return { code: child.signalCode === null ? code : null, output: output() }
}

/** The environment of a local-mode start on free ports, its state in a temp dir removed after `t`. */
async function localEnv (t: Test): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ims-local-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  return {
    PORT: String(await freePort()),
    COGNITO_LOCAL_PORT: String(await freePort()),
    SES_LOCAL_PORT: String(await freePort()),
    LOCAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn'
  }
}

async function stopServer (running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve))
  running.child.kill('SIGTERM')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
}

async function signIn (url: string, username: string, password = DEMO_PASSWORD) {
  const response = await fetch(`${url}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body: JSON.stringify({ username, password }) })
  return { status: response.status, body: await response.json() as Record<string, any> }
}

t.test('local mode starts everything, prints the URLs and logins, and keeps its pool across restarts', async (t) => {
  const env = await localEnv(t)
  const first = await startServer(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  // Start-up time is a figure for the benchmark notes, not an assertion (it depends on the machine's load).
  t.comment(`ready in ${first.readyMs} ms`)
  for (const text of ['admin@ims.local', 'manager@ims.local', 'leader@ims.local', DEMO_PASSWORD, `127.0.0.1:${env.COGNITO_LOCAL_PORT}`, `127.0.0.1:${env.SES_LOCAL_PORT}`, '/docs']) {
    t.ok(first.output().includes(text), `the banner shows ${text}`)
  }
  for (const [username, role] of [['admin@ims.local', 'ADMIN'], ['manager@ims.local', 'MANAGER'], ['leader@ims.local', 'LINE_LEADER']]) {
    const { status, body } = await signIn(first.url, username!)
    t.equal(status, 200, `${username} signs in`)
    t.equal(body.user?.primaryRole, role)
  }
  const config = await (await fetch(`${first.url}/auth/config`)).json() as Record<string, string>
  t.equal(config.mode, 'local')
  const mailbox = await fetch(`http://127.0.0.1:${env.SES_LOCAL_PORT}/store`)
  t.equal(mailbox.status, 200, 'the local mailbox answers')
  const ready = await fetch(`${first.url}/health/ready`)
  t.equal(ready.status, 200)
  await stopServer(first)
  t.not(first.child.exitCode, null, 'it stops on SIGTERM')

  // A restart with another IMS_DEMO_PASSWORD: the kept demo users take it, as the banner says.
  const newPassword = 'Other-Demo-2027?'
  const second = await startServer({ ...env, IMS_DEMO_PASSWORD: newPassword })
  t.teardown(() => { second.child.kill('SIGKILL') })
  const again = await (await fetch(`${second.url}/auth/config`)).json() as Record<string, string>
  t.equal(again.userPoolId, config.userPoolId, 'the same pool after a restart')
  t.equal(again.clientId, config.clientId, 'the same app client')
  t.ok(second.output().includes(`demo logins (password ${newPassword})`), 'the banner shows the new password')
  for (const username of ['admin@ims.local', 'manager@ims.local', 'leader@ims.local']) {
    t.equal((await signIn(second.url, username, newPassword)).status, 200, `${username} signs in with the password the banner shows`)
  }
  t.equal((await signIn(second.url, 'admin@ims.local')).status, 401, 'the old password no longer works')
  await stopServer(second)
})

t.test('a request the local Lambda endpoint cannot decode is refused, and the adapter keeps running', async (t) => {
  const env = await localEnv(t)
  const server = await startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  // The endpoint listens on a free port that local mode writes into cognito-local's configuration.
  const cognitoConfig = JSON.parse(await readFile(join(env.LOCAL_DATA_DIR!, 'cognito', '.cognito', 'config.json'), 'utf8')) as { LambdaClient: { endpoint: string } }
  for (const name of ['%E0', '%', 'arn%3Aaws%3Alambda%3Alocal%3A0%3Afunction%3A%ZZ']) {
    const response = await fetch(`${cognitoConfig.LambdaClient.endpoint}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{}' })
    t.equal(response.status, 404, `${name}: not found`)
    t.equal(response.headers.get('x-amzn-errortype'), 'ResourceNotFoundException', name)
  }
  t.equal(server.child.exitCode, null, 'the process is alive')
  t.equal((await fetch(`${server.url}/health/live`)).status, 200, 'and the adapter answers')
  await stopServer(server)
})

/**
 * Starts local mode with a real unhandled rejection raised inside the server process on demand (SIGWINCH, otherwise
 * ignored), rejected with `reason` (JavaScript source), raises it, and answers the exit code and the JSON log lines.
 */
async function crash (t: Test, reason: string): Promise<{ env: Record<string, string>, code: number | null, lines: Array<Record<string, unknown>> }> {
  const env = await localEnv(t)
  const server = await startServer(env, ['--import', `data:text/javascript,process.on("SIGWINCH", () => { Promise.reject(${reason}) })`])
  t.teardown(() => { server.child.kill('SIGKILL') })
  const exited = new Promise<number | null>((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGWINCH')
  const code = await exited
  const lines = server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
  return { env, code, lines }
}

t.test('an uncaught error is logged by name and message, error level, before the process exits', async (t) => {
  const { code, lines } = await crash(t, 'new RangeError("the disk is on fire")')
  t.equal(code, 1, 'it exits with 1')
  const logged = lines.find((line) => line.msg === 'uncaught error: closing')
  t.match(logged, { level: 50, failure: 'RangeError', message: 'the disk is on fire' }, 'one error line names it')
  t.notMatch(JSON.stringify(logged), /\sat\s|stack/, 'no stack trace')
})

t.test('a promise rejected with null still closes everything: the emulator does not outlive the adapter', async (t) => {
  const { env, code, lines } = await crash(t, 'null')
  t.equal(code, 1, 'it exits with 1')
  t.match(lines.find((line) => line.msg === 'uncaught error: closing'), { level: 50, failure: 'null' }, 'one error line says what it was')
  // The embedded cognito-local was stopped with the adapter: its port is free again.
  t.ok(await portFree(Number(env.COGNITO_LOCAL_PORT)), 'COGNITO_LOCAL_PORT is free again')
})

t.test('local mode refuses a COGNITO_LOCAL_PORT that another emulator holds, instead of using that one', async (t) => {
  const env = await localEnv(t)
  const foreign = await startBareEmulator({ port: Number(env.COGNITO_LOCAL_PORT) })
  t.teardown(foreign.stop)
  const { code, output } = await runUntilExit(env)
  t.equal(code, 1, 'start-up stops')
  t.match(output, `COGNITO_LOCAL_PORT ${env.COGNITO_LOCAL_PORT} is in use`)
  t.notMatch(output, /adapter\s+http/, 'no banner')
})

t.test('local mode refuses an SES_LOCAL_PORT another program holds, with a sentence naming it', async (t) => {
  const env = await localEnv(t)
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(Number(env.SES_LOCAL_PORT), '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const { code, output } = await runUntilExit(env)
  t.equal(code, 1, 'start-up stops')
  t.match(output, `SES_LOCAL_PORT ${env.SES_LOCAL_PORT} is in use`)
  t.notMatch(output, /Cannot read properties/)
})

/** Whether `port` on 127.0.0.1 is free to listen on. */
async function portFree (port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => { resolve(false) }).listen(port, '127.0.0.1', () => { probe.close(() => { resolve(true) }) })
  })
}

t.test('a PORT another program holds stops start-up with a sentence naming it, and the emulator stops too', async (t) => {
  const env = await localEnv(t)
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(Number(env.PORT), '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const { code, output } = await runUntilExit(env)
  t.equal(code, 1, 'start-up stops')
  t.match(output, `Refusing to start: PORT ${env.PORT} is in use on 127.0.0.1`)
  t.ok(await portFree(Number(env.COGNITO_LOCAL_PORT)), 'COGNITO_LOCAL_PORT is free again')
})

t.test('SIGTERM while local mode is still starting stops the emulator it started, instead of leaving it behind', async (t) => {
  const env = await localEnv(t)
  const { child, output } = spawnServer(env)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  // The emulator listens first; the pool, its demo users and the app come after.
  const deadline = Date.now() + 30_000
  while (await portFree(Number(env.COGNITO_LOCAL_PORT)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notMatch(output(), /adapter\s+http/, 'the signal comes before the banner')
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
  const code = await exited
  clearTimeout(timer)
  t.equal(code, 0, 'it exits by itself, cleanly')
  t.notMatch(output(), /adapter\s+http/, 'without serving')
  t.ok(await portFree(Number(env.COGNITO_LOCAL_PORT)), 'COGNITO_LOCAL_PORT is free again: the emulator stopped with it')
  t.ok(await portFree(Number(env.SES_LOCAL_PORT)), 'and so is SES_LOCAL_PORT')
})

t.test('local mode refuses NODE_ENV=production with a sentence saying why', async (t) => {
  const { code, output } = await runUntilExit({ NODE_ENV: 'production' })
  t.equal(code, 1)
  t.match(output, /Refusing to start: COGNITO_USER_POOL_ID is not set and NODE_ENV=production/)
})

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
