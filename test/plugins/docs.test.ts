// The OpenAPI UI and document (/docs): served under the adapter's own security headers (bar 30), errors in the contract's shape.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, type Emulator } from '../helpers/emulator.js'
import { testApp } from '../helpers/app.js'

let emulator: Emulator
let app: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator)
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

t.test('bar 30: /docs, /docs/json and /docs/static/* keep the adapter\'s CSP, frame-ancestors \'none\' included', async (t) => {
  const csp = (await app.inject({ method: 'GET', url: '/health/live' })).headers['content-security-policy']
  t.match(csp, /frame-ancestors 'none'/)
  for (const url of ['/docs', '/docs/', '/docs/json', '/docs/static/index.html', '/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js', '/docs/static/nope.js']) {
    const response = await app.inject({ method: 'GET', url })
    t.ok(response.statusCode < 500, `${url} answers (${response.statusCode})`)
    t.equal(response.headers['content-security-policy'], csp, `${url}: the adapter's CSP`)
    t.equal(response.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
  }
})

t.test('a Range the UI\'s files cannot satisfy is a 400 in the contract\'s shape, not a 500', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css', headers: { range: 'bytes=99999999-' } })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { error: 'VALIDATION_ERROR', message: /Range Not Satisfiable/, requestId: /^[0-9a-f-]{36}$/ })
})
