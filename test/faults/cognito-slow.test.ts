// Bar 39: with Cognito 10 s slow, /auth answers 503 with Retry-After within 5 s and no session; the rest stays fast.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startFaultyCognito, timed, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { CSRF, cognitoTokens, setCookies, signIn, testApp } from '../helpers/app.js'

let cognito: FaultyCognito
let app: FastifyInstance

t.before(async () => {
  cognito = await startFaultyCognito()
  // COGNITO_TIMEOUT_MS keeps its default (3500): what production runs with.
  app = await testApp(cognito)
})
t.teardown(async () => {
  await app?.close()
  await cognito?.stop()
})

t.test('bar 39: sign-in gets 503 UPSTREAM_UNAVAILABLE with Retry-After within 5 s; health and signed-in callers stay fast', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const other = await cognito.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, other, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const bearer = { authorization: `Bearer ${accessToken}` }
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: bearer })).statusCode, 200, 'bearer works before the slowdown')

  cognito.slowApi(10_000)
  try {
    const pending = timed(async () => await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } }))
    // While the sign-in waits on Cognito, the rest of the adapter answers at once.
    for (const [name, headers, url] of [['live', {}, '/health/live'], ['bearer', bearer, '/auth/me'], ['cookie', { cookie }, '/auth/me']] as const) {
      const { response, ms } = await timed(async () => await app.inject({ method: 'GET', url, headers }))
      t.equal(response.statusCode, 200, `${name} answers 200`)
      t.ok(ms < 1000, `${name} answers fast (${Math.round(ms)} ms)`)
    }
    const { response, ms } = await pending
    t.equal(response.statusCode, 503)
    t.equal(response.json().error, 'UPSTREAM_UNAVAILABLE')
    t.ok(Number(response.headers['retry-after']) > 0, 'Retry-After is set')
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
    t.same(setCookies(response).filter((line) => line.startsWith('__Host-ims-session=') || line.startsWith('__Host-ims-preauth=')), [], 'no session or pre-auth cookie')
  } finally {
    cognito.slowApi(0)
  }

  // Nothing half-made stands in the way: the same sign-in now works, and the earlier session is untouched.
  const again = await signIn(app, email, TEST_PASSWORD)
  t.equal(again.response.statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: again.cookie } })).json().email, email)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 200)
})

t.test('bar 39: a refresh is bounded the same way and keeps the session', async (t) => {
  const email = await cognito.user(['ADMIN'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  cognito.slowApi(10_000)
  try {
    const { response, ms } = await timed(async () => await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie }, payload: {} }))
    t.equal(response.statusCode, 503)
    t.equal(response.json().error, 'UPSTREAM_UNAVAILABLE')
    t.ok(Number(response.headers['retry-after']) > 0, 'Retry-After is set')
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
  } finally {
    cognito.slowApi(0)
  }
  // A passing Cognito failure keeps the session.
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 200)
})
