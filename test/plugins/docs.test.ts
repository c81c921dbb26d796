// The OpenAPI UI and document (/docs): served under the adapter's own security headers (bar 30), errors in the contract's shape.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, cognitoTokens, testApp } from '../helpers/app.js'

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

t.test('/docs/json says what the app does: sign-out\'s 204, and a body is required exactly where the app refuses none', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.ok(doc.paths['/auth/sign-out'].post.responses['204'], 'POST /auth/sign-out documents its 204')
  const { accessToken } = await cognitoTokens(app, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const optional: string[] = []
  for (const [path, item] of Object.entries<Record<string, { requestBody?: { required?: boolean } }>>(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation.requestBody === undefined) continue
      // An ADMIN's bearer token gets the admin routes past their guard, to their body; a user no one has, nothing done.
      const response = await app.inject({
        method: method.toUpperCase() as 'POST',
        url: path.replace('{username}', 'nobody-here@example.com'),
        headers: path.startsWith('/admin/') ? { authorization: `Bearer ${accessToken}` } : CSRF
      })
      const refused = response.statusCode === 400 && response.json().error === 'VALIDATION_ERROR'
      t.equal(operation.requestBody.required === true, refused, `${method.toUpperCase()} ${path} without a body: ${response.statusCode}`)
      if (!refused) optional.push(`${method.toUpperCase()} ${path}`)
    }
  }
  t.same(optional.sort(), [
    'POST /admin/users/{username}/disable', 'POST /admin/users/{username}/enable', 'POST /admin/users/{username}/sign-out',
    'POST /auth/refresh', 'POST /auth/sign-out'
  ], 'the bodies the app does without are these')
})

t.test('/docs/json lists the refusals of the health and config routes: a secret-named query is a documented 400', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  for (const path of ['/health/live', '/health/ready', '/auth/config']) {
    const response = await app.inject({ method: 'GET', url: `${path}?token=x` })
    t.equal(response.statusCode, 400, `${path}?token=x is refused`)
    t.equal(response.json().error, 'VALIDATION_ERROR', path)
    const listed = doc.paths[path].get.responses as Record<string, { content?: Record<string, unknown> }>
    t.ok(listed['400']?.content?.['application/json'] ?? listed['4XX']?.content?.['application/json'], `${path}: the document lists a JSON 400 (it lists ${Object.keys(listed).join(', ')})`)
  }
})
