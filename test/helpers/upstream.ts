// A real IMS API stand-in on loopback that records what reached it, and a raw HTTP client that sends paths unaltered.
import { createHash } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'

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
 * SSE event, then the second only after `release()`; `slow` never answers; `headers` answers with cookies, CORS and
 * security headers of its own; `missing` answers 404; anything else drains the body and answers 200 with its size.
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
          vary: 'Accept-Encoding',
          'x-upstream': 'yes'
        })
        res.end('{"ok":true}')
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
