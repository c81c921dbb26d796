// Real IMS API stand-ins on loopback that record what reached them, and a raw HTTP client that sends paths unaltered.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'

/** One request as the upstream saw it. */
export interface Seen {
  method: string
  url: string
  headers: IncomingHttpHeaders
  bytes: number
  sha256: string
}

/** The running upstream: its URL, what it saw, and a latch that holds `/…/held` responses open. */
export interface Upstream {
  url: string
  seen: Seen[]
  /** Requests whose URL contains `marker`. */
  saw: (marker: string) => Seen[]
  /** Lets every held stream finish. */
  release: () => void
  close: () => Promise<void>
}

/** `size` bytes of a repeating, position-dependent pattern (so a lost or reordered chunk changes the hash). */
export function patternBytes (size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + (i >> 10)) & 0xff
  return buffer
}

export function sha256 (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Starts the upstream. Behaviour by the path's last segment: `download?bytes=N` sends N pattern bytes; `held` sends an
 * SSE event, then the second only after `release()`; `slow` never answers; `headers` answers with cookies, CORS,
 * security headers, site-data and proxy headers of its own, and a header its Connection header names hop-by-hop;
 * `redirect?location=L` answers 303 with Location and Content-Location L; `missing` answers 404; anything else drains
 * the body and answers 200 with its size.
 */
export async function startUpstream (): Promise<Upstream> {
  const seen: Seen[] = []
  let releaseHeld: () => void = () => {}
  let held = new Promise<void>((resolve) => { releaseHeld = resolve })
  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256')
    let bytes = 0
    req.on('data', (chunk: Buffer) => { bytes += chunk.length; hash.update(chunk) })
    req.on('end', () => {
      const url = req.url ?? ''
      seen.push({ method: req.method ?? '', url, headers: req.headers, bytes, sha256: hash.digest('hex') })
      const last = url.split('?')[0]!.split('/').pop()
      if (last === 'slow') return
      if (last === 'download') {
        const size = Number(new URL(url, 'http://x').searchParams.get('bytes'))
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) })
        const data = patternBytes(size)
        Readable.from((function * () { for (let at = 0; at < size; at += 65536) yield data.subarray(at, at + 65536) })()).pipe(res)
        return
      }
      if (last === 'held') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        res.write('data: first\n\n')
        void held.then(() => { res.end('data: second\n\n') })
        return
      }
      if (last === 'headers') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'set-cookie': ['__Host-ims-session=planted; Path=/; Secure', 'tracker=1; Path=/'],
          'access-control-allow-origin': '*',
          'content-security-policy': "frame-ancestors *",
          'x-powered-by': 'upstream',
          'clear-site-data': '"cookies", "storage"',
          'proxy-authenticate': 'Basic realm="ims-internal"',
          connection: 'x-hop, keep-alive',
          'x-hop': 'internal',
          vary: 'Accept-Encoding',
          'x-upstream': 'yes'
        })
        res.end('{"ok":true}')
        return
      }
      if (last === 'redirect') {
        const location = new URL(url, 'http://x').searchParams.get('location') ?? ''
        res.writeHead(303, { location, 'content-location': location })
        res.end()
        return
      }
      if (last === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end('{"upstream":"no such thing"}')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, bytes }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    saw: (marker) => seen.filter((s) => s.url.includes(marker)),
    release: () => {
      releaseHeld()
      held = new Promise<void>((resolve) => { releaseHeld = resolve })
    },
    close: async () => {
      releaseHeld()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

/** A response read whole. */
export interface RawResponse { status: number, headers: IncomingHttpHeaders, body: Buffer }

/**
 * Sends one request to `origin` with `path` exactly as given (fetch and URL would resolve dot segments first).
 * `body` may be a Buffer or a stream; the answer is read whole.
 */
export async function rawRequest (origin: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | Readable): Promise<RawResponse> {
  const { hostname, port } = new URL(origin)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body instanceof Readable) body.pipe(req)
    else req.end(body)
  })
}

/** The final response in `received` once it is whole (1xx responses before it skipped), else undefined. */
function wholeResponse (received: Buffer): RawResponse | undefined {
  let rest = received
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) return undefined
    const head = rest.subarray(0, end).toString('latin1').split('\r\n')
    const status = Number(head[0]!.split(' ')[1])
    if (status >= 100 && status < 200) {
      rest = rest.subarray(end + 4)
      continue
    }
    const headers: IncomingHttpHeaders = {}
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    const body = rest.subarray(end + 4)
    return body.length >= length ? { status, headers, body: body.subarray(0, length) } : undefined
  }
}

/**
 * Sends a bodiless request over a socket of its own, head written byte for byte (`headers` as given: the hop-by-hop and
 * framing headers Node's client would refuse or rewrite included), and reads the final response (1xx ones skipped);
 * fails when none is whole within `timeoutMs`.
 */
export async function socketRequest (origin: string, method: string, path: string, headers: Array<[string, string]>, timeoutMs = 5000): Promise<RawResponse> {
  const { hostname, port } = new URL(origin)
  const socket = connect(Number(port), hostname)
  const timer = setTimeout(() => { socket.destroy(new Error(`no whole response within ${timeoutMs} ms`)) }, timeoutMs)
  try {
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`)
    let received = Buffer.alloc(0)
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      received = Buffer.concat([received, chunk])
      const response = wholeResponse(received)
      if (response !== undefined) return response
    }
    throw new Error(`the connection closed before a whole response: ${received.toString('latin1').slice(0, 200)}`)
  } finally {
    clearTimeout(timer)
    socket.destroy()
  }
}

/** An upstream in a child process whose event loop the test can freeze: see startFreezableUpstream. */
export interface FreezableUpstream {
  url: string
  /** The URLs of the requests it has read so far. */
  requests: () => string[]
  /**
   * Freezes its event loop for `ms` and fills its accept queue, so that a new connection to it cannot open until it
   * thaws and the connecting side's TCP retries its SYN (on Linux 1 s, then 3 s after the first try).
   */
  freeze: (ms: number) => Promise<void>
  close: () => Promise<void>
}

/** The child's program: an HTTP server with a one-place accept queue that logs what it reads, frozen on command. */
const FREEZABLE_UPSTREAM = `
const server = require('node:http').createServer((req, res) => {
  console.log('request ' + req.url)
  if (!req.url.endsWith('/slow')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
})
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => { console.log('port ' + server.address().port) })
require('node:readline').createInterface({ input: process.stdin }).on('line', (ms) => {
  console.log('frozen')
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ms))
})
`

/**
 * Starts an upstream that can stop accepting connections for a while (a real server on loopback, in a child process
 * because a Node server accepts every connection its event loop sees). `/…/slow` is never answered; anything else is
 * answered 200.
 */
export async function startFreezableUpstream (): Promise<FreezableUpstream> {
  const child = spawn(process.execPath, ['-e', FREEZABLE_UPSTREAM], { stdio: ['pipe', 'pipe', 'inherit'] })
  const requests: string[] = []
  const fillers: Socket[] = []
  let acknowledge = (): void => {}
  const lines = createInterface({ input: child.stdout })
  const [portLine] = await once(lines, 'line') as [string]
  lines.on('line', (line) => {
    if (line === 'frozen') acknowledge()
    else requests.push(line.slice('request '.length))
  })
  const port = Number(portLine.slice('port '.length))
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => [...requests],
    freeze: async (ms) => {
      const frozen = new Promise<void>((resolve) => { acknowledge = resolve })
      child.stdin.write(`${ms}\n`)
      await frozen
      // More than any accept queue of one place holds (Linux keeps two): the rest wait for a SYN retry, as will the next.
      for (let i = 0; i < 8; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}))
      await sleep(200)
    },
    close: async () => {
      for (const filler of fillers) filler.destroy()
      child.kill()
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
    }
  }
}
