// The benchmark (`npm run bench`): throughput of authenticated routes against the bare route, verification, sign-in, session memory.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createPublicKey, randomBytes, randomUUID, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { Writable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { FastifyInstance } from 'fastify'
import { AdminGetUserCommand, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider'
import { loadConfig } from '../fastify.config.js'
import { buildApp } from '../src/app.js'
import { TokenVerifier } from '../src/auth/token-verifier.js'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../test/helpers/emulator.js'
import { emulatorEnv } from '../test/helpers/app.js'
import { emulatorPrivateKey, payloadOf, signRs256 } from '../test/helpers/jwt.js'
import { freePort } from '../test/helpers/ports.js'

const require = createRequire(import.meta.url)

/** Load per row: 10 connections keep one app process busy; 3 rounds of 4 s, best round kept (other load only lowers). */
const CONNECTIONS = 10
const SECONDS = 4
const ROUNDS = 3
const SIGN_INS = 60
const SESSIONS = 10_000
const README = new URL('./README.md', import.meta.url)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Logs are serialised as in production, then dropped (the load would otherwise flood the terminal). */
const discard = (): Writable => new Writable({ write (_chunk, _encoding, callback) { callback() } })

/** A loaded route: its best requests per second, and the least CPU time this process spent per request (µs). */
interface Row { name: string, url: string, headers: Record<string, string>, rps: number, cpu: number }

/**
 * Runs autocannon in a child process (its own core) against `url`; returns requests per second and the app's CPU
 * time per request (this process serves the app; the figure barely moves when other work shares the machine).
 */
async function load (url: string, headers: Record<string, string>): Promise<{ rps: number, cpu: number }> {
  const args = [require.resolve('autocannon/autocannon.js'), '-j', '-c', String(CONNECTIONS), '-d', String(SECONDS)]
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}=${value}`)
  args.push(url)
  const cpuBefore = process.cpuUsage()
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (error, out) => { error === null ? resolve(out) : reject(error) })
  })
  const cpu = process.cpuUsage(cpuBefore)
  const result = JSON.parse(stdout) as { requests: { average: number, total: number }, non2xx: number, errors: number, timeouts: number }
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  return { rps: result.requests.average, cpu: (cpu.user + cpu.system) / result.requests.total }
}

/** The p-th percentile of `values` (ms). */
function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function listen (app: FastifyInstance): Promise<string> {
  return await app.listen({ port: 0, host: '127.0.0.1' })
}

/** A minimal IMS backend in a child process, so the app's core is not shared with it. */
async function startUpstream (): Promise<{ url: string, child: ChildProcess }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"ok":true}') }).listen(${port}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve) => child.stdout!.once('data', resolve))
  return { url: `http://127.0.0.1:${port}`, child }
}

async function signInCookie (base: string, username: string): Promise<string> {
  const response = await fetch(`${base}/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf': '1' },
    body: JSON.stringify({ username, password: TEST_PASSWORD })
  })
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith('__Host-ims-session='))
  if (response.status !== 200 || cookie === undefined) throw new Error(`sign-in through the adapter failed: ${response.status} ${await response.text()}`)
  return cookie.split(';')[0]!
}

/** Mean microseconds per call of `fn` over `inputs`, best of several batches. */
async function microseconds (inputs: string[], fn: (input: string) => unknown, batches = 7): Promise<number> {
  let best = Infinity
  for (let batch = 0; batch < batches; batch++) {
    const started = process.hrtime.bigint()
    for (const input of inputs) await fn(input)
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / inputs.length)
  }
  return best
}

/** First-seen verification through the adapter's verifier against a bare crypto.verify of the same tokens. */
async function verification (emulator: Emulator, genuine: string): Promise<{ adapter: number, raw: number }> {
  const key = emulatorPrivateKey()
  const claims = payloadOf(genuine)
  const tokens = Array.from({ length: 200 }, () => signRs256({ ...claims, jti: randomUUID() }))
  // A cache of one, cycled through 200 tokens: every verification is a first sight.
  const verifier = new TokenVerifier({ userPoolId: emulator.userPoolId, clientId: emulator.clientId, endpoint: emulator.endpoint, graceSeconds: 5, jwksTimeoutMs: 3000, cacheSize: 1 })
  await verifier.hydrate()
  const publicKey: KeyObject = createPublicKey(key)
  const raw = (token: string): boolean => {
    const dot = token.lastIndexOf('.')
    return cryptoVerify('RSA-SHA256', Buffer.from(token.slice(0, dot)), publicKey, Buffer.from(token.slice(dot + 1), 'base64url'))
  }
  for (const token of tokens) if (!raw(token)) throw new Error('raw verify failed')
  await microseconds(tokens, async (token) => await verifier.verifyAccess(token), 2)
  const adapter = await microseconds(tokens, async (token) => await verifier.verifyAccess(token))
  const bare = await microseconds(tokens, raw)
  return { adapter, raw: bare }
}

/**
 * Sign-in latency through the adapter (HTTP) against a direct InitiateAuth to the same emulator, and against the
 * InitiateAuth + AdminGetUser pair that endpoint mode asks of the emulator (its disabled-user gap), interleaved.
 */
async function signInLatency (emulator: Emulator, base: string, username: string): Promise<{ adapter: number[], direct: number[], pair: number[] }> {
  const samples = { adapter: [] as number[], direct: [] as number[], pair: [] as number[] }
  const initiate = async (): Promise<void> => {
    const output = await emulator.client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: emulator.clientId, AuthParameters: { USERNAME: username, PASSWORD: TEST_PASSWORD } }))
    if (output.AuthenticationResult?.AccessToken === undefined) throw new Error('direct sign-in failed')
  }
  const runs: Array<[keyof typeof samples, () => Promise<unknown>]> = [
    ['adapter', async () => await signInCookie(base, username)],
    ['direct', initiate],
    ['pair', async () => await Promise.all([initiate(), emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: username }))])]
  ]
  for (let i = 0; i < SIGN_INS + 5; i++) {
    for (const [name, run] of runs) {
      const started = performance.now()
      await run()
      if (i >= 5) samples[name].push(performance.now() - started)
    }
  }
  return samples
}

/** Extra RSS (MB) of SESSIONS live sessions in the memory store, each with its own token strings. */
async function sessionMemory (app: FastifyInstance, tokens: { accessToken: string, idToken: string, refreshToken: string }): Promise<number> {
  // Same lengths as real tokens, distinct strings (as real sessions would hold).
  const variant = (token: string, i: number): string => token.slice(0, -8) + String(i).padStart(8, '0')
  gc()
  const before = process.memoryUsage().rss
  for (let i = 0; i < SESSIONS; i++) {
    await app.sessions.create({
      sub: randomUUID(),
      username: randomUUID(),
      email: `user-${i}@ims.test`,
      groups: ['LINE_LEADER'],
      accessToken: variant(tokens.accessToken, i),
      refreshToken: variant(tokens.refreshToken, i),
      accessExpiresAt: Date.now() + 3600_000
    })
  }
  gc()
  return (process.memoryUsage().rss - before) / 1024 / 1024
}

async function main (): Promise<void> {
  const emulator = await startEmulator()
  const upstream = await startUpstream()
  const apps: FastifyInstance[] = []
  const build = async (env: Record<string, string>): Promise<string> => {
    const app = await buildApp(loadConfig(emulatorEnv(emulator, { API_UPSTREAM_URL: upstream.url, AUTH_IP_LIMIT: '100000', ...env })), { logStream: discard() })
    apps.push(app)
    return await listen(app)
  }
  try {
    const memory = await build({})
    const redis = await build({ SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') })
    const memoryApp = apps[0]!
    const username = await emulator.user(['LINE_LEADER'])
    const direct = await memoryApp.cognito.auth.signIn(username, TEST_PASSWORD)
    if (direct.kind !== 'tokens' || direct.tokens.refreshToken === undefined) throw new Error('expected tokens')
    const tokens = { ...direct.tokens, refreshToken: direct.tokens.refreshToken }

    process.stdout.write(`memory: ${SESSIONS} live sessions in the memory store...\n`)
    const sessionsMb = await sessionMemory(memoryApp, tokens)

    const memoryCookie = await signInCookie(memory, username)
    const redisCookie = await signInCookie(redis, username)
    const bearer = { authorization: `Bearer ${tokens.accessToken}` }
    const rows: Row[] = [
      { name: 'GET /health/live (bare route)', url: `${memory}/health/live`, headers: {}, rps: 0, cpu: Infinity },
      { name: 'GET /auth/me, bearer token', url: `${memory}/auth/me`, headers: bearer, rps: 0, cpu: Infinity },
      { name: 'GET /auth/me, cookie, memory store', url: `${memory}/auth/me`, headers: { cookie: memoryCookie }, rps: 0, cpu: Infinity },
      { name: 'GET /auth/me, cookie, redis store', url: `${redis}/auth/me`, headers: { cookie: redisCookie }, rps: 0, cpu: Infinity }
    ]
    const probe = await fetch(`${memory}/api/bench`, { headers: { cookie: memoryCookie } })
    if (probe.status === 200) rows.push({ name: 'GET /api/bench, cookie, proxied', url: `${memory}/api/bench`, headers: { cookie: memoryCookie }, rps: 0, cpu: Infinity })
    else process.stdout.write(`(no proxy row: /api answered ${probe.status})\n`)
    for (const row of rows) {
      const check = await fetch(row.url, { headers: row.headers })
      if (check.status !== 200) throw new Error(`${row.name}: ${check.status}`)
    }

    for (let round = 1; round <= ROUNDS; round++) {
      for (const row of rows) {
        const { rps, cpu } = await load(row.url, row.headers)
        row.rps = Math.max(row.rps, rps)
        row.cpu = Math.min(row.cpu, cpu)
        process.stdout.write(`round ${round}  ${row.name.padEnd(40)} ${Math.round(rps)} req/s  ${cpu.toFixed(1)} µs CPU/request\n`)
      }
    }

    process.stdout.write('verification: first-seen tokens against crypto.verify...\n')
    const verify = await verification(emulator, tokens.accessToken)
    process.stdout.write('sign-in: through the adapter against direct InitiateAuth...\n')
    const latency = await signInLatency(emulator, memory, username)

    const bare = rows[0]!
    const ratio = (row: Row): number => row.rps / bare.rps
    const capacity = (row: Row): number => bare.cpu / row.cpu
    const signInP50 = percentile(latency.adapter, 50) - percentile(latency.direct, 50)
    const targets: Record<string, number> = {
      'GET /auth/me, bearer token': 0.85,
      'GET /auth/me, cookie, memory store': 0.85,
      'GET /auth/me, cookie, redis store': 0.6
    }
    const verdict = (ok: boolean): string => ok ? 'met' : 'MISSED'
    const lines = [
      '| measure | figure | ratio / difference | target |',
      '|---|---|---|---|',
      ...rows.map((row) => {
        const target = targets[row.name]
        const met = target === undefined ? '' : `>= ${target}: req/s ${verdict(ratio(row) >= target)}, CPU ${verdict(capacity(row) >= target)}`
        return `| ${row.name} | ${Math.round(row.rps)} req/s; ${row.cpu.toFixed(1)} µs CPU/req | ${ratio(row).toFixed(2)} of bare req/s; ${capacity(row).toFixed(2)} of bare by CPU | ${met} |`
      }),
      `| first-seen token verification | ${verify.adapter.toFixed(1)} µs (crypto.verify ${verify.raw.toFixed(1)} µs) | ${(verify.adapter / verify.raw).toFixed(2)}x | <= 1.3x: ${verdict(verify.adapter / verify.raw <= 1.3)} |`,
      `| sign-in p50 (adapter / direct InitiateAuth) | ${percentile(latency.adapter, 50).toFixed(2)} / ${percentile(latency.direct, 50).toFixed(2)} ms | +${signInP50.toFixed(2)} ms | <= +2 ms: ${verdict(signInP50 <= 2)} |`,
      `| sign-in p95 (adapter / direct InitiateAuth) | ${percentile(latency.adapter, 95).toFixed(2)} / ${percentile(latency.direct, 95).toFixed(2)} ms | +${(percentile(latency.adapter, 95) - percentile(latency.direct, 95)).toFixed(2)} ms | |`,
      `| sign-in p50 (adapter / direct InitiateAuth + AdminGetUser, the emulator's disabled-user gap) | ${percentile(latency.adapter, 50).toFixed(2)} / ${percentile(latency.pair, 50).toFixed(2)} ms | +${(percentile(latency.adapter, 50) - percentile(latency.pair, 50)).toFixed(2)} ms | |`,
      `| sign-in p95 (adapter / the same pair) | ${percentile(latency.adapter, 95).toFixed(2)} / ${percentile(latency.pair, 95).toFixed(2)} ms | +${(percentile(latency.adapter, 95) - percentile(latency.pair, 95)).toFixed(2)} ms | |`,
      `| ${SESSIONS.toLocaleString('en')} live sessions, memory store | +${sessionsMb.toFixed(1)} MB RSS | ${(sessionsMb * 1024 * 1024 / SESSIONS / 1024).toFixed(1)} KB each | < 100 MB: ${verdict(sessionsMb < 100)} |`
    ]
    const machine = `${availableParallelism()} cores (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} at the end (other work on the machine lowers every figure)`
    process.stdout.write(`\n${lines.join('\n')}\n\nmachine: ${machine}\n`)
    await writeFile(README, [
      '# Benchmarks',
      '',
      'Run `npm run bench` (`tsx bench/run.ts`, about two minutes). It starts cognito-local and a one-line upstream in a child',
      'process, builds the real app twice (memory and Redis stores, Redis at 127.0.0.1:6379, logs at info into a discarding',
      `stream), and loads each row with autocannon in a child process (${CONNECTIONS} connections, ${SECONDS} s, best of ${ROUNDS} interleaved rounds:`,
      'on 2 cores the app gets one core and the load generator the other; other work on the machine only lowers a round).',
      'First-seen verification cycles 200 distinct RS256 tokens through a verifier whose cache holds one; sign-in latency',
      `alternates ${SIGN_INS} adapter sign-ins (HTTP, cookie mode, memory store) with direct InitiateAuth calls.`,
      'Session memory: RSS after a full GC, before and after creating the sessions through the session manager.',
      '',
      `Latest run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}.`,
      '',
      ...lines,
      ''
    ].join('\n'))
    process.stdout.write(`written to bench/README.md\n`)
  } finally {
    for (const app of apps) await app.close()
    upstream.child.kill()
    await emulator.stop()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
