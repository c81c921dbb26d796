// The benchmark (`npm run bench`): throughput of authenticated routes against the bare route, verification, sign-in, session memory.
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process'
import { createPublicKey, randomBytes, randomUUID, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Agent, createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { AdminGetUserCommand, CognitoIdentityProviderClient, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { JwtVerifier } from 'aws-jwt-verify'
import { SimpleJwksCache } from 'aws-jwt-verify/jwk'
import { DeadlineFetcher, TokenVerifier } from '../src/auth/token-verifier.js'
import { CognitoGateway } from '../src/cognito/gateway.js'
import { SESSION_COOKIE } from '../src/plugins/session.js'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../test/helpers/emulator.js'
import type { Answer, BenchTokens, Ready, Request, Requests } from './app-process.js'
import { median } from './median.js'
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
/**
 * Runs that interleave each authenticated row with the bare route, taken in turn across the rows, and the seconds of
 * each: a single run's difference moved by a few µs from one run to the next.
 */
const INTERLEAVED_RUNS = 5
const INTERLEAVED_SECONDS = 2
/** First-seen verification: distinct tokens per batch, and batches (the median one counts). */
const TOKENS = 400
const BATCHES = 15
const SIGN_INS = 100
/** The accounts the sign-ins take turns with: each signs in far fewer times than SESSION_MAX_PER_USER (50). */
const SIGN_IN_ACCOUNTS = 10
/** Single checks timed just after the process has idled IDLE_MS, as the work after each Cognito answer runs. */
const WAKES = 200
const IDLE_MS = 5
const SESSIONS = 10_000
/** Calls of each kind timed from the SDK's send to the request leaving, each after IDLE_MS idle. */
const SDK_CALLS = 300
/** Requests over which the promises the app creates per request are counted. */
const COUNTED_REQUESTS = 1000
/** Sessions the rotating Redis row cycles through: more than an instance's session view keeps (10,000), so none is there. */
const ROTATED_SESSIONS = 12_000
const README = new URL('./README.md', import.meta.url)
/** The bare route once more, as a row like the others: it costs what the bare route costs, so its ratio shows the run's noise. */
const CONTROL = 'GET /health/live again (control: the bare route as a row; how far its ratio falls from 1.00 is this run\'s noise)'
/** The bare route with the bearer row's Authorization header, which it never reads: what receiving the token costs alone. */
const TOKEN_BYTES = 'GET /health/live with the bearer token\'s header (unread: the price of receiving its 1 KB before the adapter looks at it)'

/** An app served from a process of its own (bench/app-process.ts), as production runs it. */
interface AppProcess {
  url: string
  ask: <K extends keyof Requests>(name: K, args: Requests[K]['args']) => Promise<Requests[K]['result']>
  stop: () => Promise<void>
}

/** Starts the app with `env` in a child process (logs at info, serialised and dropped) and waits until it listens. */
async function startApp (env: Record<string, string>): Promise<AppProcess> {
  const child = fork(fileURLToPath(new URL('./app-process.ts', import.meta.url)), [JSON.stringify(env)], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message) => { resolve(message as Ready) })
    child.once('exit', (code) => { reject(new Error(`the bench app exited with ${code} before listening`)) })
  })
  const waiting = new Map<number, { resolve: (result: unknown) => void, reject: (error: Error) => void }>()
  child.on('message', (message: Answer) => {
    const pending = waiting.get(message.id)
    waiting.delete(message.id)
    if ('error' in message) pending?.reject(new Error(`bench app: ${message.error}`))
    else pending?.resolve(message.result)
  })
  let lastId = 0
  return {
    url: ready.url,
    ask: async (name, args) => await new Promise((resolve, reject) => {
      const id = ++lastId
      waiting.set(id, { resolve: resolve as (result: unknown) => void, reject })
      child.send({ id, name, args } as Request)
    }),
    stop: async () => {
      if (child.connected) child.disconnect()
      await exited
    }
  }
}

/** A loaded route: its requests per second and the CPU time its app's process spent per request (µs), one per counted round. */
interface Row {
  name: string
  app: AppProcess
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

/** A wrk script that alternates a GET of `barePath` with a GET of `path` carrying `headers` (on every connection). */
function interleavedScript (barePath: string, path: string, headers: Record<string, string>): string {
  const fields = Object.entries(headers).map(([name, value]) => `[${JSON.stringify(name)}] = ${JSON.stringify(value)}`).join(', ')
  return [
    // Formatted once wrk has set its Host header (after the script has loaded).
    'local requests',
    'init = function()',
    `  requests = { wrk.format("GET", ${JSON.stringify(barePath)}), wrk.format("GET", ${JSON.stringify(path)}, { ${fields} }) }`,
    'end',
    'local next = 0',
    'request = function()',
    '  next = next % 2 + 1',
    '  return requests[next]',
    'end'
  ].join('\n')
}

/**
 * wrk's requests per second and request count for one run of `seconds` against `url`, with a Lua `script` when given;
 * any error response or socket error fails.
 */
async function wrk (url: string, headers: Record<string, string>, script?: string, seconds = SECONDS): Promise<{ rps: number, total: number }> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`]
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`)
  const dir = script === undefined ? undefined : await mkdtemp(join(tmpdir(), 'ims-bench-wrk-'))
  try {
    if (dir !== undefined && script !== undefined) {
      await writeFile(join(dir, 'script.lua'), script)
      args.push('-s', join(dir, 'script.lua'))
    }
    const out = await output('wrk', [...args, url])
    const total = /(\d+) requests in/.exec(out)?.[1]
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]
    if (total === undefined || rps === undefined || /Non-2xx or 3xx responses|Socket errors/.test(out)) throw new Error(`${url}: wrk reported\n${out}`)
    return { rps: Number(rps), total: Number(total) }
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The same from autocannon, run by Node in a child process: through its API when the cookies rotate, or when `interleave`
 * alternates a GET of its bare path with the request to `url`.
 */
async function autocannon (url: string, headers: Record<string, string>, cookies?: string, interleave?: { barePath: string, seconds: number }): Promise<{ rps: number, total: number }> {
  const api = (options: string): string[] => ['-e', [
    ...(cookies === undefined ? [] : [`const cookies = require('node:fs').readFileSync(${JSON.stringify(cookies)}, 'utf8').split('\\n')`, 'let next = 0']),
    `require(${JSON.stringify(require.resolve('autocannon'))})({ url: ${JSON.stringify(url)}, connections: ${CONNECTIONS}, ${options}`,
    '}, (error, result) => { if (error) throw error; process.stdout.write(JSON.stringify(result)) })'
  ].join('\n')]
  const args = interleave !== undefined
    ? api(`duration: ${interleave.seconds}, requests: [{ method: 'GET', path: ${JSON.stringify(interleave.barePath)} }, { method: 'GET', path: ${JSON.stringify(new URL(url).pathname)}, headers: ${JSON.stringify(headers)} }]`)
    : cookies !== undefined
      ? api(`duration: ${SECONDS}, headers: ${JSON.stringify(headers)}, requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length] } }) }]`)
      : [require.resolve('autocannon/autocannon.js'), '-j', '-c', String(CONNECTIONS), '-d', String(SECONDS), ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}=${value}`]), url]
  const result = JSON.parse(await output(process.execPath, args)) as { requests: { average: number, total: number }, non2xx: number, errors: number, timeouts: number }
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  return { rps: result.requests.average, total: result.requests.total }
}

/**
 * Loads the row from a child process (its own core); returns requests per second and the CPU time the app's process
 * spent per request (the figure barely moves when other work shares the machine).
 */
async function load (generator: Generator, row: Row): Promise<{ rps: number, cpu: number }> {
  const cpuBefore = await row.app.ask('cpu', null)
  const { rps, total } = generator === 'wrk'
    ? await wrk(row.url, row.headers, row.cookies === undefined ? undefined : rotatingCookiesScript(row.cookies))
    : await autocannon(row.url, row.headers, row.cookies)
  const cpu = await row.app.ask('cpu', null) - cpuBefore
  return { rps, cpu: cpu / total }
}

/**
 * The time a row's request spends inside its app against the bare route's on the same app, the two interleaved on every
 * connection of one run of INTERLEAVED_SECONDS, so the machine's drift reaches both alike: the medians of their log
 * lines' responseTime (µs), which leave out the HTTP parsing and the socket work around the app.
 */
async function timeInside (generator: Generator, row: Row): Promise<{ bare: number, row: number }> {
  const path = new URL(row.url).pathname
  const barePath = '/health/live'
  await row.app.ask('timeRequests', null)
  if (generator === 'wrk') await wrk(row.app.url, {}, interleavedScript(barePath, path, row.headers), INTERLEAVED_SECONDS)
  else await autocannon(row.url, row.headers, undefined, { barePath, seconds: INTERLEAVED_SECONDS })
  const times = await row.app.ask('requestTimes', null)
  const bare = times[barePath]
  const own = times[path]
  if (bare === undefined || own === undefined) throw new Error(`${row.name}: no request times were logged`)
  return { bare, row: own }
}

/**
 * Promises the app's process creates per request of the row (async_hooks), over COUNTED_REQUESTS sequential keep-alive
 * requests from a child process: a count, so unlike a time it does not drift with the machine. Each promise is an
 * allocation and a turn of the microtask queue on the request's path.
 */
async function promisesPerRequest (row: Row): Promise<number> {
  const client = [
    `const http = require('node:http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); let left = ${COUNTED_REQUESTS}`,
    `const next = () => { if (left-- === 0) return agent.destroy(); http.get(${JSON.stringify(row.url)}, { agent, headers: ${JSON.stringify(row.headers)} }, (response) => {`,
    '  if (response.statusCode !== 200) process.exit(1); response.resume(); response.on(\'end\', next) }) }; next()'
  ].join('\n')
  await row.app.ask('countPromises', null)
  const child = spawn(process.execPath, ['-e', client], { stdio: 'inherit' })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  const promises = await row.app.ask('promisesCounted', null)
  if (code !== 0) throw new Error(`${row.url}: the counting client failed`)
  return promises / COUNTED_REQUESTS
}

/** The p-th percentile of `values` (ms). */
function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
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

/** The first and third quartiles of the paired differences, signed. */
function differenceSpread (xs: number[], ys: number[]): string {
  const differences = xs.map((x, i) => x - ys[i]!)
  return `${signed(percentile(differences, 25), 1)} to ${signed(percentile(differences, 75), 1)}`
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
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith(`${SESSION_COOKIE}=`))
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
 * The SDK's own work before a Cognito call leaves (ms from send to Node's http.client.request.start), each call after
 * IDLE_MS idle as a sign-in's calls are: through the adapter's gateway (each kind of call's middleware resolved once),
 * and through a client set up as the gateway's was before (middleware resolved on every call, an abort signal per call),
 * in turn. A loopback server answers every call with an empty JSON object.
 */
async function sdkPreparation (): Promise<Record<'gateway' | 'perCall', { initiate: number[], getUser: number[] }>> {
  const server = createServer((req, res) => {
    req.resume().on('end', () => { res.setHeader('content-type', 'application/x-amz-json-1.1').end('{}') })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const gateway = new CognitoGateway({ region: 'local', userPoolId: 'local_bench', clientId: 'bench', clientSecret: '', endpoint, timeoutMs: 4000 })
  const perCall = new CognitoIdentityProviderClient({
    region: 'local',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 4000 })
  })
  const initiate = (): InitiateAuthCommand => new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'bench', AuthParameters: { USERNAME: 'bench@ims.test', PASSWORD: TEST_PASSWORD } })
  const getUser = (): AdminGetUserCommand => new AdminGetUserCommand({ UserPoolId: 'local_bench', Username: 'bench@ims.test' })
  const ways: Array<['gateway' | 'perCall', 'initiate' | 'getUser', () => Promise<unknown>]> = [
    ['gateway', 'initiate', async () => await gateway.call(initiate())],
    ['gateway', 'getUser', async () => await gateway.call(getUser())],
    ['perCall', 'initiate', async () => await perCall.send(initiate(), { abortSignal: AbortSignal.timeout(4000) })],
    ['perCall', 'getUser', async () => await perCall.send(getUser(), { abortSignal: AbortSignal.timeout(4000) })]
  ]
  const samples = { gateway: { initiate: [] as number[], getUser: [] as number[] }, perCall: { initiate: [] as number[], getUser: [] as number[] } }
  let sentAt: number | undefined
  let leftAt: number | undefined
  const onStart = (): void => { if (sentAt !== undefined) leftAt ??= performance.now() }
  subscribe('http.client.request.start', onStart)
  try {
    // The first rounds warm up (the cache's first resolution included) and are not counted.
    for (let round = -20; round < SDK_CALLS; round++) {
      for (const [client, kind, call] of ways) {
        await sleep(IDLE_MS)
        leftAt = undefined
        sentAt = performance.now()
        await call()
        if (round >= 0 && leftAt !== undefined) samples[client][kind].push(leftAt - sentAt)
        sentAt = undefined
      }
    }
  } finally {
    unsubscribe('http.client.request.start', onStart)
    gateway.destroy()
    perCall.destroy()
    server.close()
  }
  return samples
}

/**
 * Sign-in latency through the adapter (HTTP, a keep-alive node:http client) against a direct InitiateAuth to the same
 * emulator, and against the InitiateAuth + AdminGetUser pair that endpoint mode asks of the emulator (its disabled-user
 * gap; that AdminGetUser is also timed alone), interleaved with a GET /health/live on the same client: the price of the
 * HTTP hop itself. The app's log lines of the counted sign-ins give their median time inside the app (ms). Sign-ins
 * through `shared`, the Redis-store app, are timed alongside: what several instances sharing one store pay.
 */
async function signInLatency (emulator: Emulator, app: AppProcess, shared: AppProcess, usernames: string[]): Promise<{ adapter: number[], shared: number[], hop: number[], direct: number[], pair: number[], gap: number[], inside: number, phases: Requests['signInPhases']['result'] }> {
  const samples = { adapter: [] as number[], shared: [] as number[], hop: [] as number[], direct: [] as number[], pair: [] as number[], gap: [] as number[] }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const sharedAgent = new Agent({ keepAlive: true, maxSockets: 1 })
  const signInTo = (target: AppProcess, through: Agent, username: string) => async (): Promise<void> => {
    const body = JSON.stringify({ username, password: TEST_PASSWORD })
    const response = await send(through, `${target.url}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body })
    const cookie = response.headers['set-cookie']?.some((line) => line.startsWith(`${SESSION_COOKIE}=`)) ?? false
    if (response.statusCode !== 200 || !cookie) throw new Error(`sign-in through the adapter failed: ${response.statusCode}`)
  }
  const live = async (): Promise<void> => {
    const response = await send(agent, `${app.url}/health/live`)
    if (response.statusCode !== 200) throw new Error(`GET /health/live: ${response.statusCode}`)
  }
  const initiate = (username: string) => async (): Promise<void> => {
    const output = await emulator.client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: emulator.clientId, AuthParameters: { USERNAME: username, PASSWORD: TEST_PASSWORD } }))
    if (output.AuthenticationResult?.AccessToken === undefined) throw new Error('direct sign-in failed')
  }
  const getUser = (username: string) => async (): Promise<unknown> => await emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: username }))
  // Each round signs in the next of the accounts, as many users do: one account signing in again and again would reach
  // SESSION_MAX_PER_USER, where each sign-in also ends its oldest session (one more Cognito call, RevokeToken).
  const runsFor = (username: string): Array<[keyof typeof samples, () => Promise<unknown>]> => [
    ['adapter', signInTo(app, agent, username)],
    ['hop', live],
    ['shared', signInTo(shared, sharedAgent, username)],
    ['direct', initiate(username)],
    // As the adapter asks them of the emulator: AdminGetUser once InitiateAuth's request has left (src/cognito/auth.ts).
    ['pair', async () => await Promise.all([initiate(username)(), nextTurn().then(getUser(username))])],
    ['gap', getUser(username)]
  ]
  try {
    for (let i = 0; i < SIGN_INS + 5; i++) {
      if (i === 5) await app.ask('timeRequests', null)
      for (const [name, run] of runsFor(usernames[i % usernames.length]!)) {
        const started = performance.now()
        await run()
        if (i >= 5) samples[name].push(performance.now() - started)
      }
    }
  } finally {
    agent.destroy()
    sharedAgent.destroy()
  }
  const inside = (await app.ask('requestTimes', null))['/auth/sign-in']
  if (inside === undefined) throw new Error('no sign-in times were logged')
  return { ...samples, inside: inside / 1000, phases: await app.ask('signInPhases', null) }
}

async function main (): Promise<void> {
  const generator: Generator = await onPath('wrk') ? 'wrk' : 'autocannon'
  process.stdout.write(`load generator: ${generator}\n`)
  const emulator = await startEmulator()
  const upstream = await startUpstream()
  const apps: AppProcess[] = []
  const start = async (env: Record<string, string>): Promise<AppProcess> => {
    const app = await startApp(emulatorEnv(emulator, { API_UPSTREAM_URL: upstream.url, AUTH_IP_LIMIT: '100000', ...env }))
    apps.push(app)
    return app
  }
  try {
    const username = await emulator.user(['LINE_LEADER'])
    const direct = await emulator.client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: emulator.clientId, AuthParameters: { USERNAME: username, PASSWORD: TEST_PASSWORD } }))
    const accessToken = direct.AuthenticationResult?.AccessToken
    const refreshToken = direct.AuthenticationResult?.RefreshToken
    if (accessToken === undefined || refreshToken === undefined) throw new Error('expected tokens')
    const tokens: BenchTokens = { accessToken, refreshToken }

    // In a fresh app process of its own: RSS already claimed by a used heap would hide the growth, and the heap the
    // sessions leave behind would slow the rows.
    process.stdout.write(`memory: ${SESSIONS} live sessions in the memory store of a fresh app process...\n`)
    const fresh = await start({})
    const sessionsMb = await fresh.ask('sessionMemory', { tokens, sessions: SESSIONS })
    await fresh.stop()

    const memoryApp = await start({})
    const redisApp = await start({ SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') })
    const memory = memoryApp.url
    const redis = redisApp.url

    const memoryCookie = await signInCookie(memory, username)
    const redisCookie = await signInCookie(redis, username)
    process.stdout.write(`sessions: ${ROTATED_SESSIONS} in Redis, more than an instance's view keeps...\n`)
    const rotated = await redisApp.ask('makeSessions', { tokens, sessions: ROTATED_SESSIONS })
    const bearer = { authorization: `Bearer ${tokens.accessToken}` }
    const route = (name: string, app: AppProcess, path: string, headers: Record<string, string>): Row => ({ name, app, url: `${app.url}${path}`, headers, rps: [], cpu: [], bareRps: [], bareCpu: [] })
    const counted = [
      route('GET /health/live (bare route)', memoryApp, '/health/live', {}),
      route('GET /auth/me, bearer token', memoryApp, '/auth/me', bearer),
      route('GET /auth/me, cookie, memory store', memoryApp, '/auth/me', { cookie: memoryCookie }),
      route('GET /auth/me, cookie, redis store (repeat calls: the instance view answers)', redisApp, '/auth/me', { cookie: redisCookie })
    ]
    const rows: Row[] = [
      ...counted,
      route(CONTROL, memoryApp, '/health/live', {}),
      route(TOKEN_BYTES, memoryApp, '/health/live', bearer),
      { ...route(`GET /auth/me, cookie, redis store (${ROTATED_SESSIONS.toLocaleString('en')} sessions in turn: a Redis read per call, a write per session a minute)`, redisApp, '/auth/me', {}), cookies: rotated.file }
    ]
    const probe = await fetch(`${memory}/api/bench`, { headers: { cookie: memoryCookie } })
    if (probe.status === 200) rows.push(route('GET /api/bench, cookie, proxied', memoryApp, '/api/bench', { cookie: memoryCookie }))
    else process.stdout.write(`(no proxy row: /api answered ${probe.status})\n`)
    for (const row of rows) {
      const check = await fetch(row.url, { headers: row.cookies === undefined ? row.headers : { cookie: rotated.cookies[0]! } })
      if (check.status !== 200) throw new Error(`${row.name}: ${check.status}`)
    }

    process.stdout.write('warm-up: one round per row, not counted...\n')
    for (const row of rows) await load(generator, row)
    // Every row runs between two runs of the bare route and is compared with their mean: the machine's speed drifts.
    const [bare, ...others] = rows as [Row, ...Row[]]
    const measure = async (row: Row, round: number): Promise<{ rps: number, cpu: number }> => {
      const figures = await load(generator, row)
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
    const promises: number[] = []
    for (const row of counted) promises.push(await promisesPerRequest(row))
    process.stdout.write('inside the app: each /auth/me row interleaved with the bare route...\n')
    const inside = counted.slice(1).map((row) => ({ row, bare: [] as number[], own: [] as number[] }))
    for (let run = 0; run < INTERLEAVED_RUNS; run++) {
      for (const { row, bare: bareTimes, own } of inside) {
        const times = await timeInside(generator, row)
        bareTimes.push(times.bare)
        own.push(times.row)
      }
    }
    process.stdout.write('authentication: the adapter\'s own work per call, in the app\'s process...\n')
    const sessionId = (cookie: string): Record<string, string> => ({ [SESSION_COOKIE]: cookie.slice(cookie.indexOf('=') + 1) })
    const authentication = [
      await memoryApp.ask('authenticationCost', { headers: bearer, cookies: {} }),
      await memoryApp.ask('authenticationCost', { headers: {}, cookies: sessionId(memoryCookie) }),
      await redisApp.ask('authenticationCost', { headers: {}, cookies: sessionId(redisCookie) })
    ]
    process.stdout.write('verification: first-seen tokens through the adapter, aws-jwt-verify alone and crypto.verify...\n')
    const verify = await verification(emulator, tokens.accessToken)
    process.stdout.write('SDK: its work before a Cognito call leaves, through the gateway and set up as before...\n')
    const sdk = await sdkPreparation()
    process.stdout.write('sign-in: through the adapter against direct InitiateAuth...\n')
    const signInUsers = await Promise.all(Array.from({ length: SIGN_IN_ACCOUNTS }, async () => await emulator.user(['LINE_LEADER'])))
    const latency = await signInLatency(emulator, memoryApp, redisApp, signInUsers)

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
      ...inside.map(({ row, bare: bareInside, own }) => {
        const added = medianDifference(own, bareInside)
        return `| time inside the app, ${row.name.replace('GET ', '')}, interleaved with the bare route on every connection (drift reaches both alike; HTTP parsing and socket work left out) | ${median(own).toFixed(1)} µs (bare route ${median(bareInside).toFixed(1)} µs) | ${signed(added, 1)} µs (middle half of runs ${differenceSpread(own, bareInside)} µs), ${(100 * added / median(bare.cpu)).toFixed(1)}% of the bare route's CPU per request | |`
      }),
      `| the adapter's own authentication per call, in its process (app.authenticate as the guards call it, without HTTP): bearer / memory cookie / redis cookie | ${authentication.map((us) => us.toFixed(2)).join(' / ')} µs | ${authentication.map((us) => `${(100 * us / median(bare.cpu)).toFixed(1)}%`).join(' / ')} of the bare route's CPU per request | |`,
      `| first-seen token verification | ${median(verify.adapter).toFixed(1)} µs (crypto.verify ${median(verify.raw).toFixed(1)} µs) | ${adapterRatio.toFixed(2)}x | <= 1.3x: ${verdict(adapterRatio <= 1.3)} |`,
      `| aws-jwt-verify alone (its own parsing: a JSON reviver on every value; the adapter's verifier parses without it where it cannot matter, src/auth/jwt-decomposition.ts) | ${median(verify.library).toFixed(1)} µs (crypto.verify ${median(verify.raw).toFixed(1)} µs) | ${libraryRatio.toFixed(2)}x | |`,
      `| the adapter's verifier over aws-jwt-verify alone (the adapter parses leaner, then hashes the token for the cache key, fills the cache and builds the claims) | ${median(verify.adapter).toFixed(1)} / ${median(verify.library).toFixed(1)} µs | ${medianRatio(verify.adapter, verify.library).toFixed(2)}x | |`,
      `| crypto.verify just after ${IDLE_MS} ms idle, p50 (this machine's wake-up cost; the work after each Cognito answer pays it) | ${percentile(verify.woken, 50).toFixed(1)} µs (${median(verify.raw).toFixed(1)} µs in a busy loop) | ${(percentile(verify.woken, 50) / median(verify.raw)).toFixed(1)}x | |`,
      `| the SDK's work before a Cognito call leaves, p50 (from send to the request's start, each call after ${IDLE_MS} ms idle; a loopback server answers): InitiateAuth / AdminGetUser | ${percentile(sdk.gateway.initiate, 50).toFixed(2)} / ${percentile(sdk.gateway.getUser, 50).toFixed(2)} ms through the adapter's gateway (each kind of call's middleware resolved once) | ${percentile(sdk.perCall.initiate, 50).toFixed(2)} / ${percentile(sdk.perCall.getUser, 50).toFixed(2)} ms with the middleware resolved on every call and an abort signal per call (the gateway's setting before) | |`,
      `| GET /health/live p50, same keep-alive client (the HTTP hop itself) | ${percentile(latency.hop, 50).toFixed(2)} ms | | |`,
      `| sign-in p50 (adapter / direct InitiateAuth) | ${percentile(latency.adapter, 50).toFixed(2)} / ${percentile(latency.direct, 50).toFixed(2)} ms | ${signed(signInP50, 2)} ms | <= +2 ms: ${verdict(signInP50 <= 2)} |`,
      `| sign-in p95 (adapter / direct InitiateAuth) | ${percentile(latency.adapter, 95).toFixed(2)} / ${percentile(latency.direct, 95).toFixed(2)} ms | ${signed(percentile(latency.adapter, 95) - percentile(latency.direct, 95), 2)} ms | |`,
      `| sign-in p50 (adapter / direct InitiateAuth + AdminGetUser, the emulator's disabled-user gap) | ${percentile(latency.adapter, 50).toFixed(2)} / ${percentile(latency.pair, 50).toFixed(2)} ms | ${signed(percentile(latency.adapter, 50) - percentile(latency.pair, 50), 2)} ms | |`,
      `| sign-in inside the app, median (its log lines' responseTime: from the first hook to the response written, the pair's wait included) | ${latency.inside.toFixed(2)} ms (the pair ${percentile(latency.pair, 50).toFixed(2)} ms) | ${signed(latency.inside - percentile(latency.pair, 50), 2)} ms the app's own work over the pair; ${signed(percentile(latency.adapter, 50) - latency.inside, 2)} ms outside the app (the HTTP hop) | |`,
      `| sign-in inside the app, by phase, medians (Node's HTTP diagnostics channels in the app's process; the SDK's preparing of its calls falls in the first, its reading of the answers in the last) | before the first call to Cognito ${latency.phases.before.toFixed(2)} ms; waiting for Cognito's answers ${latency.phases.waiting.toFixed(2)} ms; after the last answer ${latency.phases.after.toFixed(2)} ms | | |`,
      `| sign-in p50 through the Redis-store app (the store several instances share: the throttle, the session and its revocation check read and write Redis) | ${percentile(latency.shared, 50).toFixed(2)} ms | ${signed(percentile(latency.shared, 50) - percentile(latency.direct, 50), 2)} ms over direct InitiateAuth; ${signed(percentile(latency.shared, 50) - percentile(latency.adapter, 50), 2)} ms over the memory store | |`,
      `| AdminGetUser p50 alone (the call real Cognito does not need; SDK client and emulator) | ${percentile(latency.gap, 50).toFixed(2)} ms | | |`,
      `| sign-in p95 (adapter / the same pair) | ${percentile(latency.adapter, 95).toFixed(2)} / ${percentile(latency.pair, 95).toFixed(2)} ms | ${signed(percentile(latency.adapter, 95) - percentile(latency.pair, 95), 2)} ms | |`,
      `| ${SESSIONS.toLocaleString('en')} live sessions, memory store | ${signed(sessionsMb, 1)} MB RSS | ${(sessionsMb * 1024 * 1024 / SESSIONS / 1024).toFixed(1)} KB each | < 100 MB: ${verdict(sessionsMb < 100)} |`
    ]
    const machine = `${availableParallelism()} cores (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, load from ${generator}, load average ${loadavg()[0]!.toFixed(1)} at the end (other work on the machine lowers every figure)`
    process.stdout.write(`\n${lines.join('\n')}\n\nmachine: ${machine}\n`)
    await writeFile(README, [
      '# Benchmarks',
      '',
      'Run `npm run bench` (`tsx bench/run.ts`, about five minutes). It starts cognito-local and a one-line upstream in a child',
      'process, and serves the real app from child processes of its own (bench/app-process.ts, driven over IPC), as production',
      'runs one app per process: one with the memory store, one with the Redis store (Redis at 127.0.0.1:6379), logs at info',
      `into a discarding stream. It loads each row from a child process with wrk (\`-t1 -c${CONNECTIONS}\`; autocannon with ${CONNECTIONS} connections`,
      `when wrk is not on PATH): on 2 cores the app gets one core and the load generator the other. One ${SECONDS} s warm-up run per row,`,
      `not counted, then ${ROUNDS} rounds in which each row runs ${SECONDS} s between two ${SECONDS} s runs of the bare route. Each figure is the`,
      'median over the runs, its CPU read from the app\'s process; each ratio is the median of the ratios to the mean of the',
      'two bare runs around it (the machine\'s speed drifts; side-by-side pairs cancel it), with the middle half of those pair',
      'ratios shown to tell how steady the run was; the CPU a row costs over the bare route is the median of the same pairs\'',
      'differences. The control row is the bare route itself, measured as a row: its ratio would be 1.00 on a steady machine,',
      'so how far it falls from 1.00 is how far this run\'s noise can move any ratio. Another row sends the bare route the',
      'bearer row\'s Authorization header, which it never reads: part of what the bearer row costs is receiving its token.',
      `Each /auth/me row then runs ${INTERLEAVED_RUNS} times`,
      `${INTERLEAVED_SECONDS} s (the rows in turn) interleaved with the bare route on every connection, and the app's log lines give each`,
      'request\'s time inside the app (Fastify\'s responseTime, from its first hook to the response written): both kinds of',
      'request meet the same machine, so the difference of their medians is what the row adds inside the app, whatever the',
      'drift; the figure is the median of the runs\' differences.',
      `The promises the app creates per request are counted with async_hooks over ${COUNTED_REQUESTS} sequential requests of each of the`,
      'first four rows (a count does not drift with the machine). The adapter\'s own authentication is timed inside the app\'s',
      `process: app.authenticate, as the guards call it, on a repeat caller's request, median of 7 runs of 20,000 calls.`,
      `First-seen verification cycles ${TOKENS} distinct RS256 tokens through the adapter's verifier (whose cache holds one),`,
      `through aws-jwt-verify alone (verifySync) and through a bare crypto.verify, interleaved per batch (each batch led by`,
      `another of the three; the tokens are flat strings, as a request header delivers them): medians of ${BATCHES} batches after`,
      `one warm-up batch; then ${WAKES} single bare checks, each after the process has idled ${IDLE_MS} ms (as it does awaiting`,
      `Cognito). The SDK's work before a call leaves is timed from its send to Node's http.client.request.start, ${SDK_CALLS} calls`,
      `of each kind, each after ${IDLE_MS} ms idle, through the adapter's gateway and through a client set up as the gateway's was`,
      'before, in turn, against a loopback server that answers an empty object.',
      `Sign-in latency alternates ${SIGN_INS} adapter sign-ins (cookie mode, memory store, over one`,
      `keep-alive node:http connection; ${SIGN_IN_ACCOUNTS} accounts in turn, as many users sign in: one account signing in again and`,
      'again reaches SESSION_MAX_PER_USER, where each sign-in also ends its oldest session, one more Cognito call)',
      'with a GET /health/live on the same connection, direct InitiateAuth calls (for the same account),',
      'InitiateAuth + AdminGetUser pairs (AdminGetUser a turn of the event loop later, as the adapter sends them to the',
      'emulator), AdminGetUser alone and sign-ins through the Redis-store app; the app\'s log lines give the counted sign-ins\'',
      'time inside the app, and Node\'s HTTP diagnostics channels in its process split that time at its first call to Cognito',
      'and at Cognito\'s last answer. The first',
      'Redis cookie row repeats one session, as a browser does: an instance keeps a session it read lately in a local view',
      'for up to 10 s (src/session/session-view.ts, kept correct by the store\'s change',
      `channel), so those calls are answered from it; the second cycles through ${ROTATED_SESSIONS.toLocaleString('en')} sessions (more than a view keeps), so`,
      'every call reads Redis, and each session\'s first call in a minute also writes its last-seen time. Session memory',
      'is measured in a fresh app process of its own, which then exits: RSS after a full GC, before and after creating the',
      'sessions through the session manager.',
      '',
      `Latest run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}.`,
      '',
      ...lines,
      ''
    ].join('\n'))
    process.stdout.write(`written to bench/README.md\n`)
    await redisApp.ask('endSessions', null)
  } finally {
    for (const app of apps) await app.stop()
    upstream.child.kill()
    await emulator.stop()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
