// Two tabs refreshing one cookie session on two instances at once: the session both end up holding keeps working, and a
// sign-out that a refresh overtakes ends it all.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { cookieValue, CSRF, signIn, twoInstances } from '../helpers/app.js'
import { rawRedis } from '../helpers/redis.js'
import { pauseAfter } from '../helpers/pause-after.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'

let emulator: FaultyCognito
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  // cognito-local behind a proxy that can hold an answer (one test needs it; the others see the emulator as it is).
  emulator = await startFaultyCognito()
  ;[a, b] = await twoInstances(emulator)
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

t.test('a sign-out on B that a refresh on A overtakes revokes the tokens the refresh wrote: a delete Redis loses brings back no working session', async (t) => {
  const redis = await rawRedis()
  t.teardown(() => { redis.disconnect(); emulator.lateAnswers(0) })
  const { cookie } = await signIn(a, await emulator.user(['MANAGER']), TEST_PASSWORD)
  t.equal(await me(a, cookie.split('=')[1]!), 200, 'A holds the session in its view')
  let onB: Promise<LightMyRequestResponse> | undefined
  // A has its new tokens from Cognito and is about to write them: the sign-out on B reads the session now (the old
  // tokens) and waits for Cognito's answer to its revocation while A writes, moves the session and answers.
  pauseAfter(a.store, 'get')(async () => {
    emulator.lateAnswers(1000, 'RevokeToken')
    onB = b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
    await sleep(300)
  })
  const refreshed = await refresh(a, cookie)
  t.equal(refreshed.statusCode, 200, 'the other tab is refreshed')
  const moved = cookieValue(refreshed, SESSION_COOKIE)!
  const key = `ims:session:${createHash('sha256').update(moved).digest('base64url')}`
  const [raw, ttlMs] = [await redis.get(key), await redis.pttl(key)]
  t.ok(raw, 'the session it moved into is in Redis')
  t.equal((await onB!).statusCode, 204, 'the sign-out ends it')
  t.equal(await me(a, moved), 401)
  // What a replica that never got the delete would serve after a failover: the record as the refresh wrote it.
  await redis.set(key, raw!, 'PX', ttlMs)
  t.equal(await me(a, moved), 401, 'A refuses the session Redis brought back')
  t.equal(await me(b, moved), 401, 'and so does B')
})

t.test('a refresh on A that Cognito answers as a sign-out everywhere on B ends the session: its new token is revoked too (a delete Redis loses brings back nothing)', async (t) => {
  const redis = await rawRedis()
  t.teardown(() => { redis.disconnect(); emulator.slowApi(0) })
  const { cookie } = await signIn(a, await emulator.user(['MANAGER']), TEST_PASSWORD)
  const id = cookie.split('=')[1]!
  const key = `ims:session:${createHash('sha256').update(id).digest('base64url')}`
  for (const app of [a, b]) t.equal(await me(app, id), 200, 'both instances hold the session in their views')
  /** What Redis last held for the session before the sign-out deleted it. */
  let last = { raw: await redis.get(key), ttlMs: await redis.pttl(key) }
  const aWrote = signal()
  let onB: Promise<LightMyRequestResponse> | undefined
  // Tab 1's refresh on A reaches Cognito late, after the sign-out everywhere on B has begun: its tokens are newer than
  // the user's "not before" mark. A writes them into the session (if it still can) just after B read it to end it.
  emulator.slowApi(2000)
  const onA = refresh(a, cookie)
  await sleep(200)
  emulator.slowApi(0)
  for (const method of ['get', 'take'] as const) pauseAfter(b.store, method)(async () => { await Promise.race([aWrote.promise, onA]) })
  pauseAfter(a.store, 'replaceIfUnchanged')(async () => {
    last = { raw: await redis.get(key), ttlMs: await redis.pttl(key) }
    aWrote.fire()
    await onB
  })
  onB = b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: { global: true } })
  t.equal((await onB).statusCode, 204, 'signed out everywhere')
  t.equal((await onA).statusCode, 401, 'the refresh finds the session ended')
  t.equal(await redis.get(key), null, 'the sign-out deleted it')
  // What a replica that never got the delete would serve after a failover: the record as Redis last held it.
  await redis.set(key, last.raw!, 'PX', last.ttlMs)
  t.equal(await me(a, id), 401, 'A refuses the session Redis brought back')
  t.equal(await me(b, id), 401, 'and so does B')
})
