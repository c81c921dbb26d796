// The /api proxy on two instances sharing one Redis: requests of one session near expiry on both at once, then its sign-out.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, signIn, twoInstances } from '../helpers/app.js'
import { startUpstream, type Upstream } from '../helpers/upstream.js'

let emulator: Emulator
let upstream: Upstream
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  upstream = await startUpstream()
  ;[a, b] = await twoInstances(emulator, { API_UPSTREAM_URL: upstream.url })
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await upstream?.close()
  await emulator?.stop()
})

const bearerMe = async (app: FastifyInstance, token: string) => (await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode

t.test('two /api calls of one session near expiry, on A and B at once: both reach the upstream, and the sign-out ends every token the upstream was sent', async (t) => {
  for (let round = 0; round < 5; round++) {
    const { cookie } = await signIn(a, await emulator.user(['MANAGER']), TEST_PASSWORD)
    // The session's access token is about to expire, so each instance refreshes it before forwarding.
    const session = (await a.sessions.find(cookie.split('=')[1]))!
    await a.sessions.update(session, { accessToken: session.record.accessToken, accessExpiresAt: Date.now() + 30_000, groups: session.record.groups })
    const marker = randomUUID()
    const answers = await Promise.all([a, b].map(async (app, i) => await app.inject({ method: 'GET', url: `/api/orders/${marker}-${i}`, headers: { cookie } })))
    t.same(answers.map((r) => r.statusCode), [200, 200], `round ${round}: both calls are answered`)
    const sent = [...new Set(upstream.saw(marker).map((seen) => String(seen.headers.authorization).replace(/^Bearer /, '')))]
    t.equal(upstream.saw(marker).length, 2, `round ${round}: both reached the upstream`)
    for (const token of sent) t.equal(await bearerMe(b, token), 200, `round ${round}: a token the upstream was sent works until the sign-out`)
    t.equal((await b.inject({ method: 'GET', url: `/api/orders/${marker}-after`, headers: { cookie } })).statusCode, 200, `round ${round}: the session goes on`)

    t.equal((await a.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })).statusCode, 204)
    for (const token of sent) {
      for (const [name, app] of [['A', a], ['B', b]] as const) t.equal(await bearerMe(app, token), 401, `round ${round}: a token the upstream was sent is refused on ${name} after the sign-out`)
    }
    t.equal((await b.inject({ method: 'GET', url: `/api/orders/${marker}-out`, headers: { cookie } })).statusCode, 401, `round ${round}: and the session is gone`)
  }
})
