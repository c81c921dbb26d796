// A failover as ElastiCache does it: the primary is demoted in place (its open connections stay, and refuse writes with
// READONLY) and the endpoint's name moves to the promoted replica. The store follows by itself, and stays one store,
// also for an instance that only reads meanwhile.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, signIn, testApp } from '../helpers/app.js'
import { ownRedis, rawRedis, redisLink, replicate, type OwnRedis, type RedisLink } from '../helpers/redis.js'

let emulator: Emulator
let primary: OwnRedis
let replica: OwnRedis
let endpoint: RedisLink
let a: FastifyInstance
let b: FastifyInstance
let c: FastifyInstance

t.before(async () => {
  primary = await ownRedis()
  replica = await ownRedis()
  await replicate(replica, primary.port)
  // The endpoint the instances are given: its name points at the primary until the failover moves it.
  endpoint = await redisLink({ port: primary.port })
  emulator = await startEmulator()
  const env = { SESSION_STORE: 'redis', REDIS_URL: endpoint.url, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') }
  a = await testApp(emulator, env)
  b = await testApp(emulator, env)
  c = await testApp(emulator, env)
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await c?.close()
  await endpoint?.close()
  await Promise.all([primary?.kill(), replica?.kill()])
  await emulator?.stop()
})

const me = async (app: FastifyInstance, cookie: string) => await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })

/** Calls `attempt` until it answers `status`, at most 40 times 250 ms apart; the statuses seen on the way. */
async function until (status: number, attempt: () => Promise<{ statusCode: number }>): Promise<{ last: number, seen: number[] }> {
  const seen: number[] = []
  for (let round = 0; round < 40; round++) {
    const { statusCode } = await attempt()
    seen.push(statusCode)
    if (statusCode === status) break
    await sleep(250)
  }
  return { last: seen.at(-1)!, seen }
}

t.test('after a failover, sign-ins and sign-outs work again by themselves and still reach every instance', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const before = await signIn(a, email, TEST_PASSWORD)
  t.equal((await me(b, before.cookie)).statusCode, 200, 'a session from before the failover, used on B')
  t.equal((await me(c, before.cookie)).statusCode, 200, 'and on C, which holds it in its view and will only read')

  await replicate(replica, undefined)
  // The demoted server is not waited for, as a failover does not wait for it.
  await replicate(primary, replica.port, { sync: false })
  endpoint.retarget(replica.port)

  let after = { cookie: '', response: { statusCode: 0 } }
  const signingIn = await until(200, async () => { after = await signIn(a, email, TEST_PASSWORD); return after.response })
  t.equal(signingIn.last, 200, `A signs in again within 10 s (answers: ${signingIn.seen.join(' ')})`)
  t.ok(signingIn.seen.every((status) => status === 200 || status === 503), 'meanwhile only 503, the contract\'s answer for a store out of reach')
  const signingOut = await until(204, async () => await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: before.cookie }, payload: {} }))
  t.equal(signingOut.last, 204, `B signs the old session out (answers: ${signingOut.seen.join(' ')})`)

  // C has written nothing since: it still reads through the old server, which now replicates the new primary (a
  // partial resync, as after a real failover), so the sign-out reaches C's view and store that way, as late as that
  // replication is (on loopback, before C's next request as a rule; the test asks no more than that it arrives).
  const ending = await until(401, async () => await me(c, before.cookie))
  t.equal(ending.last, 401, `C refuses the ended session (answers: ${ending.seen.join(' ')})`)
  t.equal((await me(a, before.cookie)).statusCode, 401, 'the session B ended is refused on A at the next request')
  t.equal((await me(b, after.cookie)).statusCode, 200, 'the session A made after the failover works on B')
  const promoted = await rawRedis(replica.url)
  t.teardown(() => { promoted.disconnect() })
  const key = `ims:session:${createHash('sha256').update(after.cookie.split('=')[1]!).digest('base64url')}`
  t.equal(await promoted.exists(key), 1, 'and it lives on the promoted server')
})
