// The /api proxy against cognito-local and a real loopback upstream: role rules, header hygiene, streaming, failures.
import { randomUUID } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp } from '../helpers/app.js'
import { freePort } from '../helpers/ports.js'
import { ConfigError, loadConfig } from '../../fastify.config.js'
import { patternBytes, rawRequest, sha256, socketRequest, startUpstream, type Upstream } from '../helpers/upstream.js'
import { FUZZ_SEED, fuzzRuns } from '../helpers/fuzz.js'

const TIMEOUT_MS = 1500

let emulator: Emulator
let upstream: Upstream
let app: FastifyInstance
let origin: string
const logs = new LogCapture()

t.before(async () => {
  emulator = await startEmulator()
  upstream = await startUpstream()
  app = await testApp(emulator, { API_UPSTREAM_URL: upstream.url, API_TIMEOUT_MS: String(TIMEOUT_MS) }, { logStream: logs })
  origin = await app.listen({ port: 0, host: '127.0.0.1' })
})
t.teardown(async () => {
  await app?.close()
  await upstream?.close()
  await emulator?.stop()
})

/** A signed-in browser of a fresh user in `groups`: its cookie header and its sub. */
async function browser (groups: string[]): Promise<{ cookie: string, sub: string }> {
  const { cookie, response } = await signIn(app, await emulator.user(groups), TEST_PASSWORD)
  if (cookie === '') throw new Error(`sign-in failed: ${response.body}`)
  return { cookie, sub: response.json().user.sub }
}

/** A path under `prefix` that no other request uses, so the upstream's record of it is this request's alone. */
function fresh (prefix: string): string {
  return `${prefix}/item-${randomUUID().slice(0, 8)}`
}

t.test('each role against each default prefix: allowed ones reach the upstream, refused ones get 403 and reach nothing', async (t) => {
  const expected: Record<string, Record<string, number>> = {
    ADMIN: { '/api/admin': 200, '/api/planning': 200, '/api/shop-floor': 200, '/api/inventory': 200 },
    MANAGER: { '/api/admin': 403, '/api/planning': 200, '/api/shop-floor': 200, '/api/inventory': 200 },
    LINE_LEADER: { '/api/admin': 403, '/api/planning': 403, '/api/shop-floor': 200, '/api/inventory': 200 }
  }
  for (const [role, byPrefix] of Object.entries(expected)) {
    const { cookie } = await browser([role])
    for (const [prefix, status] of Object.entries(byPrefix)) {
      const path = fresh(prefix)
      const response = await app.inject({ method: 'GET', url: path, headers: { cookie } })
      t.equal(response.statusCode, status, `${role} GET ${prefix}`)
      t.equal(upstream.saw(path).length, status === 200 ? 1 : 0, `${role} ${prefix}: upstream saw ${status === 200 ? 'it' : 'nothing'}`)
      if (status === 403) t.equal(response.json().error, 'FORBIDDEN')
    }
  }
  // A user without any mapped group is refused everywhere, /api itself included.
  const { cookie } = await browser([])
  for (const path of ['/api', fresh('/api/inventory')]) {
    const response = await app.inject({ method: 'GET', url: path, headers: { cookie } })
    t.equal(response.statusCode, 403)
  }
})

t.test('no session, a dead session or a forged bearer token: 401 UNAUTHENTICATED and the upstream sees nothing', async (t) => {
  const path = fresh('/api/shop-floor')
  for (const headers of [{}, { cookie: `__Host-ims-session=${'A'.repeat(43)}` }, { authorization: 'Bearer not.a.token' }]) {
    const response = await app.inject({ method: 'GET', url: path, headers })
    t.equal(response.statusCode, 401)
    t.equal(response.json().error, 'UNAUTHENTICATED')
  }
  t.equal(upstream.saw(path).length, 0)
})

t.test('header hygiene: the session\'s token and the real identity go up; browser credentials, cookies and X-IMS-* never do', async (t) => {
  const { cookie, sub } = await browser(['LINE_LEADER', 'MANAGER'])
  const path = fresh('/api/planning')
  // Client addresses and identities as CDNs, load balancers and ALB's OIDC authentication state them: only the adapter may.
  const claimed = {
    'true-client-ip': '203.0.113.9',
    'x-client-ip': '203.0.113.9',
    'client-ip': '203.0.113.9',
    'cf-connecting-ip': '203.0.113.9',
    'fastly-client-ip': '203.0.113.9',
    'x-cluster-client-ip': '203.0.113.9',
    'x-original-forwarded-for': '203.0.113.9',
    'x-envoy-external-address': '203.0.113.9',
    'x-amzn-oidc-identity': 'admin@ims.local',
    'x-amzn-oidc-data': 'forged.claims.jwt',
    'x-amzn-oidc-accesstoken': 'forged-token'
  }
  const response = await app.inject({
    method: 'POST',
    url: `${path}?q=a%20b&x=1&x=2&code=AB12&token=t1`,
    headers: {
      ...CSRF,
      cookie: `${cookie}; __Host-ims-preauth=${'B'.repeat(43)}; other=1`,
      'x-ims-user-sub': 'forged-sub',
      'x-ims-roles': 'ADMIN',
      'x-ims-anything': 'forged',
      x_ims_roles: 'ADMIN',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'evil.example',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'x-request-id': 'forged-id',
      'x-original-url': '/api/admin/users',
      'x-rewrite-url': '/api/admin/users',
      'x-http-method-override': 'DELETE',
      'x-http-method': 'DELETE',
      'x-method-override': 'DELETE',
      ...claimed,
      'x-custom': 'kept',
      'content-type': 'application/json'
    },
    payload: '{"order":42}'
  })
  t.equal(response.statusCode, 200)
  const [seen] = upstream.saw(path)
  t.ok(seen, 'the upstream saw the request')
  t.equal(seen!.method, 'POST')
  t.equal(seen!.url, `${path}?q=a%20b&x=1&x=2&code=AB12&token=t1`, 'path and query intact, the backend own code and token parameters included')
  t.equal(seen!.bytes, Buffer.byteLength('{"order":42}'), 'body intact')
  t.equal(seen!.headers['content-type'], 'application/json')
  t.equal(seen!.headers['x-custom'], 'kept')
  t.equal(seen!.headers['x-ims-user-sub'], sub)
  t.equal(seen!.headers['x-ims-roles'], 'MANAGER,LINE_LEADER')
  t.notOk(seen!.headers['x-ims-anything'])
  t.notOk(seen!.headers.x_ims_roles, 'nor the underscore spelling some servers read as X-IMS-Roles')
  t.notOk(seen!.headers.cookie, 'no cookie at all')
  t.notOk(seen!.headers['proxy-authorization'])
  t.notOk(seen!.headers['x-csrf'])
  for (const name of ['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override']) {
    t.notOk(seen!.headers[name], `no ${name}: the upstream serves the path and method that were judged`)
  }
  for (const name of Object.keys(claimed)) t.notOk(seen!.headers[name], `no ${name}: the caller cannot name its own address or identity`)
  t.equal(seen!.headers['x-forwarded-for'], '127.0.0.1')
  t.not(seen!.headers['x-forwarded-host'], 'evil.example')
  t.match(seen!.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'the adapter\'s request id, not the browser\'s')
  const bearer = /^Bearer (\S+)$/.exec(seen!.headers.authorization ?? '')
  t.ok(bearer, 'a bearer token')
  const claims = await app.verifier.verifyAccess(bearer![1]!)
  t.equal(claims.sub, sub, 'the access token of this user\'s session')
  t.same(claims.groups.sort(), ['LINE_LEADER', 'MANAGER'])
})

t.test('a bearer caller: its own access token goes up, with its roles; no CSRF header needed', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const path = fresh('/api/shop-floor')
  const response = await app.inject({ method: 'PUT', url: path, headers: { authorization: `Bearer ${accessToken}`, 'x-ims-roles': 'ADMIN' }, payload: { a: 1 } })
  t.equal(response.statusCode, 200)
  const [seen] = upstream.saw(path)
  t.equal(seen!.headers.authorization, `Bearer ${accessToken}`)
  t.equal(seen!.headers['x-ims-roles'], 'LINE_LEADER')
  const refused = await app.inject({ method: 'GET', url: fresh('/api/planning'), headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(refused.statusCode, 403)
})

t.test('bar 27: unsafe cookie requests need X-CSRF: 1 (and not cross-site); the upstream sees nothing otherwise', async (t) => {
  const { cookie } = await browser(['MANAGER'])
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    const path = fresh('/api/planning')
    const refused = await app.inject({ method, url: path, headers: { cookie }, payload: { a: 1 } })
    t.equal(refused.statusCode, 403, method)
    t.equal(refused.json().error, 'CSRF_REQUIRED')
    const crossSite = await app.inject({ method, url: path, headers: { cookie, ...CSRF, 'sec-fetch-site': 'cross-site' }, payload: { a: 1 } })
    t.equal(crossSite.json().error, 'CSRF_REQUIRED')
    t.equal(upstream.saw(path).length, 0)
    const allowed = await app.inject({ method, url: path, headers: { cookie, ...CSRF }, payload: { a: 1 } })
    t.equal(allowed.statusCode, 200, `${method} with X-CSRF`)
    t.equal(upstream.saw(path).length, 1)
  }
})

t.test('paths are judged as the upstream will read them: traversal, encodings, case and ;parameters', async (t) => {
  const leader = await browser(['LINE_LEADER'])
  const admin = await browser(['ADMIN'])
  const marker = () => randomUUID().slice(0, 8)
  const refusedForLeader = [
    (m: string) => `/api/shop-floor/../admin/${m}`,
    (m: string) => `/api/shop-floor/%2e%2e/admin/${m}`,
    (m: string) => `/api/shop-floor/.%2E/admin/${m}`,
    (m: string) => `/api//admin/${m}`,
    (m: string) => `/api/ADMIN/${m}`,
    (m: string) => `/api/%61dmin/${m}`,
    (m: string) => `/api/admin;x=1/${m}`,
    (m: string) => `/api/shop-floor/./../planning/${m}`,
    // Dotless ı and dotted İ: servers comparing like Java's equalsIgnoreCase read both as "admin".
    (m: string) => `/api/adm%C4%B1n/${m}`,
    (m: string) => `/api/adm%C4%B0n/${m}`,
    // Spaces around a segment and trailing dots, which Windows and IIS drop; full-width letters, which NFKC folds.
    (m: string) => `/api/%20admin/${m}`,
    (m: string) => `/api/admin%20/${m}`,
    (m: string) => `/api/admin./${m}`,
    (m: string) => `/api/admin.%20./${m}`,
    (m: string) => `/api/%E3%80%80admin/${m}`,
    (m: string) => `/api/%EF%BD%81dmin/${m}`
  ]
  for (const build of refusedForLeader) {
    const m = marker()
    const path = build(m)
    const response = await rawRequest(origin, 'GET', path, { cookie: leader.cookie })
    t.equal(response.status, 403, `LINE_LEADER ${path}`)
    t.equal(upstream.saw(m).length, 0)
  }
  const m = marker()
  const allowed = await rawRequest(origin, 'GET', `/api/shop-floor/../admin/${m}?k=v`, { cookie: admin.cookie })
  t.equal(allowed.status, 200)
  t.equal(upstream.saw(m)[0]?.url, `/api/admin/${m}?k=v`, 'the upstream receives the normalised path that was judged')
  // Escapes encoded twice read as admin to a server that decodes again: refused like encoded slashes.
  for (const path of ['/api/shop-floor/..%2fadmin/x', '/api/shop-floor/..%5cadmin/x', '/api/shop-floor/..;/admin/x', '/api/adm%2569n/x', '/api/shop-floor/%252e%252e/admin/x', '/api/%25%36%31dmin/x', '/api/shop-floor/%25%32%65%25%32%65/admin/x',
    // A dot segment padded with spaces or written full-width; a backslash written full-width.
    '/api/shop-floor/..%20/admin/x', '/api/shop-floor/%20../admin/x', '/api/shop-floor/%EF%BC%8E%EF%BC%8E/admin/x', '/api/shop-floor/..%EF%BC%BCadmin/x']) {
    const response = await rawRequest(origin, 'GET', path, { cookie: admin.cookie })
    t.equal(response.status, 400, path)
    t.equal(JSON.parse(response.body.toString()).error, 'VALIDATION_ERROR')
  }
  const malformed = await rawRequest(origin, 'GET', '/api/shop-floor/%zz', { cookie: admin.cookie })
  t.equal(JSON.parse(malformed.body.toString()).error, 'NOT_FOUND', 'a malformed escape is refused in the contract\'s shape')
  t.equal(malformed.headers['x-content-type-options'], 'nosniff', 'with the security headers too (bar 30)')
  t.match(String(malformed.headers['content-security-policy']), /frame-ancestors 'none'/)
  const escaped = await rawRequest(origin, 'GET', '/api/../auth/me', { cookie: admin.cookie })
  t.equal(escaped.status, 404, 'a path that leaves /api is not proxied')
  t.equal(upstream.saw('/auth/me').length, 0)
})

/** Decodes percent-escapes as a lenient server does: what cannot be decoded stays as it is. */
function lenientDecode (text: string): string {
  return text.replace(/(%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return run
    }
  })
}

/**
 * The segments of every way a permissive upstream may read the path it received (written here apart from
 * src/proxy/path.ts, so the test does not grade the code by itself): escapes decoded once or twice, full-width
 * characters folded (NFKC) or not, backslashes as slashes, case folded as Java and .NET compare, `;parameters` cut,
 * spaces around segments and their trailing dots dropped as Windows does or kept, dot segments resolved, empty
 * segments dropped.
 */
function upstreamReadings (url: string): string[][] {
  const path = url.split('?')[0]!
  const readings: string[][] = []
  const trims = [(part: string) => part, (part: string) => /^\s*\.+\s*$/.test(part) ? part.trim() : part.trim().replace(/[.\s]+$/, '')]
  const decodings = [lenientDecode(path), lenientDecode(lenientDecode(path))].flatMap((decoded) => [decoded, decoded.normalize('NFKC')])
  for (const decoded of decodings) {
    for (const [folded, trim] of [decoded.toLowerCase(), decoded.toUpperCase().toLowerCase().replaceAll('i\u0307', 'i')].flatMap((text) => trims.map((trim) => [text, trim] as const))) {
      const resolved: string[] = []
      for (const segment of folded.replaceAll('\\', '/').split('/').map((part) => trim(part.split(';')[0]!))) {
        if (segment === '..') resolved.pop()
        else if (segment !== '.' && segment !== '') resolved.push(segment)
      }
      readings.push(resolved)
    }
  }
  return readings
}

t.test('generated paths: whatever a LINE_LEADER sends, no request the upstream receives reads as /api/admin or /api/planning', async (t) => {
  const leader = await browser(['LINE_LEADER'])
  const segment = fc.constantFrom(
    'admin', 'ADMIN', 'Admin', 'planning', 'shop-floor', 'x', '', '.', '..', '%2e', '%2E%2e', '.%2e', '..;', 'admin;x=1',
    '%61dmin', '%2561dmin', '%25%36%31dmin', 'adm%25%36%39n', 'adm%C4%B1n', 'adm%C4%B0n', '%252e%252e', '%25', '%zz', 'plann%49ng', 'adm%2569n', '%2e%2e;x',
    '%20admin', 'admin%20', 'admin.', '..%20', '%20..', '%EF%BD%81dmin', '%EF%BC%8E%EF%BC%8E', 'adm%EF%BD%89n.', '%E3%80%80planning'
  )
  const runs = fuzzRuns(300)
  let count = 0
  await fc.assert(fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 5 }), async (segments) => {
    const marker = `m${(++count).toString(16).padStart(6, '0')}`
    const path = `/api/${segments.join('/')}/${marker}`
    const response = await rawRequest(origin, 'GET', path, { cookie: leader.cookie })
    if (response.status === 500) throw new Error(`${path}: 500`)
    for (const seen of upstream.saw(marker)) {
      for (const reading of upstreamReadings(seen.url)) {
        if (reading[0] === 'api' && (reading[1] === 'admin' || reading[1] === 'planning')) {
          throw new Error(`${path} reached the upstream as ${seen.url}, which reads as /${reading.join('/')}`)
        }
      }
    }
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} generated paths, none reaching a path the role rules refuse`)
})

t.test('generated hop-by-hop and identity headers from the caller: never a 5xx, and the upstream hears only the adapter on who calls', async (t) => {
  const leader = await browser(['LINE_LEADER'])
  const name = fc.constantFrom(
    'connection', 'Connection', 'keep-alive', 'te', 'upgrade', 'trailer', 'expect', 'via', 'x-ims-roles', 'X-IMS-User-Sub', 'x-ims-anything',
    'x-forwarded-for', 'X-Forwarded-Host', 'forwarded', 'authorization', 'proxy-authorization', 'x-http-method-override', 'x-original-url',
    'x-request-id', 'x-csrf', 'x-real-ip'
  )
  const value = fc.constantFrom(
    'keep-alive', 'close', 'keep-alive, X-IMS-Roles', 'X-IMS-User-Sub, authorization', 'Upgrade', 'ADMIN', '100-continue', 'chunked', 'trailers',
    'h2c', 'websocket', '1.2.3.4', 'POST', '/api/admin/x', 'Bearer forged', '0', 'timeout=5', 'x'
  )
  const runs = fuzzRuns(150)
  let count = 0
  await fc.assert(fc.asyncProperty(fc.dictionary(name, value, { minKeys: 1, maxKeys: 4 }), async (extra) => {
    const marker = `h${(++count).toString(16).padStart(6, '0')}`
    const response = await socketRequest(origin, 'GET', `/api/shop-floor/${marker}`, [...Object.entries(extra), ['cookie', leader.cookie]])
    if (response.status >= 500) throw new Error(`${JSON.stringify(extra)}: ${response.status} ${response.body.toString().slice(0, 200)}`)
    const seen = upstream.saw(marker)
    if (response.status !== 200) {
      const body = JSON.parse(response.body.toString()) as { error?: string }
      if (typeof body.error !== 'string' || seen.length > 0) throw new Error(`${JSON.stringify(extra)}: ${response.status} ${response.body.toString()} (upstream saw ${seen.length})`)
      return
    }
    if (seen.length !== 1) throw new Error(`${JSON.stringify(extra)}: the upstream saw ${seen.length} requests`)
    const heard = seen[0]!
    const wrong = [
      heard.method !== 'GET' && `method ${heard.method}`,
      heard.headers['x-ims-roles'] !== 'LINE_LEADER' && `x-ims-roles ${String(heard.headers['x-ims-roles'])}`,
      heard.headers['x-ims-user-sub'] !== leader.sub && `x-ims-user-sub ${String(heard.headers['x-ims-user-sub'])}`,
      (heard.headers.authorization === 'Bearer forged' || !String(heard.headers.authorization).startsWith('Bearer ey')) && 'authorization',
      heard.headers['x-ims-anything'] !== undefined && 'x-ims-anything',
      heard.headers['x-forwarded-for'] !== '127.0.0.1' && `x-forwarded-for ${String(heard.headers['x-forwarded-for'])}`,
      ['proxy-authorization', 'x-http-method-override', 'x-original-url', 'forwarded', 'x-real-ip', 'x-csrf', 'cookie']
        .filter((header) => heard.headers[header] !== undefined).join(' ')
    ].filter(Boolean)
    if (wrong.length > 0) throw new Error(`${JSON.stringify(extra)}: the upstream heard ${wrong.join(', ')}`)
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} generated header sets, none reaching the upstream as the caller's own say`)
})

t.test('odd but legal paths and queries reach the upstream as sent: "../" in a query, a segment named "..hidden", stray "%"', async (t) => {
  const admin = await browser(['ADMIN'])
  const errorsBefore = logs.entries.filter((entry) => entry.level >= 50).length
  const m = randomUUID().slice(0, 8)
  const cases = [
    `/api/shop-floor/${m}/a?file=../etc/passwd`,
    `/api/shop-floor/${m}/b?a=/..`,
    `/api/shop-floor/${m}/..hidden`,
    `/api/shop-floor/${m}/..hidden/c`,
    `/api/shop-floor/${m}/%2E%2Ehidden`,
    `/api/shop-floor/${m}/...`,
    // File names with a full-width percent sign (a yield, a defect rate) are names, not escapes.
    `/api/shop-floor/${m}/%E8%89%AF%E5%93%81%E7%8E%8798%EF%BC%852024%E5%B9%B4.xlsx`,
    `/api/shop-floor/${m}/%E4%B8%8D%E8%89%AF%E7%8E%87%EF%BC%93%EF%BC%8510%E6%9C%88.pdf`,
    `/api/shop-floor/${m}/c:x`,
    `/api/shop-floor/${m}/dir/`,
    `/api/shop-floor/${m}/d?q=%`,
    `/api/shop-floor/${m}/e?q=%E0%A4%A&x=%zz`,
    `/api?${m}`
  ]
  for (const path of cases) {
    const response = await rawRequest(origin, 'GET', path, { cookie: admin.cookie })
    t.equal(response.status, 200, path)
    t.same(upstream.saw(m).map((seen) => seen.url).filter((url) => url === path), [path], `${path}: the upstream saw it as sent`)
  }
  t.equal(logs.entries.filter((entry) => entry.level >= 50).length, errorsBefore, 'and nothing was logged as an error')
})

t.test('streaming: a 20 MB upload of any content type and a 20 MB download pass through whole', async (t) => {
  const { cookie } = await browser(['LINE_LEADER'])
  const data = patternBytes(20 * 1024 * 1024)
  const path = fresh('/api/shop-floor/upload')
  const started = Date.now()
  const upload = await rawRequest(origin, 'POST', path, { cookie, ...CSRF, 'content-type': 'application/octet-stream', 'content-length': String(data.length) }, Readable.from([data.subarray(0, 8e6), data.subarray(8e6)]))
  t.comment(`20 MB upload through the proxy: ${Date.now() - started} ms`)
  t.equal(upload.status, 200)
  const [seen] = upstream.saw(path)
  t.equal(seen?.bytes, data.length, 'the upstream saw every byte')
  t.equal(seen?.sha256, sha256(data), 'in order')

  for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/json']) {
    const typed = fresh('/api/shop-floor/typed')
    const body = Buffer.from(type === 'application/json' ? JSON.stringify({ big: 'x'.repeat(200_000) }) : '--x\r\nhello\r\n--x--')
    const response = await rawRequest(origin, 'POST', typed, { cookie, ...CSRF, 'content-type': type }, body)
    t.equal(response.status, 200, type)
    t.equal(upstream.saw(typed)[0]?.sha256, sha256(body), `${type} arrives unparsed`)
  }

  const downloadStarted = Date.now()
  const download = await rawRequest(origin, 'GET', `${fresh('/api/shop-floor')}/download?bytes=${data.length}`, { cookie })
  t.comment(`20 MB download through the proxy: ${Date.now() - downloadStarted} ms`)
  t.equal(download.status, 200)
  t.equal(download.body.length, data.length)
  t.equal(sha256(download.body), sha256(data))
})

t.test('responses stream without buffering: the first SSE event arrives while the upstream still holds the rest', async (t) => {
  const { cookie } = await browser(['LINE_LEADER'])
  const { hostname, port } = new URL(origin)
  const events = await new Promise<{ first: string, all: string, contentType: string | undefined }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('no first event within 5 s: the proxy buffers')) }, 5000)
    const req = httpRequest({ hostname, port, path: `${fresh('/api/shop-floor')}/held`, headers: { cookie, accept: 'text/event-stream' }, agent: false }, (res) => {
      let all = ''
      let first: string | undefined
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        all += chunk
        if (first === undefined) {
          first = chunk
          clearTimeout(timer)
          upstream.release()
        }
      })
      res.on('end', () => { resolve({ first: first ?? '', all, contentType: res.headers['content-type'] }) })
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(events.first, 'data: first\n\n')
  t.equal(events.all, 'data: first\n\ndata: second\n\n')
  t.equal(events.contentType, 'text/event-stream')
})

t.test('upstream answers pass through, less the headers the adapter owns (cookies, site data, CORS, security headers) and hop-by-hop ones', async (t) => {
  const { cookie } = await browser(['LINE_LEADER'])
  const response = await app.inject({ method: 'GET', url: `${fresh('/api/shop-floor')}/headers`, headers: { cookie, origin: 'https://evil.example' } })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-upstream'], 'yes')
  t.notOk(response.headers['set-cookie'], 'the upstream cannot set cookies on the adapter\'s origin')
  t.notOk(response.headers['access-control-allow-origin'])
  t.notOk(response.headers['x-powered-by'])
  t.notOk(response.headers['clear-site-data'], 'the upstream cannot wipe the adapter\'s session cookie or storage')
  t.notOk(response.headers['proxy-authenticate'], 'a challenge meant for proxies is not the browser\'s')
  t.notOk(response.headers['x-hop'], 'a header the upstream\'s Connection header names is hop-by-hop (RFC 9110 7.6.1)')
  t.match(response.headers['content-security-policy'], /frame-ancestors 'none'/)
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  t.match(response.headers.vary, /Origin/)
  t.match(response.headers.vary, /Accept-Encoding/)
  const missing = await app.inject({ method: 'GET', url: `${fresh('/api/shop-floor')}/missing`, headers: { cookie } })
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { upstream: 'no such thing' }, 'the upstream\'s own answers are its own')
})

t.test('a Location naming the upstream\'s own host becomes the browser\'s path under /api; relative ones and other hosts stay', async (t) => {
  const { cookie } = await browser(['LINE_LEADER'])
  const { host, port } = new URL(upstream.url)
  const neighbour = `http://127.0.0.1:${Number(port) + 1}/api/x`
  const cases: Array<[string, string]> = [
    [`${upstream.url}/api/shop-floor/orders/42?view=full#lines`, '/api/shop-floor/orders/42?view=full#lines'],
    [`HTTP://${host}/api/shop-floor/orders`, '/api/shop-floor/orders'],
    [`//${host}/api/shop-floor/orders`, '/api/shop-floor/orders'],
    [`/\\${host}/api/shop-floor/orders`, '/api/shop-floor/orders'],
    [upstream.url, '/'],
    ['/api/shop-floor/orders/43', '/api/shop-floor/orders/43'],
    ['../orders/44?x=1', '../orders/44?x=1'],
    ['https://files.example.com/report.pdf', 'https://files.example.com/report.pdf'],
    [neighbour, neighbour]
  ]
  for (const [sent, shown] of cases) {
    const response = await app.inject({ method: 'GET', url: `${fresh('/api/shop-floor')}/redirect?location=${encodeURIComponent(sent)}`, headers: { cookie } })
    t.equal(response.statusCode, 303)
    t.equal(response.headers.location, shown, `Location ${sent}`)
    t.equal(response.headers['content-location'], shown, `Content-Location ${sent}`)
  }
})

t.test('upstream down: 502 BAD_GATEWAY in the contract\'s shape; nothing internal in the body or the logs', async (t) => {
  const deadLogs = new LogCapture()
  const deadPort = await freePort()
  const dead = await testApp(emulator, { API_UPSTREAM_URL: `http://127.0.0.1:${deadPort}` }, { logStream: deadLogs })
  t.teardown(async () => { await dead.close() })
  const { cookie } = await signIn(dead, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
  const started = Date.now()
  const response = await dead.inject({ method: 'POST', url: '/api/shop-floor/x', headers: { cookie, ...CSRF, 'content-type': 'text/plain' }, payload: 'hello' })
  t.ok(Date.now() - started < 3000, 'fails fast')
  t.equal(response.statusCode, 502)
  const { requestId, ...body } = response.json()
  t.ok(requestId)
  t.same(body, { error: 'BAD_GATEWAY', message: 'The IMS service could not be reached.' })
  t.match(deadLogs.text, /"reason":"ECONNREFUSED"/, 'the failure is logged by its kind')
  t.notMatch(deadLogs.text, /ECONNREFUSED 127\.0\.0\.1|\n\s+at /, 'no upstream address or stack in the logs')
  t.notMatch(deadLogs.text, new RegExp(String(deadPort)))
})

t.test('upstream slow: 504 GATEWAY_TIMEOUT within API_TIMEOUT_MS, never a hang', async (t) => {
  const { cookie } = await browser(['LINE_LEADER'])
  const started = Date.now()
  const response = await rawRequest(origin, 'GET', `${fresh('/api/shop-floor')}/slow`, { cookie })
  const elapsed = Date.now() - started
  t.comment(`504 after ${elapsed} ms (API_TIMEOUT_MS=${TIMEOUT_MS})`)
  t.equal(response.status, 504)
  t.equal(JSON.parse(response.body.toString()).error, 'GATEWAY_TIMEOUT')
  t.ok(elapsed >= TIMEOUT_MS - 100, 'waited for the deadline')
  t.ok(elapsed < TIMEOUT_MS + 3000, 'and not much longer')
})

t.test('an upstream that drops the connection: 502', async (t) => {
  const rude = createServer((req) => { req.socket.destroy() })
  await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve))
  const rudeApp = await testApp(emulator, { API_UPSTREAM_URL: `http://127.0.0.1:${(rude.address() as AddressInfo).port}` })
  t.teardown(async () => {
    await rudeApp.close()
    await new Promise((resolve) => rude.close(resolve))
  })
  const { cookie } = await signIn(rudeApp, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
  const response = await rudeApp.inject({ method: 'GET', url: '/api/shop-floor/x', headers: { cookie } })
  t.equal(response.statusCode, 502)
  t.equal(response.json().error, 'BAD_GATEWAY')
})

t.test('API_ROLE_RULES adds rules over the defaults; API_UPSTREAM_URL unset: /api/* is 404', async (t) => {
  const ruled = await testApp(emulator, { API_UPSTREAM_URL: upstream.url, API_ROLE_RULES: '{"/api/reports": ["MANAGER"]}' })
  const unset = await testApp(emulator, {})
  t.teardown(async () => {
    await ruled.close()
    await unset.close()
  })
  const manager = await signIn(ruled, await emulator.user(['MANAGER']), TEST_PASSWORD)
  const admin = await signIn(ruled, await emulator.user(['ADMIN']), TEST_PASSWORD)
  t.equal((await ruled.inject({ method: 'GET', url: fresh('/api/reports'), headers: { cookie: manager.cookie } })).statusCode, 200)
  t.equal((await ruled.inject({ method: 'GET', url: fresh('/api/reports'), headers: { cookie: admin.cookie } })).statusCode, 403)
  t.equal((await ruled.inject({ method: 'GET', url: fresh('/api/admin'), headers: { cookie: manager.cookie } })).statusCode, 403, 'defaults still apply')
  t.equal((await ruled.inject({ method: 'GET', url: fresh('/api/report%C5%BF'), headers: { cookie: admin.cookie } })).statusCode, 403, 'a long s (ſ) is judged as the "s" it upper-cases to')
  const signedIn = await signIn(unset, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const response = await unset.inject({ method: 'GET', url: '/api/shop-floor/x', headers: { cookie: signedIn.cookie } })
  t.equal(response.statusCode, 404)
  t.equal(response.json().error, 'NOT_FOUND')
})

t.test('a rule covers its prefix by whole segments; a path that merely starts with a longer prefix is held to the stricter rule', async (t) => {
  const ruled = await testApp(emulator, { API_UPSTREAM_URL: upstream.url, API_ROLE_RULES: '{"/api/planning/reports/": ["ADMIN", "MANAGER", "LINE_LEADER"]}' })
  t.teardown(async () => { await ruled.close() })
  const leader = await signIn(ruled, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
  const manager = await signIn(ruled, await emulator.user(['MANAGER']), TEST_PASSWORD)
  const cases: Array<[string, typeof leader, number]> = [
    ['/api/planning/reports/daily', leader, 200],
    ['/api/planning/reports', leader, 200],
    ['/api/planning/reports-payroll', leader, 403],
    ['/api/planning/reportsadmin/export', leader, 403],
    ['/api/planning/payroll', leader, 403],
    ['/api/planning/reports-payroll', manager, 200],
    ['/api/admin-tools', manager, 403],
    ['/api/administration/x', manager, 403],
    ['/api/shop-floorplan', leader, 200]
  ]
  for (const [path, who, status] of cases) {
    const url = fresh(path)
    const response = await ruled.inject({ method: 'GET', url, headers: { cookie: who.cookie } })
    t.equal(response.statusCode, status, `${who === leader ? 'LINE_LEADER' : 'MANAGER'} ${path}`)
    t.equal(upstream.saw(url).length, status === 200 ? 1 : 0, status === 200 ? 'the upstream answered' : 'the upstream saw nothing')
  }
})

t.test('misconfigured proxy settings stop start-up with a sentence naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ API_UPSTREAM_URL: 'http://ims-api:8080/base' }, /^API_UPSTREAM_URL is invalid/],
    [{ API_UPSTREAM_URL: 'ftp://ims-api' }, /^API_UPSTREAM_URL is invalid/],
    [{ API_ROLE_RULES: '{"/reports": ["ADMIN"]}' }, /^API_ROLE_RULES names "\/reports", which is not a path prefix under \/api/],
    [{ API_ROLE_RULES: '{"/api/reports": ["admin"]}' }, /^API_ROLE_RULES\["\/api\/reports"\] must be a non-empty array/],
    [{ API_ROLE_RULES: '{"/api/reports": []}' }, /must be a non-empty array/],
    [{ API_ROLE_RULES: 'not json' }, /^API_ROLE_RULES must be JSON/],
    ...['/api/reports/*', '/api/%72eports', '/api//reports', '/api/reports;v=1'].map((prefix): [Record<string, string>, RegExp] =>
      [{ API_ROLE_RULES: JSON.stringify({ [prefix]: ['ADMIN'] }) }, /^API_ROLE_RULES names ".+", but prefixes match request paths as plain decoded text/]),
    [{ API_TIMEOUT_MS: '0' }, /^API_TIMEOUT_MS is invalid/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: ConfigError.name, message }, JSON.stringify(env))
  }
  t.same(loadConfig({ API_ROLE_RULES: '{"/API/Reports/": ["MANAGER"]}' }).api.roleRules['/api/reports'], ['MANAGER'], 'prefixes are kept in lower case without a trailing slash')
})
