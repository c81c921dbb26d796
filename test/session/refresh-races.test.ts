// Two tabs refreshing one cookie session on two instances at once: the session both end up holding keeps working.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, cookieValue, signIn, testApp } from '../helpers/app.js'
import { SHARED_REDIS_URL } from '../helpers/redis.js'
import { pauseAfter } from '../helpers/pause-after.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'

let emulator: Emulator
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  const env = { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex') }
  a = await testApp(emulator, env)
  b = await testApp(emulator, env)
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await emulator?.stop()
})

const refresh = async (app: FastifyInstance, cookie: string) => await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie } })
const me = async (app: FastifyInstance, id: string) => (await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: `${SESSION_COOKIE}=${id}` } })).statusCode

/** A promise and the function that settles it. */
function signal (): { promise: Promise<void>, fire: () => void } {
  let fire!: () => void
  const promise = new Promise<void>((resolve) => { fire = resolve })
  return { promise, fire }
}

/** Both tabs were told the session was refreshed, hold the same new id, and it works on both instances. */
async function bothHoldOneWorkingSession (t: Test, onA: LightMyRequestResponse, onB: LightMyRequestResponse): Promise<void> {
  t.equal(onA.statusCode, 200)
  t.equal(onB.statusCode, 200, 'tab 2 is told the session was refreshed')
  const id = cookieValue(onA, SESSION_COOKIE)!
  t.equal(cookieValue(onB, SESSION_COOKIE), id, 'both tabs hold the same new id')
  t.equal(await me(a, id), 200, 'the session both tabs hold works on A')
  t.equal(await me(b, id), 200, 'and on B')
}

t.test('a refresh on B that read the session between A\'s new tokens and A\'s move does not revoke the tokens that moved', async (t) => {
  const { cookie } = await signIn(a, await emulator.user(['MANAGER']), TEST_PASSWORD)
  const bRead = signal()
  const aAnswered = signal()
  let onB: Promise<LightMyRequestResponse> | undefined
  // A has written its new tokens and not yet moved the session: tab 2's refresh on B reads the session now (A's tokens),
  // and goes on to Cognito only once A has moved it and answered.
  pauseAfter(a.store, 'replaceIfUnchanged')(async () => {
    pauseAfter(b.store, 'get')(async () => { bRead.fire(); await aAnswered.promise })
    onB = refresh(b, cookie)
    await bRead.promise
  })
  const onA = await refresh(a, cookie)
  aAnswered.fire()
  await bothHoldOneWorkingSession(t, onA, await onB!)
})

t.test('a move on A carries the tokens B wrote meanwhile, not the ones A read (which B revoked)', async (t) => {
  const { cookie } = await signIn(a, await emulator.user(['MANAGER']), TEST_PASSWORD)
  const bWrote = signal()
  const aAnswered = signal()
  let onB: Promise<LightMyRequestResponse> | undefined
  // Tab 2 refreshes on B right after A wrote its new tokens, and writes its own before A moves the session; B then
  // waits (before it revokes the token it replaced, A's) until A has answered.
  pauseAfter(a.store, 'replaceIfUnchanged')(async () => {
    pauseAfter(b.store, 'replaceIfUnchanged')(async () => { bWrote.fire(); await aAnswered.promise })
    onB = refresh(b, cookie)
    await bWrote.promise
  })
  const onA = await refresh(a, cookie)
  aAnswered.fire()
  await bothHoldOneWorkingSession(t, onA, await onB!)
})
