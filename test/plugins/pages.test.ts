// The login pages' serving: off by default outside local mode, on with SERVE_LOGIN_PAGES, strict CSP, no inline code.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, type Emulator } from '../helpers/emulator.js'
import { LogCapture, testApp } from '../helpers/app.js'

let emulator: Emulator
let app: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator, { SERVE_LOGIN_PAGES: 'true' }, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

t.test('outside local mode the pages are off unless SERVE_LOGIN_PAGES=true', async (t) => {
  const plain = await testApp(emulator)
  t.teardown(async () => { await plain.close() })
  t.equal((await plain.inject({ method: 'GET', url: '/' })).statusCode, 404)
  t.equal((await plain.inject({ method: 'GET', url: '/app.js' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200)
})

t.test('local mode with token sessions serves no pages: they sign in with the session cookie only', async (t) => {
  const token = await testApp(emulator, { SESSION_MODE: 'token' }, { localMode: true })
  t.teardown(async () => { await token.close() })
  t.equal((await token.inject({ method: 'GET', url: '/' })).statusCode, 404)
  const cookie = await testApp(emulator, {}, { localMode: true })
  t.teardown(async () => { await cookie.close() })
  t.equal((await cookie.inject({ method: 'GET', url: '/' })).statusCode, 200, 'with cookie sessions they are served')
})

t.test('the page carries the strict CSP and has no inline script or style', async (t) => {
  const page = await app.inject({ method: 'GET', url: '/' })
  t.match(page.headers['content-type'], /^text\/html/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /script-src 'self'(;|$)/)
  t.match(csp, /style-src 'self'(;|$)/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval/)
  t.equal(page.headers['cache-control'], 'no-cache')
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src')
  t.notMatch(page.body, /<style|\sstyle=/, 'no inline style')
  t.notMatch(page.body, /\son[a-z]+=/, 'no inline event handler')
  // Every asset the page loads (links to /auth are routes, not assets).
  for (const asset of page.body.matchAll(/(?:src|href)="(\/(?!auth\/)[^"#]*)"/g)) {
    const response = await app.inject({ method: 'GET', url: asset[1]! })
    t.equal(response.statusCode, 200, `${asset[1]} is served`)
  }
})

t.test('the script is bundled at start-up, typed as JavaScript, and revalidated by ETag', async (t) => {
  const script = await app.inject({ method: 'GET', url: '/app.js' })
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], /^text\/javascript/)
  t.match(script.body, /\/auth\/sign-in/)
  t.notMatch(script.body, /^import |\bfrom ?"\.\//m, 'one self-contained bundle')
  const again = await app.inject({ method: 'GET', url: '/app.js', headers: { 'if-none-match': script.headers.etag as string } })
  t.equal(again.statusCode, 304)
})

t.test('the areas the signed-in page lists follow the proxy\'s role rules', async (t) => {
  t.same((await app.inject({ method: 'GET', url: '/areas.json' })).json(), {
    areas: [
      { path: '/api/admin', roles: ['ADMIN'] },
      { path: '/api/planning', roles: ['ADMIN', 'MANAGER'] },
      { path: '/api/shop-floor', roles: ['ADMIN', 'MANAGER', 'LINE_LEADER'] }
    ]
  })
  const custom = await testApp(emulator, { SERVE_LOGIN_PAGES: 'true', API_ROLE_RULES: '{"/api/planning": ["ADMIN"]}' })
  t.teardown(async () => { await custom.close() })
  t.same((await custom.inject({ method: 'GET', url: '/areas.json' })).json().areas[1], { path: '/api/planning', roles: ['ADMIN'] })
})

t.test('files outside web/public are not served', async (t) => {
  for (const url of ['/../package.json', '/src/main.ts', '/%2e%2e/fastify.config.ts', '/tsconfig.json']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url)
  }
})

t.test('a Range or a precondition a file cannot meet is a 400 in the contract\'s shape, logged below error level', async (t) => {
  const part = await app.inject({ method: 'GET', url: '/styles.css', headers: { range: 'bytes=0-9' } })
  t.equal(part.statusCode, 206, 'a satisfiable range is still served')
  for (const [label, headers] of [
    ['Range past the end (416)', { range: 'bytes=99999999-' }],
    ['If-Match that does not match (412)', { 'if-match': '"nope"' }],
    ['If-Unmodified-Since before the file (412)', { 'if-unmodified-since': 'Mon, 01 Jan 1990 00:00:00 GMT' }]
  ] as const) {
    const response = await app.inject({ method: 'GET', url: '/styles.css', headers })
    t.equal(response.statusCode, 400, label)
    t.match(response.json(), { error: 'VALIDATION_ERROR', message: /^The request cannot be answered as sent \(.+\)\.$/, requestId: /^[0-9a-f-]{36}$/ }, label)
    t.match(response.headers['content-security-policy'], /frame-ancestors 'none'/, `${label}: the security headers`)
    const lines = logs.entries.filter((entry) => entry.reqId === response.json().requestId)
    t.notOk(lines.some((entry) => entry.level >= 50), `${label}: no error-level line`)
    t.ok(lines.some((entry) => entry.level === 30 && entry.msg === 'request refused'), `${label}: an info line says what was refused`)
  }
})
