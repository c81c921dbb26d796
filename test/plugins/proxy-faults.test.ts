// The /api proxy against broken callers and hard upstreams: callers who leave, stall or hold streams; upstreams deaf or slow to accept.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp } from '../helpers/app.js'
import { segment } from '../helpers/jwt.js'
import { rawRequest, startFreezableUpstream } from '../helpers/upstream.js'
import { selfSignedCertificate } from '../helpers/tls.js'

const TIMEOUT_MS = 2000
const IDLE_TIMEOUT_MS = 1000

/**
 * A loopback IMS stand-in that counts the requests it is still receiving and answers each one it reads whole, except
 * `/…/deaf`: those it neither reads nor answers until `hearAgain()`, and `/…/stream`: an SSE stream that stays open,
 * a heartbeat comment every 250 ms (well inside API_IDLE_TIMEOUT_MS) after its first event.
 */
interface CountingUpstream { url: string, requestsInProgress: () => number, hearAgain: () => void, close: () => Promise<void> }

async function startCountingUpstream (): Promise<CountingUpstream> {
  let inProgress = 0
  const unheard = new Set<IncomingMessage>()
  const server: Server = createServer((req, res) => {
    inProgress++
    req.once('close', () => { inProgress-- })
    if (req.url?.endsWith('/deaf') === true) {
      unheard.add(req)
      return
    }
    req.resume()
    req.on('end', () => {
      if (req.url?.endsWith('/stream') !== true) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: open\n\n')
      const heartbeat = setInterval(() => res.write(': ping\n\n'), 250)
      res.once('close', () => { clearInterval(heartbeat) })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requestsInProgress: () => inProgress,
    hearAgain: () => {
      for (const req of unheard) req.resume()
      unheard.clear()
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

let cognito: FaultyCognito
let upstream: CountingUpstream
let app: FastifyInstance
let origin: string
const logs = new LogCapture()

t.before(async () => {
  cognito = await startFaultyCognito()
  upstream = await startCountingUpstream()
  app = await testApp(cognito, { API_UPSTREAM_URL: upstream.url, API_TIMEOUT_MS: String(TIMEOUT_MS), API_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) }, { logStream: logs })
  origin = await app.listen({ port: 0, host: '127.0.0.1' })
})
t.teardown(async () => {
  await app?.close()
  await upstream?.close()
  await cognito?.stop()
})

/** A caller's connection that sent the headers of a `contentLength`-byte upload and its first 10 bytes, then nothing. */
interface StalledCaller { socket: Socket, closed: Promise<void>, received: () => string }

async function stalledUpload (path: string, headers: Record<string, string>, contentLength: number): Promise<StalledCaller> {
  const { hostname, port } = new URL(origin)
  const socket = connect(Number(port), hostname)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve() }))
  const head = Object.entries({ host: hostname, 'content-type': 'application/octet-stream', 'content-length': String(contentLength), ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n0123456789`)
  return { socket, closed, received: () => received }
}

/** Resolves with `promise`, or rejects after `ms` saying `what` did not happen. */
async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} not within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits until `condition` holds, polling; rejects after `ms`. */
async function until (ms: number, what: string, condition: () => boolean): Promise<void> {
  await within(ms, what, (async () => { while (!condition()) await sleep(20) })())
}

t.test('a caller who leaves mid-upload while its request is still being judged: the adapter stays up and keeps answering', async (t) => {
  const email = await cognito.user(['LINE_LEADER'])
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const [, claims, signature] = accessToken.split('.')
  // An unknown kid sends the verifier to the key endpoint, which now hangs: the judgement takes JWKS_TIMEOUT_MS.
  const unknownKid = `${segment({ alg: 'RS256', typ: 'JWT', kid: 'not-yet-published' })}.${claims}.${signature}`
  cognito.keyEndpoint('hang')
  try {
    const fetchesBefore = cognito.keyFetches
    const caller = await stalledUpload('/api/shop-floor/leaving', { authorization: `Bearer ${unknownKid}` }, 100_000)
    await until(3000, 'the key fetch', () => cognito.keyFetches > fetchesBefore)
    caller.socket.destroy()
    await sleep(200)
    const response = await rawRequest(origin, 'GET', '/api/shop-floor/after', { authorization: `Bearer ${accessToken}` })
    t.equal(response.status, 200, 'another caller still gets its answer')
    t.equal((await rawRequest(origin, 'GET', '/health/live')).status, 200, 'and the process is alive')
  } finally {
    cognito.keyEndpoint('none')
  }
})

t.test('an upload sent slowly but steadily for longer than API_TIMEOUT_MS reaches the upstream whole and is answered', async (t) => {
  const { cookie } = await signIn(app, await cognito.user(['LINE_LEADER']), TEST_PASSWORD)
  const { hostname, port } = new URL(origin)
  const chunks = 10
  const started = performance.now()
  const answer = await new Promise<string>((resolve) => {
    const request = httpRequest({ hostname, port, method: 'POST', path: '/api/shop-floor/upload', agent: false,
      headers: { cookie, ...CSRF, 'content-type': 'application/octet-stream', 'content-length': String(chunks * 1000) } }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
      response.on('end', () => { resolve(`${response.statusCode} ${body}`) })
    })
    request.on('error', (error) => { resolve(`caller error ${error.message}`) })
    // A chunk every 300 ms: never idle for API_IDLE_TIMEOUT_MS, sent over about 3 s, longer than API_TIMEOUT_MS.
    let sent = 0
    const tick = setInterval(() => {
      request.write(Buffer.alloc(1000, 97))
      if (++sent === chunks) { clearInterval(tick); request.end() }
    }, 300)
  })
  t.ok(performance.now() - started > TIMEOUT_MS, 'the upload took longer than API_TIMEOUT_MS')
  t.equal(answer, '200 {"ok":true}', 'the upstream read it whole and answered')
})

t.test('an https upstream whose certificate nobody vouches for is refused: 502, and the token never sent', async (t) => {
  const certificate = await selfSignedCertificate()
  t.teardown(certificate.remove)
  const tls = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
  })
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { tls.close() })
  const tlsApp = await testApp(cognito, { API_UPSTREAM_URL: `https://127.0.0.1:${(tls.address() as AddressInfo).port}` })
  t.teardown(async () => { await tlsApp.close() })
  const { cookie } = await signIn(tlsApp, await cognito.user(['LINE_LEADER']), TEST_PASSWORD)
  const refused = await tlsApp.inject({ url: '/api/shop-floor/x', headers: { cookie } })
  t.equal(`${refused.statusCode} ${String(refused.json().error)}`, '502 BAD_GATEWAY', 'the users\' tokens are not sent to a server that cannot prove who it is')
})

t.test('128 stalled uploads are cut off after API_IDLE_TIMEOUT_MS and free their upstream connections: /api keeps answering', async (t) => {
  const leader = await signIn(app, await cognito.user(['LINE_LEADER']), TEST_PASSWORD)
  const manager = await signIn(app, await cognito.user(['MANAGER']), TEST_PASSWORD)
  const stalled = await Promise.all(Array.from({ length: 128 }, async (_, i) =>
    await stalledUpload(`/api/shop-floor/stall-${i}`, { cookie: leader.cookie, ...CSRF }, 1_000_000)))
  t.teardown(() => { for (const caller of stalled) caller.socket.destroy() })
  await until(3000, 'every stalled upload holding an upstream connection', () => upstream.requestsInProgress() >= 128)

  const started = performance.now()
  const report = await within(IDLE_TIMEOUT_MS + 3000, 'an answer to the MANAGER', rawRequest(origin, 'GET', '/api/planning/report', { cookie: manager.cookie }))
  t.equal(report.status, 200, 'a MANAGER\'s request is answered')
  t.comment(`answered after ${Math.round(performance.now() - started)} ms behind 128 stalled uploads`)
  await within(IDLE_TIMEOUT_MS + 3000, 'every stalled connection closed', Promise.all(stalled.map(async (caller) => await caller.closed)))
  t.ok(stalled.every((caller) => caller.received() === ''), 'a stalled caller loses its connection, with no made-up answer')
  const stallLogs = logs.entries.filter((entry) => /^the caller sent no part of its upload/.test(String(entry.msg)))
  t.equal(stallLogs.length, 128, 'each cut-off is logged with its reason')
  const stalledIds = new Set(stallLogs.map((entry) => entry.reqId))
  t.notOk(logs.entries.some((entry) => stalledIds.has(entry.reqId) && entry.msg === 'upstream failure'), 'and none as an upstream failure')
  await until(2000, 'the upstream no longer waiting for the rest of those uploads', () => upstream.requestsInProgress() === 0)
})

t.test('an upstream that stops reading an upload: the caller, who is not the one stalling, gets 504 GATEWAY_TIMEOUT, and the upload ends', async (t) => {
  const leader = await signIn(app, await cognito.user(['LINE_LEADER']), TEST_PASSWORD)
  const { hostname, port } = new URL(origin)
  // Up to 1 GB, made as it is read: far more than every buffer between the caller and the deaf upstream holds.
  const body = Readable.from((function * () { for (let i = 0; i < 16_384; i++) yield Buffer.alloc(65_536, i & 0xff) })())
  const started = performance.now()
  const response = await within(TIMEOUT_MS + 3000, 'an answer', new Promise<{ status: number, headers: IncomingHttpHeaders, body: string }>((resolve, reject) => {
    const req = httpRequest({
      hostname, port, method: 'PUT', path: '/api/shop-floor/upload/deaf', agent: false,
      headers: { cookie: leader.cookie, ...CSRF, 'content-type': 'application/octet-stream', 'content-length': String(16_384 * 65_536) }
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text })
        body.destroy()
        req.destroy()
      })
    })
    req.on('error', reject)
    body.pipe(req)
  }))
  t.comment(`504 after ${Math.round(performance.now() - started)} ms (API_TIMEOUT_MS=${TIMEOUT_MS}, API_IDLE_TIMEOUT_MS=${IDLE_TIMEOUT_MS})`)
  t.equal(response.status, 504, 'an answer, not a cut connection')
  t.equal(JSON.parse(response.body).error, 'GATEWAY_TIMEOUT')
  t.equal(response.headers.connection, 'close', 'the half-read connection is not kept for another request')
  // A paused socket notices no close: once the upstream reads again, it finds the connection ended mid-upload.
  upstream.hearAgain()
  await until(2000, 'the upstream finding that upload ended', () => upstream.requestsInProgress() === 0)
})

t.test('one user holding 128 SSE streams (the size of the old upstream pool) starves no one: another user\'s request is answered at once', async (t) => {
  const leader = await signIn(app, await cognito.user(['LINE_LEADER']), TEST_PASSWORD)
  const manager = await signIn(app, await cognito.user(['MANAGER']), TEST_PASSWORD)
  const { hostname, port } = new URL(origin)
  const streams = await within(10_000, '128 streams open', Promise.all(Array.from({ length: 128 }, async (_, i) =>
    await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest({ hostname, port, path: `/api/shop-floor/events-${i}/stream`, headers: { cookie: leader.cookie }, agent: false }, (res) => {
        res.once('data', () => { resolve(res) })
      }).on('error', reject).end()
    }))))
  t.teardown(() => { for (const stream of streams) stream.destroy() })

  const started = performance.now()
  const report = await within(TIMEOUT_MS, 'an answer to the MANAGER', rawRequest(origin, 'GET', '/api/planning/report', { cookie: manager.cookie }))
  t.comment(`answered after ${Math.round(performance.now() - started)} ms beside 128 open streams`)
  t.equal(report.status, 200)
})

t.test('an upstream slow to accept connections: the wait for one counts toward API_TIMEOUT_MS, and a request given up while waiting is never sent', async (t) => {
  const frozen = await startFreezableUpstream()
  const slowApp = await testApp(cognito, { API_UPSTREAM_URL: frozen.url, API_TIMEOUT_MS: String(TIMEOUT_MS) })
  t.teardown(async () => {
    await slowApp.close()
    await frozen.close()
  })
  const slowOrigin = await slowApp.listen({ port: 0, host: '127.0.0.1' })
  const { cookie } = await signIn(slowApp, await cognito.user(['LINE_LEADER']), TEST_PASSWORD)

  /** A request to `path` on slowApp: its status, error code and how long it took. */
  async function timed (path: string): Promise<{ status: number, error: string | undefined, elapsed: number }> {
    const started = performance.now()
    const response = await within(TIMEOUT_MS + 3000, `an answer to ${path}`, rawRequest(slowOrigin, 'GET', path, { cookie }))
    const body = response.body.length > 0 ? JSON.parse(response.body.toString()) as { error?: string } : {}
    return { status: response.status, error: body.error, elapsed: performance.now() - started }
  }

  // Frozen for half a second: the connection opens at the first SYN retry (1 s), then the upstream sits on the request.
  await frozen.freeze(500)
  const late = await timed('/api/shop-floor/late/slow')
  t.comment(`504 after ${Math.round(late.elapsed)} ms, a second of it spent opening the connection (API_TIMEOUT_MS=${TIMEOUT_MS})`)
  t.same([late.status, late.error], [504, 'GATEWAY_TIMEOUT'])
  t.ok(late.elapsed >= TIMEOUT_MS - 100 && late.elapsed < TIMEOUT_MS + 600, 'the deadline counts from the call, not from the connection')

  // Frozen past the deadline: the request is still waiting for its connection when its 504 goes out.
  await frozen.freeze(TIMEOUT_MS + 600)
  const waiting = await timed('/api/shop-floor/waiting')
  t.same([waiting.status, waiting.error], [504, 'GATEWAY_TIMEOUT'])
  t.ok(waiting.elapsed < TIMEOUT_MS + 600, 'answered at the deadline, while still waiting')
  await sleep(1500)
  // By now the upstream has thawed and the SYN retry at 3 s has found it: whatever was waiting went nowhere.
  t.equal((await timed('/api/shop-floor/after')).status, 200, 'the upstream answers again')
  t.same(frozen.requests(), ['/api/shop-floor/late/slow', '/api/shop-floor/after'], 'the request given up while waiting never reached it')
})
