// One instance cut off from Redis (no FIN, no RST: a lost path) while another ends a session: the cut-off one stops
// trusting its local view within 2 s, and once the path returns refuses what was ended meanwhile.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, cognitoTokens, signIn, testApp } from '../helpers/app.js'
import { redisLink, SHARED_REDIS_URL, type RedisLink } from '../helpers/redis.js'

/** How long a subscription may go unheard before an instance stops trusting its view (STALE_MS, src/store/redis-channel.ts). */
const STALE_MS = 2000

let emulator: Emulator
let link: RedisLink
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  link = await redisLink()
  // Instance A reaches the shared Redis through the link; B directly. The IP limit is raised as other tests share Redis.
  const env = { SESSION_STORE: 'redis', SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex'), AUTH_IP_LIMIT: '1000' }
  a = await testApp(emulator, { ...env, REDIS_URL: link.url })
  b = await testApp(emulator, { ...env, REDIS_URL: SHARED_REDIS_URL })
})
t.teardown(async () => {
  link?.heal()
  await a?.close()
  await b?.close()
  await link?.close()
  await emulator?.stop()
})

const me = async (app: FastifyInstance, headers: Record<string, string>) => await app.inject({ method: 'GET', url: '/auth/me', headers })

for (const healing of ['the held bytes arrive late, in order', 'the held connections are dropped'] as const) {
  t.test(`a sign-out on B while A is cut off from Redis, then ${healing}`, async (t) => {
    const email = await emulator.user(['MANAGER'])
    const { cookie } = await signIn(b, email, TEST_PASSWORD)
    const { accessToken } = await cognitoTokens(b, email, TEST_PASSWORD)
    const otherUser = await cognitoTokens(b, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)
    const headers = { cookie: { cookie }, revoked: { authorization: `Bearer ${accessToken}` }, other: { authorization: `Bearer ${otherUser.accessToken}` } }
    const ask = async (name: keyof typeof headers): Promise<LightMyRequestResponse> => await me(a, headers[name])
    const statuses = async (): Promise<string> => `${(await ask('cookie')).statusCode} ${(await ask('revoked')).statusCode} ${(await ask('other')).statusCode}`
    t.equal(await statuses(), '200 200 200', 'A knows the session and both tokens before the cut')

    link.cut({ newOnes: true })
    const cutAt = Date.now()
    const out = await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: { global: true } })
    t.equal(out.statusCode, 204, 'B signs the user out everywhere')

    // Until its subscription has gone unheard for STALE_MS, A cannot tell the cut from quiet and may still answer from
    // its view; from then on it must not, for any caller: it cannot know what it missed.
    const trustedAfterStale: string[] = []
    let refusal: LightMyRequestResponse[] = []
    while (refusal.length === 0 && Date.now() - cutAt < 10_000) {
      const answers: LightMyRequestResponse[] = []
      for (const name of ['cookie', 'revoked', 'other'] as const) {
        const startedAt = Date.now()
        const answer = (await ask(name))
        if (startedAt - cutAt < STALE_MS) continue
        if (answer.statusCode === 200) trustedAfterStale.push(`${name} at ${startedAt - cutAt} ms`)
        answers.push(answer)
      }
      if (answers.length === 3) refusal = answers
      await sleep(100)
    }
    t.same(trustedAfterStale, [], `no answer from the view once it went unheard for ${STALE_MS} ms`)
    t.equal(refusal.length, 3, 'asked after that')
    for (const answer of refusal) {
      t.equal(answer.statusCode, 503, 'meanwhile A fails closed')
      t.equal(answer.json().error, 'UPSTREAM_UNAVAILABLE')
      t.ok(Number(answer.headers['retry-after']) > 0, 'with Retry-After')
    }

    if (healing === 'the held bytes arrive late, in order') link.heal()
    else link.reset()
    // A recovers by itself; at no point does it accept the ended session or the revoked token.
    const seen: string[] = []
    let settled = await statuses()
    for (let attempt = 0; attempt < 50 && settled !== '401 401 200'; attempt++) {
      seen.push(settled)
      await sleep(200)
      settled = await statuses()
    }
    t.equal(settled, '401 401 200', 'within 10 s A refuses the ended session and the revoked token, and serves the other user')
    t.notOk(seen.some((line) => /^200|^\d+ 200/.test(line)), `never accepted what B ended (${seen.join(', ') || 'settled at once'})`)
    t.equal((await ask('revoked')).json().error, 'UNAUTHENTICATED')
    const again = await signIn(a, email, TEST_PASSWORD)
    t.equal(again.response.statusCode, 200, 'the user signs in again on A')
    t.equal((await me(a, { cookie: again.cookie })).statusCode, 200)
  })
}
