// The benchmark (`npm run bench`): throughput of authenticated routes against the bare route, verification, sign-in, session memory.
import { createHook } from 'node:async_hooks'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createPublicKey, randomBytes, randomUUID, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, request, type IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { FastifyInstance } from 'fastify'
import { AdminGetUserCommand, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider'
import { JwtVerifier } from 'aws-jwt-verify'
import { SimpleJwksCache } from 'aws-jwt-verify/jwk'
import { loadConfig } from '../fastify.config.js'
import { buildApp } from '../src/app.js'
import { DeadlineFetcher, TokenVerifier } from '../src/auth/token-verifier.js'
import type { Session } from '../src/session/sessions.js'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../test/helpers/emulator.js'
import { emulatorEnv } from '../test/helpers/app.js'
import { emulatorPrivateKey, payloadOf, signRs256 } from '../test/helpers/jwt.js'
import { freePort } from '../test/helpers/ports.js'

const require = createRequire(import.meta.url)

/**
 * Load per row: 10 connections keep one app process busy; one warm-up round, then 12 rounds of 1 s per row, each run
 * between two runs of the bare route and judged by the median of its ratios to their mean (on this shared 2-core
 * machine the speed swings by half within seconds: many short side-by-side pairs beat a few long runs).
 */
const CONNECTIONS = 10
const SECONDS = 1
const ROUNDS = 12
/** First-seen verification: distinct tokens per batch, and batches (the median one counts). */
const TOKENS = 400
const BATCHES = 15
const SIGN_INS = 100
/** Single checks timed just after the process has idled IDLE_MS, as the work after each Cognito answer runs. */
const WAKES = 200
const IDLE_MS = 5
const SESSIONS = 10_000
/** Requests over which the promises the app creates per request are counted. */
const COUNTED_REQUESTS = 1000
/** Sessions the rotating Redis row cycles through: more than an instance's session view keeps (10,000), so none is there. */
const ROTATED_SESSIONS = 12_000
const README = new URL('./README.md', import.meta.url)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Logs are serialised as in production, then dropped (the load would otherwise flood the terminal). */
const discard = (): Writable => new Writable({ write (_chunk, _encoding, callback) { callback() } })

/** A loaded route: its requests per second and the CPU time this process spent per request (µs), one per counted round. */
interface Row {
  name: string
  url: string
  headers: Record<string, string>
  /** A file of Cookie header values, one per line: each request carries the next one in turn (else `headers` only). */
  cookies?: string
  rps: number[]
  cpu: number[]
  /** Per measurement of this row: the bare route's figures around it (the mean of the runs just before and after). */
  bareRps: number[]
  bareCpu: number[]
}

/** wrk when it is on PATH (C, lighter than autocannon, so the app process stays the bottleneck); otherwise autocannon. */
type Generator = 'wrk' | 'autocannon'

async function onPath (name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      await access(join(dir, name), constants.X_OK)
      return true
    } catch {}
  }
  return false
}

async function output (file: string, args: string[]): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (error, out) => { error === null ? resolve(out) : reject(error) })
  })
}

/** A wrk script that sends the Cookie values of `cookies` (a file, one per line) in turn, one per request. */
function rotatingCookiesScript (cookies: string): string {
  return [
    'local cookies = {}',
    `for line in io.lines(${JSON.stringify(cookies)}) do cookies[#cookies + 1] = line end`,
    'local next = 0',
    'request = function()',
    '  next = next % #cookies + 1',
    '  return wrk.format(nil, nil, { ["Cookie"] = cookies[next] })',
    'end'
  ].join('\n')
}

/** wrk's requests per second and request count for one run against `url`; any error response or socket error fails. */
async function wrk (url: string, headers: Record<string, string>, cookies?: string): Promise<{ rps: number, total: number }> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`]
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`)
  if (cookies !== undefined) {
    const script = `${cookies}.lua`
    await writeFile(script, rotatingCookiesScript(cookies))
    args.push('-s', script)
  }
  const out = await output('wrk', [...args, url])
  const total = /(\d+) requests in/.exec(out)?.[1]
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]
  if (total === undefined || rps === undefined || /Non-2xx or 3xx responses|Socket errors/.test(out)) throw new Error(`${url}: wrk reported\n${out}`)
  return { rps: Number(rps), total: Number(total) }
}

/** The same from autocannon, run by Node in a child process (through its API when the cookies rotate). */
async function autocannon (url: string, headers: Record<string, string>, cookies?: string): Promise<{ rps: number, total: number }> {
  const args = cookies === undefined
    ? [require.resolve('autocannon/autocannon.js'), '-j', '-c', String(CONNECTIONS), '-d', String(SECONDS), ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}=${value}`]), url]
    : ['-e', [
        `const cookies = require('node:fs').readFileSync(${JSON.stringify(cookies)}, 'utf8').split('\\n')`,
        'let next = 0',
        `require(${JSON.stringify(require.resolve('autocannon'))})({ url: ${JSON.stringify(url)}, connections: ${CONNECTIONS}, duration: ${SECONDS},`,
        `  headers: ${JSON.stringify(headers)}, requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length] } }) }]`,
        '}, (error, result) => { if (error) throw error; process.stdout.write(JSON.stringify(result)) })'
      ].join('\n')]
  const result = JSON.parse(await output(process.execPath, args)) as { requests: { average: number, total: number }, non2xx: number, errors: number, timeouts: number }
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  return { rps: result.requests.average, total: result.requests.total }
}

/**
 * Loads `url` from a child process (its own core); returns requests per second and the app's CPU time per request
 * (this process serves the app; the figure barely moves when other work shares the machine).
 */
async function load (generator: Generator, url: string, headers: Record<string, string>, cookies?: string): Promise<{ rps: number, cpu: number }> {
  const cpuBefore = process.cpuUsage()
  const { rps, total } = generator === 'wrk' ? await wrk(url, headers, cookies) : await autocannon(url, headers, cookies)
  const cpu = process.cpuUsage(cpuBefore)
  return { rps, cpu: (cpu.user + cpu.system) / total }
}

/**
 * Promises this process creates per request of `url` (async_hooks), over COUNTED_REQUESTS sequential keep-alive
 * requests from a child process: a count, so unlike a time it does not drift with the machine. Each promise is an
 * allocation and a turn of the microtask queue on the request's path.
 */
async function promisesPerRequest (url: string, headers: Record<string, string>): Promise<number> {
  const client = [
    `const http = require('node:http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); let left = ${COUNTED_REQUESTS}`,
    `const next = () => { if (left-- === 0) return agent.destroy(); http.get(${JSON.stringify(url)}, { agent, headers: ${JSON.stringify(headers)} }, (response) => {`,
    '  if (response.statusCode !== 200) process.exit(1); response.resume(); response.on(\'end\', next) }) }; next()'
  ].join('\n')
  let promises = 0
  const counter = createHook({ init (_id, type) { if (type === 'PROMISE') promises++ } })
  const child = spawn(process.execPath, ['-e', client], { stdio: 'inherit' })
  counter.enable()
  const code = await new Promise((resolve) => child.once('exit', resolve))
  counter.disable()
  if (code !== 0) throw new Error(`${url}: the counting client failed`)
  return promises / COUNTED_REQUESTS
}

/** The p-th percentile of `values` (ms). */
function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = sorted.length / 2
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!
}

/** The median of the paired ratios xs[i] / ys[i] (each pair measured side by side). */
function medianRatio (xs: number[], ys: number[]): number {
  return median(xs.map((x, i) => x / ys[i]!))
}

/** A difference with its sign: +1.20, -0.35. */
function signed (value: number, digits: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`
}

/** The median of the paired differences xs[i] - ys[i]. */
function medianDifference (xs: number[], ys: number[]): number {
  return median(xs.map((x, i) => x - ys[i]!))
}

/** The first and third quartiles of the paired ratios: how far apart the pairs fell. */
function ratioSpread (xs: number[], ys: number[]): string {
  const ratios = xs.map((x, i) => x / ys[i]!)
  return `${percentile(ratios, 25).toFixed(2)}–${percentile(ratios, 75).toFixed(2)}`
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

/** Mean microseconds per call of `fn` over `inputs` (awaited only when it returns a promise). */
async function microseconds (inputs: string[], fn: (input: string) => unknown): Promise<number> {
  const started = process.hrtime.bigint()
  for (const input of inputs) {
    const result = fn(input)
    if (result instanceof Promise) await result
  }
  return Number(process.hrtime.bigint() - started) / 1000 / inputs.length
}

/**
 * First-seen verification of the same tokens through the adapter's verifier, through aws-jwt-verify alone and through
 * a bare crypto.verify, interleaved per batch; µs per token for each counted batch (the first warms up).
 */
async function verification (emulator: Emulator, genuine: string): Promise<{ adapter: number[], library: number[], raw: number[], woken: number[] }> {
  const key = emulatorPrivateKey()
  const claims = payloadOf(genuine)
  // Flat strings, as a request header delivers them: a concatenated string is flattened by whichever of the three
  // touches it first, a cost a real token does not carry.
  const tokens = Array.from({ length: TOKENS }, () => Buffer.from(signRs256({ ...claims, jti: randomUUID() }), 'latin1').toString('latin1'))
  // A cache of one, cycled through the tokens: every verification is a first sight.
  const verifier = new TokenVerifier({ userPoolId: emulator.userPoolId, clientId: emulator.clientId, endpoint: emulator.endpoint, graceSeconds: 5, jwksTimeoutMs: 3000, cacheSize: 1 })
  await verifier.hydrate()
  // The library's own fetcher is https-only; cognito-local serves its JWKS over http, as the adapter's fetcher allows.
  const issuer = `${emulator.endpoint}/${emulator.userPoolId}`
  const library = JwtVerifier.create({ issuer, audience: null, jwksUri: `${issuer}/.well-known/jwks.json` }, { jwksCache: new SimpleJwksCache({ fetcher: new DeadlineFetcher(3000) }) })
  await library.hydrate()
  const publicKey: KeyObject = createPublicKey(key)
  const raw = (token: string): boolean => {
    const dot = token.lastIndexOf('.')
    return cryptoVerify('RSA-SHA256', Buffer.from(token.slice(0, dot)), publicKey, Buffer.from(token.slice(dot + 1), 'base64url'))
  }
  for (const token of tokens) if (!raw(token)) throw new Error('raw verify failed')
  const samples = { adapter: [] as number[], library: [] as number[], raw: [] as number[], woken: [] as number[] }
  const ways: Array<[keyof typeof samples, (token: string) => unknown]> = [
    ['adapter', (token) => verifier.verifyAccess(token)],
    ['library', (token) => library.verifySync(token)],
    ['raw', raw]
  ]
  for (let batch = 0; batch <= BATCHES; batch++) {
    // Each batch starts with another of the three, so none always meets the tokens first (cold in the CPU's caches).
    for (let i = 0; i < ways.length; i++) {
      const [name, way] = ways[(batch + i) % ways.length]!
      const perToken = await microseconds(tokens, way)
      if (batch > 0) samples[name].push(perToken)
    }
  }
  // What waking costs on this machine: the same bare check, once the process has idled as it does awaiting Cognito.
  for (const token of tokens.slice(0, WAKES)) {
    await sleep(IDLE_MS)
    samples.woken.push(await microseconds([token], raw))
  }
  return samples
}

/** One request on `agent`; resolves once the response body has been read. */
async function send (agent: Agent, url: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<IncomingMessage> {
  return await new Promise((resolve, reject) => {
    request(url, { agent, method: options.method ?? 'GET', headers: options.headers }, (response) => {
      response.on('end', () => { resolve(response) }).on('error', reject).resume()
    }).on('error', reject).end(options.body)
  })
}

/**
 * Sign-in latency through the adapter (HTTP, a keep-alive node:http client) against a direct InitiateAuth to the same
 * emulator, and against the InitiateAuth + AdminGetUser pair that endpoint mode asks of the emulator (its disabled-user
 * gap; that AdminGetUser is also timed alone), interleaved with a GET /health/live on the same client: the price of the
 * HTTP hop itself.
 */
async function signInLatency (emulator: Emulator, base: string, username: string): Promise<{ adapter: number[], hop: number[], direct: number[], pair: number[], gap: number[] }> {
  const samples = { adapter: [] as number[], hop: [] as number[], direct: [] as number[], pair: [] as number[], gap: [] as number[] }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const body = JSON.stringify({ username, password: TEST_PASSWORD })
  const signIn = async (): Promise<void> => {
    const response = await send(agent, `${base}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body })
    const cookie = response.headers['set-cookie']?.some((line) => line.startsWith('__Host-ims-session=')) ?? false
    if (response.statusCode !== 200 || !cookie) throw new Error(`sign-in through the adapter failed: ${response.statusCode}`)
  }
  const live = async (): Promise<void> => {
    const response = await send(agent, `${base}/health/live`)
    if (response.statusCode !== 200) throw new Error(`GET /health/live: ${response.statusCode}`)
  }
  const initiate = async (): Promise<void> => {
    const output = await emulator.client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: emulator.clientId, AuthParameters: { USERNAME: username, PASSWORD: TEST_PASSWORD } }))
    if (output.AuthenticationResult?.AccessToken === undefined) throw new Error('direct sign-in failed')
  }
  const getUser = async (): Promise<unknown> => await emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: username }))
  const runs: Array<[keyof typeof samples, () => Promise<unknown>]> = [
    ['adapter', signIn],
    ['hop', live],
    ['direct', initiate],
    // As the adapter asks them of the emulator: AdminGetUser once InitiateAuth's request has left (src/cognito/auth.ts).
    ['pair', async () => await Promise.all([initiate(), nextTurn().then(getUser)])],
    ['gap', getUser]
  ]
  try {
    for (let i = 0; i < SIGN_INS + 5; i++) {
      for (const [name, run] of runs) {
        const started = performance.now()
        await run()
        if (i >= 5) samples[name].push(performance.now() - started)
      }
    }
  } finally {
    agent.destroy()
  }
  return samples
}

/**
 * ROTATED_SESSIONS sessions in the app's (Redis) store and a file of their Cookie values, one per line; `end` ends them.
 */
async function rotatedSessions (app: FastifyInstance, tokens: { accessToken: string, refreshToken: string }): Promise<{ file: string, cookies: string[], end: () => Promise<void> }> {
  const created: Session[] = []
  for (let batch = 0; batch < ROTATED_SESSIONS / 100; batch++) {
    created.push(...await Promise.all(Array.from({ length: 100 }, async () => await app.sessions.create({
      sub: randomUUID(), username: randomUUID(), email: null, groups: ['LINE_LEADER'], accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, accessExpiresAt: Date.now() + 3600_000
    }))))
  }
  const cookies = created.map((session) => `__Host-ims-session=${session.id}`)
  const file = join(await mkdtemp(join(tmpdir(), 'ims-bench-')), 'cookies.txt')
  await writeFile(file, cookies.join('\n'))
  return {
    file,
    cookies,
    end: async () => {
      for (let batch = 0; batch < created.length; batch += 100) {
        await Promise.all(created.slice(batch, batch + 100).map(async (session) => { await app.sessions.destroy(session.id, session.record) }))
      }
      await rm(dirname(file), { recursive: true, force: true })
    }
  }
}

/** Extra RSS (MB) of SESSIONS live sessions in the memory store, each with its own token strings; they end afterwards. */
async function sessionMemory (app: FastifyInstance, tokens: { accessToken: string, idToken: string, refreshToken: string }): Promise<number> {
  // Same lengths as real tokens, distinct strings (as real sessions would hold).
  const variant = (token: string, i: number): string => token.slice(0, -8) + String(i).padStart(8, '0')
  gc()
  const before = process.memoryUsage().rss
  const created = []
  for (let i = 0; i < SESSIONS; i++) {
    created.push(await app.sessions.create({
      sub: randomUUID(),
      username: randomUUID(),
      email: `user-${i}@ims.test`,
      groups: ['LINE_LEADER'],
      accessToken: variant(tokens.accessToken, i),
      refreshToken: variant(tokens.refreshToken, i),
      accessExpiresAt: Date.now() + 3600_000
    }))
  }
  gc()
  const extra = (process.memoryUsage().rss - before) / 1024 / 1024
  // Ended again, so that their heap does not slow every row measured after them.
  for (const session of created) await app.sessions.destroy(session.id, session.record)
  gc()
  return extra
}

async function main (): Promise<void> {
  const generator: Generator = await onPath('wrk') ? 'wrk' : 'autocannon'
  process.stdout.write(`load generator: ${generator}\n`)
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

    // First, while the process's memory is fresh (measured later, RSS already claimed by the heap hides the growth).
    process.stdout.write(`memory: ${SESSIONS} live sessions in the memory store...\n`)
    const sessionsMb = await sessionMemory(memoryApp, tokens)

    const memoryCookie = await signInCookie(memory, username)
    const redisCookie = await signInCookie(redis, username)
    process.stdout.write(`sessions: ${ROTATED_SESSIONS} in Redis, more than an instance's view keeps...\n`)
    const rotated = await rotatedSessions(apps[1]!, tokens)
    const bearer = { authorization: `Bearer ${tokens.accessToken}` }
    const route = (name: string, url: string, headers: Record<string, string>): Row => ({ name, url, headers, rps: [], cpu: [], bareRps: [], bareCpu: [] })
    const rows: Row[] = [
      route('GET /health/live (bare route)', `${memory}/health/live`, {}),
      route('GET /auth/me, bearer token', `${memory}/auth/me`, bearer),
      route('GET /auth/me, cookie, memory store', `${memory}/auth/me`, { cookie: memoryCookie }),
      route('GET /auth/me, cookie, redis store (repeat calls: the instance view answers)', `${redis}/auth/me`, { cookie: redisCookie }),
      { ...route(`GET /auth/me, cookie, redis store (${ROTATED_SESSIONS.toLocaleString('en')} sessions in turn: a Redis read per call, a write per session a minute)`, `${redis}/auth/me`, {}), cookies: rotated.file }
    ]
    const probe = await fetch(`${memory}/api/bench`, { headers: { cookie: memoryCookie } })
    if (probe.status === 200) rows.push(route('GET /api/bench, cookie, proxied', `${memory}/api/bench`, { cookie: memoryCookie }))
    else process.stdout.write(`(no proxy row: /api answered ${probe.status})\n`)
    for (const row of rows) {
      const check = await fetch(row.url, { headers: row.cookies === undefined ? row.headers : { cookie: rotated.cookies[0]! } })
      if (check.status !== 200) throw new Error(`${row.name}: ${check.status}`)
    }

    process.stdout.write('warm-up: one round per row, not counted...\n')
    for (const row of rows) await load(generator, row.url, row.headers, row.cookies)
    // Every row runs between two runs of the bare route and is compared with their mean: the machine's speed drifts.
    const [bare, ...others] = rows as [Row, ...Row[]]
    const measure = async (row: Row, round: number): Promise<{ rps: number, cpu: number }> => {
      const figures = await load(generator, row.url, row.headers, row.cookies)
      row.rps.push(figures.rps)
      row.cpu.push(figures.cpu)
      process.stdout.write(`round ${round}  ${row.name.padEnd(40)} ${Math.round(figures.rps)} req/s  ${figures.cpu.toFixed(1)} µs CPU/request\n`)
      return figures
    }
    let before = await measure(bare, 1)
    for (let round = 1; round <= ROUNDS; round++) {
      for (const row of others) {
        await measure(row, round)
        const after = await measure(bare, round)
        row.bareRps.push((before.rps + after.rps) / 2)
        row.bareCpu.push((before.cpu + after.cpu) / 2)
        before = after
      }
    }

    process.stdout.write('promises: counted per request of the bare and /auth/me rows...\n')
    const counted = rows.slice(0, 4)
    const promises: number[] = []
    for (const row of counted) promises.push(await promisesPerRequest(row.url, row.headers))
    process.stdout.write('verification: first-seen tokens through the adapter, aws-jwt-verify alone and crypto.verify...\n')
    const verify = await verification(emulator, tokens.accessToken)
    process.stdout.write('sign-in: through the adapter against direct InitiateAuth...\n')
    const latency = await signInLatency(emulator, memory, username)

    const ratio = (row: Row): number => row === bare ? 1 : medianRatio(row.rps, row.bareRps)
    const capacity = (row: Row): number => row === bare ? 1 : medianRatio(row.bareCpu, row.cpu)
    const spread = (row: Row): string => row === bare ? '' : ` (middle half of pairs ${ratioSpread(row.rps, row.bareRps)})`
    const adapterRatio = medianRatio(verify.adapter, verify.raw)
    const libraryRatio = medianRatio(verify.library, verify.raw)
    const signInP50 = percentile(latency.adapter, 50) - percentile(latency.direct, 50)
    const targets: Record<string, number> = {
      'GET /auth/me, bearer token': 0.85,
      'GET /auth/me, cookie, memory store': 0.85,
      'GET /auth/me, cookie, redis store (repeat calls: the instance view answers)': 0.6
    }
    const verdict = (ok: boolean): string => ok ? 'met' : 'MISSED'
    const lines = [
      '| measure | figure | ratio / difference | target |',
      '|---|---|---|---|',
      ...rows.map((row) => {
        const target = targets[row.name]
        const met = target === undefined ? '' : `>= ${target}: req/s ${verdict(ratio(row) >= target)}, CPU ${verdict(capacity(row) >= target)}`
        const cost = row === bare ? '' : `; ${signed(medianDifference(row.cpu, row.bareCpu), 1)} µs CPU/req over bare`
        return `| ${row.name} | ${Math.round(median(row.rps))} req/s; ${median(row.cpu).toFixed(1)} µs CPU/req | ${ratio(row).toFixed(2)} of bare req/s${spread(row)}; ${capacity(row).toFixed(2)} of bare by CPU${cost} | ${met} |`
      }),
      `| promises created per request (${counted.map((row) => row.name.split(' (')[0]!.replace('GET ', '')).join(' / ')}) | ${promises.map((count) => count.toFixed(1)).join(' / ')} | | |`,
      `| first-seen token verification | ${median(verify.adapter).toFixed(1)} µs (crypto.verify ${median(verify.raw).toFixed(1)} µs) | ${adapterRatio.toFixed(2)}x | <= 1.3x: ${verdict(adapterRatio <= 1.3)} |`,
      `| aws-jwt-verify alone (the floor under the adapter) | ${median(verify.library).toFixed(1)} µs (crypto.verify ${median(verify.raw).toFixed(1)} µs) | ${libraryRatio.toFixed(2)}x | |`,
      `| the adapter's verifier over aws-jwt-verify alone (hashing the token for the cache key, the cache, the claims) | ${median(verify.adapter).toFixed(1)} / ${median(verify.library).toFixed(1)} µs | ${medianRatio(verify.adapter, verify.library).toFixed(2)}x | |`,
      `| crypto.verify just after ${IDLE_MS} ms idle, p50 (this machine's wake-up cost; the work after each Cognito answer pays it) | ${percentile(verify.woken, 50).toFixed(1)} µs (${median(verify.raw).toFixed(1)} µs in a busy loop) | ${(percentile(verify.woken, 50) / median(verify.raw)).toFixed(1)}x | |`,
      `| GET /health/live p50, same keep-alive client (the HTTP hop itself) | ${percentile(latency.hop, 50).toFixed(2)} ms | | |`,
      `| sign-in p50 (adapter / direct InitiateAuth) | ${percentile(latency.adapter, 50).toFixed(2)} / ${percentile(latency.direct, 50).toFixed(2)} ms | ${signed(signInP50, 2)} ms | <= +2 ms: ${verdict(signInP50 <= 2)} |`,
      `| sign-in p95 (adapter / direct InitiateAuth) | ${percentile(latency.adapter, 95).toFixed(2)} / ${percentile(latency.direct, 95).toFixed(2)} ms | ${signed(percentile(latency.adapter, 95) - percentile(latency.direct, 95), 2)} ms | |`,
      `| sign-in p50 (adapter / direct InitiateAuth + AdminGetUser, the emulator's disabled-user gap) | ${percentile(latency.adapter, 50).toFixed(2)} / ${percentile(latency.pair, 50).toFixed(2)} ms | ${signed(percentile(latency.adapter, 50) - percentile(latency.pair, 50), 2)} ms | |`,
      `| AdminGetUser p50 alone (the call real Cognito does not need; SDK client and emulator) | ${percentile(latency.gap, 50).toFixed(2)} ms | | |`,
      `| sign-in p95 (adapter / the same pair) | ${percentile(latency.adapter, 95).toFixed(2)} / ${percentile(latency.pair, 95).toFixed(2)} ms | ${signed(percentile(latency.adapter, 95) - percentile(latency.pair, 95), 2)} ms | |`,
      `| ${SESSIONS.toLocaleString('en')} live sessions, memory store | ${signed(sessionsMb, 1)} MB RSS | ${(sessionsMb * 1024 * 1024 / SESSIONS / 1024).toFixed(1)} KB each | < 100 MB: ${verdict(sessionsMb < 100)} |`
    ]
    const machine = `${availableParallelism()} cores (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, load from ${generator}, load average ${loadavg()[0]!.toFixed(1)} at the end (other work on the machine lowers every figure)`
    process.stdout.write(`\n${lines.join('\n')}\n\nmachine: ${machine}\n`)
    await writeFile(README, [
      '# Benchmarks',
      '',
      'Run `npm run bench` (`tsx bench/run.ts`, about three minutes). It starts cognito-local and a one-line upstream in a child',
      'process, builds the real app twice (memory and Redis stores, Redis at 127.0.0.1:6379, logs at info into a discarding',
      `stream), and loads each row from a child process with wrk (\`-t1 -c${CONNECTIONS}\`; autocannon with ${CONNECTIONS} connections when wrk is`,
      `not on PATH): on 2 cores the app gets one core and the load generator the other. One ${SECONDS} s warm-up run per row, not`,
      `counted, then ${ROUNDS} rounds in which each row runs ${SECONDS} s between two ${SECONDS} s runs of the bare route. Each figure is the median`,
      'over the runs; each ratio is the median of the ratios to the mean of the two bare runs around it (the machine\'s speed',
      'drifts; side-by-side pairs cancel it), with the middle half of those pair ratios shown to tell how steady the run was;',
      'the CPU a row costs over the bare route is the median of the same pairs\' differences (what authenticating costs).',
      `The promises the app creates per request are counted with async_hooks over ${COUNTED_REQUESTS} sequential requests of each of the`,
      'first four rows (a count does not drift with the machine).',
      `First-seen verification cycles ${TOKENS} distinct RS256 tokens through the adapter's verifier (whose cache holds one),`,
      `through aws-jwt-verify alone (verifySync) and through a bare crypto.verify, interleaved per batch (each batch led by`,
      `another of the three; the tokens are flat strings, as a request header delivers them): medians of ${BATCHES} batches after`,
      `one warm-up batch; then ${WAKES} single bare checks, each after the process has idled ${IDLE_MS} ms (as it does awaiting`,
      `Cognito). Sign-in latency alternates ${SIGN_INS} adapter sign-ins (cookie mode, memory store, over one`,
      'keep-alive node:http connection) with a GET /health/live on the same connection, direct InitiateAuth calls,',
      'InitiateAuth + AdminGetUser pairs (AdminGetUser a turn of the event loop later, as the adapter sends them to the',
      'emulator) and AdminGetUser alone. The first Redis cookie row repeats one session, as a browser does: an instance keeps a',
      'session it read lately in a local view for up to 10 s (src/session/session-view.ts, kept correct by the store\'s change',
      `channel), so those calls are answered from it; the second cycles through ${ROTATED_SESSIONS.toLocaleString('en')} sessions (more than a view keeps), so`,
      'every call reads Redis, and each session\'s first call in a minute also writes its last-seen time. Session memory',
      'is measured first, while the process is fresh: RSS after a full GC, before and after creating the sessions through',
      'the session manager; they are ended again before the rows run.',
      '',
      `Latest run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}.`,
      '',
      ...lines,
      ''
    ].join('\n'))
    process.stdout.write(`written to bench/README.md\n`)
    await rotated.end()
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
