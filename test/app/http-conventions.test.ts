// The contract's HTTP conventions: error bodies, 400/404/413/415, security headers and CORS (bar 27, 29, 30, 32, 34).
import { Agent, createServer, get, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { hostname } from 'node:os'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, signIn, testApp } from '../helpers/app.js'
import { loadConfig } from '../../fastify.config.js'
import { buildApp } from '../../src/app.js'

let emulator: Emulator
let app: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator, { CORS_ORIGINS: 'https://ims.example.com,http://localhost:5173' })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

const post = async (payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, ...headers }, payload })

function assertErrorBody (t: Test, body: Record<string, unknown>, code: string) {
  t.equal(body.error, code)
  t.type(body.message, 'string')
  t.match(body.requestId, /^[0-9a-f-]{36}$/)
  t.notOk(JSON.stringify(body).includes(' at '), 'no stack trace')
}

t.test('bar 32: unknown fields, wrong types, __proto__ and constructor keys are 400 VALIDATION_ERROR; invalid JSON 400', async (t) => {
  const cases: Array<[string, string]> = [
    ['unknown field', JSON.stringify({ username: 'a@b.c', password: 'x', role: 'ADMIN' })],
    ['wrong type', JSON.stringify({ username: 123, password: 'x' })],
    ['missing field', JSON.stringify({ username: 'a@b.c' })],
    ['__proto__ key', '{"username":"a@b.c","password":"x","__proto__":{"admin":true}}'],
    ['constructor key', '{"username":"a@b.c","password":"x","constructor":{"prototype":{"admin":true}}}'],
    ['invalid JSON', '{"username": "a@b.c", "password": '],
    ['empty username', JSON.stringify({ username: '', password: 'x' })]
  ]
  for (const [label, payload] of cases) {
    const response = await post(payload)
    t.equal(response.statusCode, 400, label)
    assertErrorBody(t, response.json(), 'VALIDATION_ERROR')
  }
})

t.test('bar 32: an oversized body is 413 PAYLOAD_TOO_LARGE', async (t) => {
  const response = await post(JSON.stringify({ username: 'a@b.c', password: 'x'.repeat(200_000) }))
  t.equal(response.statusCode, 413)
  assertErrorBody(t, response.json(), 'PAYLOAD_TOO_LARGE')
})

t.test('bar 27: form, text and multipart bodies on JSON routes are 415; GET on a POST route is 404', async (t) => {
  for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
    const response = await post('username=a&password=b', { 'content-type': type })
    t.equal(response.statusCode, 415, type)
    assertErrorBody(t, response.json(), 'UNSUPPORTED_MEDIA_TYPE')
  }
  const get = await app.inject({ method: 'GET', url: '/auth/sign-in' })
  t.equal(get.statusCode, 404)
  assertErrorBody(t, get.json(), 'NOT_FOUND')
})

t.test('bar 25: passwords and codes in a query string are refused', async (t) => {
  const response = await app.inject({ method: 'POST', url: `/auth/sign-in?password=${encodeURIComponent(TEST_PASSWORD)}`, headers: CSRF, payload: { username: 'a@b.c', password: 'x' } })
  t.equal(response.statusCode, 400)
  assertErrorBody(t, response.json(), 'VALIDATION_ERROR')
})

t.test('bar 30: security headers on every response, errors and 404s too; no-store on /auth', async (t) => {
  for (const [url, status] of [['/health/live', 200], ['/auth/me', 401], ['/nowhere', 404], ['/auth/config', 200]] as const) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, status, url)
    t.equal(response.headers['x-content-type-options'], 'nosniff', `${url} nosniff`)
    t.match(response.headers['content-security-policy'], /frame-ancestors 'none'/, `${url} CSP`)
    t.equal(response.headers['referrer-policy'], 'no-referrer', `${url} referrer policy`)
    t.notOk(response.headers['x-powered-by'], `${url} no X-Powered-By`)
    t.notOk(response.headers['strict-transport-security'], `${url} no HSTS over plain http`)
    if (url.startsWith('/auth')) t.equal(response.headers['cache-control'], 'no-store', `${url} no-store`)
  }
  const overTls = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-proto': 'https' } })
  t.notOk(overTls.headers['strict-transport-security'], 'an untrusted X-Forwarded-Proto does not count as TLS')
  const behindProxy = await testApp(emulator, { TRUST_PROXY: '127.0.0.1' })
  t.teardown(async () => { await behindProxy.close() })
  const tls = await behindProxy.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-proto': 'https' } })
  t.match(tls.headers['strict-transport-security'], /max-age=\d+/, 'HSTS when a trusted proxy says https')
})

t.test('bar 30: no-store on /auth whatever the spelling of the URL: a routed request by its route, an unmatched one by its path', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const me = await app.inject({ method: 'GET', url: '/%61uth/me', headers: { cookie } })
  t.equal(me.statusCode, 200, '/%61uth/me is routed to /auth/me')
  t.equal(me.json().email, email)
  t.equal(me.headers['cache-control'], 'no-store', 'the user is not stored by a cache')
  for (const [url, status] of [['/%61uth/me', 401], ['/%61uth/c%6fnfig', 200], ['/auth/nowhere', 404]] as const) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, status, url)
    t.equal(response.headers['cache-control'], 'no-store', `${url} no-store`)
  }
  t.notOk((await app.inject({ method: 'GET', url: '/health/%6cive' })).headers['cache-control'], 'other routes are left alone')
})

t.test('bar 30: no-store on /admin answers (users, their emails) and on CORS preflights to /auth and /admin', async (t) => {
  const admin = await emulator.user(['ADMIN'])
  const { cookie } = await signIn(app, admin, TEST_PASSWORD)
  const list = await app.inject({ method: 'GET', url: '/admin/users', headers: { cookie } })
  t.equal(list.statusCode, 200)
  t.equal(list.headers['cache-control'], 'no-store', 'the user list is not stored')
  const other = await emulator.user(['MANAGER'])
  const roles = await app.inject({ method: 'PUT', url: `/admin/users/${encodeURIComponent(other)}/roles`, headers: { cookie, ...CSRF }, payload: { roles: ['MANAGER'] } })
  t.equal(roles.statusCode, 200)
  t.equal(roles.headers['cache-control'], 'no-store', 'a user\'s answer is not stored')
  t.equal((await app.inject({ method: 'GET', url: '/admin/users' })).headers['cache-control'], 'no-store', 'nor a refusal')
  for (const url of ['/auth/sign-in', '/auth/me', '/admin/users']) {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: 'https://ims.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf' }
    })
    t.equal(preflight.statusCode, 204, `${url}: preflight answered`)
    t.equal(preflight.headers['access-control-allow-origin'], 'https://ims.example.com')
    t.equal(preflight.headers['cache-control'], 'no-store', `${url}: preflight not stored`)
    t.equal(preflight.headers['x-content-type-options'], 'nosniff', `${url}: security headers on the preflight`)
    t.equal(preflight.headers.vary, 'Origin', `${url}: Vary names Origin once`)
  }
})

t.test('bar 29: CORS echoes allow-listed origins only, with credentials and Vary: Origin', async (t) => {
  const allowed = await app.inject({ method: 'GET', url: '/auth/config', headers: { origin: 'https://ims.example.com' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://ims.example.com')
  t.equal(allowed.headers['access-control-allow-credentials'], 'true')
  t.match(allowed.headers.vary, /Origin/)
  for (const origin of ['https://evil.example', 'null', 'https://ims.example.com.evil.example', 'http://ims.example.com']) {
    const foreign = await app.inject({ method: 'GET', url: '/auth/config', headers: { origin } })
    t.notOk(foreign.headers['access-control-allow-origin'], `no ACAO for ${origin}`)
    t.notOk(foreign.headers['access-control-allow-credentials'], `no credentials for ${origin}`)
    t.match(foreign.headers.vary, /Origin/)
  }
  const preflight = await app.inject({ method: 'OPTIONS', url: '/auth/sign-in', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf' } })
  t.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:5173')
  t.match(preflight.headers['access-control-allow-headers'], /X-CSRF/i)
})

t.test('bar 32: a 400 that is not about JSON does not say the body is not valid JSON', async (t) => {
  const invalidJson = await post('{"username": ')
  t.equal(invalidJson.json().message, 'The request body is not valid JSON.', 'invalid JSON says so')
  const wrongLength = await post(JSON.stringify({ username: 'a@b.c', password: 'x' }), { 'content-type': 'application/json', 'content-length': '5' })
  t.equal(wrongLength.statusCode, 400)
  assertErrorBody(t, wrongLength.json(), 'VALIDATION_ERROR')
  t.equal(wrongLength.json().message, 'The request body does not match its Content-Length.')
  // Fastify refuses a path parameter over 100 characters while routing; this was a 500 before.
  const longParameter = await app.inject({ method: 'PUT', url: `/admin/users/${'a'.repeat(150)}/roles`, headers: CSRF, payload: { roles: [] } })
  t.equal(longParameter.statusCode, 400)
  assertErrorBody(t, longParameter.json(), 'VALIDATION_ERROR')
  t.notMatch(longParameter.json().message, /JSON/)
})

t.test('bar 30, 32: requests that Node\'s HTTP parser refuses, and CONNECT, get the contract\'s body and the security headers', async (t) => {
  const logs = new LogCapture()
  const listening = await testApp(emulator, {}, { logStream: logs })
  t.teardown(async () => { await listening.close() })
  await listening.listen({ port: 0, host: '127.0.0.1' })
  const address = listening.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  /** Sends `request` as raw bytes and reads the raw answer until the server closes the connection. */
  const sendRaw = async (request: Buffer): Promise<{ status: number, headers: Record<string, string>, body: Record<string, unknown> }> => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(request) })
      let received = ''
      socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8') })
      socket.on('close', () => { resolve(received) })
      // The server may close before it has read everything sent (a huge header): what it wrote first still counts.
      socket.on('error', (error) => { if (received === '') reject(error) })
    })
    const [head = '', body = ''] = answer.split('\r\n\r\n')
    const [statusLine = '', ...headerLines] = head.split('\r\n')
    const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
    return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> }
  }
  const cases: Array<[string, Buffer, number, string, RegExp]> = [
    ['raw UTF-8 in the request line', Buffer.from('GET /api/ｐlanning/x HTTP/1.1\r\nHost: localhost\r\n\r\n', 'utf8'), 400, 'VALIDATION_ERROR', /not valid HTTP/],
    ['no Host header', Buffer.from('GET /auth/me HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, 'VALIDATION_ERROR', /must carry a Host header/],
    ['a 140 KB header', Buffer.from(`GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(140 * 1024)}\r\n\r\n`), 400, 'VALIDATION_ERROR', /headers are too large/],
    ['a CONNECT request (Node hands it to no route, and closed the socket unanswered)', Buffer.from('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n'), 400, 'VALIDATION_ERROR', /not a proxy/],
    ['chunk extensions over Node\'s limit', Buffer.from(`POST /auth/sign-in HTTP/1.1\r\nHost: localhost\r\nX-CSRF: 1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`), 413, 'PAYLOAD_TOO_LARGE', /too large/]
  ]
  for (const [label, request, status, code, message] of cases) {
    const response = await sendRaw(request)
    t.equal(response.status, status, label)
    assertErrorBody(t, response.body, code)
    t.match(response.body.message, message, `${label}: the message says what was wrong`)
    t.match(response.headers['content-type'], /^application\/json/, `${label}: JSON`)
    t.equal(response.headers['x-content-type-options'], 'nosniff', `${label}: nosniff`)
    t.match(response.headers['content-security-policy'], /frame-ancestors 'none'/, `${label}: CSP`)
    t.equal(response.headers['referrer-policy'], 'no-referrer', `${label}: referrer policy`)
    t.equal(response.headers['cache-control'], 'no-store', `${label}: never cached`)
    t.ok(logs.text.includes(response.body.requestId as string), `${label}: the request id is in the log`)
  }
})

t.test('bar 30: an unknown Expect is ignored, not answered with Node\'s bare 417', async (t) => {
  const listening = await testApp(emulator)
  t.teardown(async () => { await listening.close() })
  const base = await listening.listen({ port: 0, host: '127.0.0.1' })
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => { socket.end('GET /health/live HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n') })
    let received = ''
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8') })
    socket.on('close', () => { resolve(received) })
    socket.on('error', reject)
  })
  t.match(answer, /^HTTP\/1\.1 200 /, 'answered as if the header were not there')
  t.match(answer, /content-security-policy: [^\r]*frame-ancestors 'none'/i, 'with the security headers')
})

t.test('behind a load balancer: idle connections are kept longer than its idle timeout (ALB: 60 s by default), and KEEP_ALIVE_TIMEOUT_SECONDS goes past a raised one', async (t) => {
  const keepAlive = async (env: Record<string, string>): Promise<string> => {
    const listening = await testApp(emulator, env)
    t.teardown(async () => { await listening.close() })
    const base = await listening.listen({ port: 0, host: '127.0.0.1' })
    const agent = new Agent({ keepAlive: true })
    t.teardown(() => { agent.destroy() })
    return await new Promise((resolve, reject) => {
      get(`${base}/health/live`, { agent }, (response) => { response.resume(); resolve(String(response.headers['keep-alive'])) }).on('error', reject)
    })
  }
  t.equal(await keepAlive({}), 'timeout=72', 'by default')
  t.equal(await keepAlive({ KEEP_ALIVE_TIMEOUT_SECONDS: '330' }), 'timeout=330', 'for an ALB whose idle timeout was raised to 300 s for quiet streams')
})

/** A raw connection to `port` on loopback, once connected. */
async function openConnection (port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  return socket
}

/** Writes `request` on `socket` and resolves with everything the server sent until it closed the connection. */
async function exchange (socket: Socket, request: string): Promise<string> {
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8') })
  const closed = new Promise<string>((resolve) => socket.once('close', () => { resolve(received) }))
  socket.write(request)
  return await closed
}

t.test('bar 30, 41: while the instance closes, the request in flight is answered with Connection: close, and requests arriving on other open connections get the contract\'s documented 503', async (t) => {
  const slow = createServer((_request, response) => { setTimeout(() => { response.end('late') }, 800) })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { slow.close() })
  const upstream = `http://127.0.0.1:${(slow.address() as { port: number }).port}`
  const closingApp = await testApp(emulator, { API_UPSTREAM_URL: upstream })
  const doc = (await closingApp.inject({ method: 'GET', url: '/docs/json' })).json()
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(closingApp, email, TEST_PASSWORD)
  const port = Number(new URL(await closingApp.listen({ port: 0, host: '127.0.0.1' })).port)
  // Connections a browser or a load balancer's probe opened before closing began, and sent a request on only after.
  const probes = ['/auth/me', '/health/ready', '/health/live', '/auth/config']
  const opened = await Promise.all(probes.map(async () => await openConnection(port)))
  const inFlight = exchange(await openConnection(port), `GET /api/planning/slow HTTP/1.1\r\nHost: localhost\r\nCookie: ${cookie}\r\n\r\n`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const closed = closingApp.close()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const answers = await Promise.all(opened.map(async (socket, i) => await exchange(socket, `GET ${probes[i]!} HTTP/1.1\r\nHost: localhost\r\nCookie: ${cookie}\r\n\r\n`)))
  const [inFlightHead = '', inFlightBody = ''] = (await inFlight).split('\r\n\r\n')
  t.match(inFlightHead, /^HTTP\/1\.1 200 /, 'the request in flight is answered')
  t.equal(inFlightBody, 'late')
  t.match(inFlightHead, /connection: close/i, 'and its connection ends with it, so the close need not wait for it')
  for (const [i, answer] of answers.entries()) {
    const probe = probes[i]!
    const [head = '', body = ''] = answer.split('\r\n\r\n')
    t.match(head, /^HTTP\/1\.1 503 /, `${probe}: 503`)
    t.match(head, /connection: close/i, probe)
    t.match(head, /retry-after: \d+/i, probe)
    t.match(head, /content-security-policy: [^\r]*frame-ancestors 'none'/i, `${probe}: the security headers`)
    assertErrorBody(t, JSON.parse(body) as Record<string, unknown>, 'UPSTREAM_UNAVAILABLE')
    const listed = doc.paths[probe].get.responses as Record<string, { content?: Record<string, unknown> }>
    t.ok((listed['503'] ?? listed['5XX'])?.content?.['application/json'], `${probe}: the document lists this 503 (it lists ${Object.keys(listed).join(', ')})`)
  }
  await closed
})

t.test('bar 34: a forced internal error is 500 with a request id and nothing internal', async (t) => {
  // A Cognito stand-in on loopback that answers with an exception the adapter has never heard of, then with error
  // types named like the members every object inherits, which a table lookup must not mistake for its own entries.
  let errorType = 'WeirdInternalFailureException'
  const weird: Server = createServer((_req, res) => {
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'aws-request-id-1234' })
    res.end(JSON.stringify({ __type: errorType, message: `exploded on ${hostname()} at /srv/secret/path.js:12` }))
  })
  await new Promise<void>((resolve) => weird.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { weird.close() })
  const address = weird.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const logs = new LogCapture()
  const broken = await buildApp(loadConfig({ COGNITO_ENDPOINT: `http://127.0.0.1:${port}`, COGNITO_USER_POOL_ID: 'local_x', COGNITO_CLIENT_ID: 'c', AWS_REGION: 'local' }), { logStream: logs })
  t.teardown(async () => { await broken.close() })
  for (const type of ['WeirdInternalFailureException', 'constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty']) {
    errorType = type
    const response = await broken.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: 'a@b.c', password: TEST_PASSWORD } })
    t.equal(response.statusCode, 500, type)
    assertErrorBody(t, response.json(), 'INTERNAL')
    for (const leak of ['WeirdInternalFailure', 'aws-request-id-1234', hostname(), '/srv/secret', 'Exception']) {
      t.notOk(response.body.includes(leak), `${type}: the response does not say ${leak}`)
    }
  }
  t.notOk(logs.text.includes('/srv/secret'), 'nor does the log carry the upstream message')
  t.notOk(logs.text.includes(TEST_PASSWORD), 'nor the password')
})

t.test('GET /auth/config tells a frontend how this adapter runs, with no secret', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/auth/config' })
  t.same(response.json(), { mode: 'endpoint', region: 'local', userPoolId: emulator.userPoolId, clientId: emulator.clientId, sessionMode: 'cookie', hostedUi: null })
})

t.test('health: live always, ready when keys, Cognito and the store answer; docs serve the OpenAPI document', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json().checks, { keys: true, cognito: true, store: true })
  const doc = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(doc.statusCode, 200)
  const paths = Object.keys(doc.json().paths)
  for (const path of ['/auth/sign-in', '/auth/challenge', '/auth/refresh', '/auth/sign-out', '/auth/me', '/auth/config', '/health/live', '/health/ready']) {
    t.ok(paths.includes(path), `OpenAPI documents ${path}`)
  }
  const ui = await app.inject({ method: 'GET', url: '/docs' })
  t.ok([200, 302].includes(ui.statusCode), 'the UI answers')
})
