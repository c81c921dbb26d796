// A password reset or change that Cognito accepts while the store turns full: the user hears it worked, and the
// sessions from before it end once the store is back (or the instance says, as it closes, that they did not).
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { CSRF, LogCapture, setCookies, signIn, testApp } from '../helpers/app.js'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { ownRedis, rawRedis, type OwnRedis } from '../helpers/redis.js'

const CODE = '123456'
/** How long the proxy holds Cognito's answer: time to see the new password in force and fill the store. */
const HOLD_MS = 1500
let cognito: FaultyCognito
let redis: OwnRedis
let raw: Redis
let env: Record<string, string>

t.before(async () => {
  redis = await ownRedis({ settings: ['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] })
  raw = await rawRedis(redis.url)
  cognito = await startFaultyCognito({ code: CODE })
  env = { SESSION_STORE: 'redis', REDIS_URL: redis.url, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex'), AUTH_IP_LIMIT: '1000' }
})
t.teardown(async () => {
  raw?.disconnect()
  await redis?.kill()
  await cognito?.stop()
})

/** An app of the test's own on the shared store and Cognito, its logs captured, closed with the test. */
async function appFor (t: Test): Promise<{ app: FastifyInstance, logs: LogCapture }> {
  const logs = new LogCapture()
  const app = await testApp(cognito, env, { logStream: logs })
  t.teardown(async () => { await app.close() })
  return { app, logs }
}

/** Full (below what it uses: every write refused, reads served) or with room again. */
async function storeFull (full: boolean): Promise<void> {
  await raw.config('SET', 'maxmemory', full ? '1' : String(64 * 1024 * 1024))
}

/**
 * Sends `call` while the proxy holds the answer of Cognito's `operation`; once Cognito has taken the new password (a
 * sign-in with it works), fills the store, then lets the answer reach the app.
 */
async function storeFillsAsCognitoAnswers (app: FastifyInstance, operation: string, email: string, newPassword: string,
  call: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  cognito.lateAnswers(HOLD_MS, operation)
  try {
    const answer = call()
    const deadline = Date.now() + HOLD_MS
    while (!await app.cognito.auth.signIn(email, newPassword).then((outcome) => outcome.kind === 'tokens', () => false)) {
      if (Date.now() > deadline) throw new Error(`Cognito did not take the new password within ${HOLD_MS} ms`)
      await sleep(50)
    }
    await storeFull(true)
    return await answer
  } finally {
    cognito.lateAnswers(0)
  }
}

/** Polls `status` until it answers `wanted` or `ms` pass; returns its last answer. */
async function within (ms: number, wanted: number, status: () => Promise<number>): Promise<number> {
  const deadline = Date.now() + ms
  let last = await status()
  while (last !== wanted && Date.now() < deadline) {
    await sleep(100)
    last = await status()
  }
  return last
}

/** Waits (at most 10 s) until the app logs that the sessions it was to end have ended. */
async function endedOnceBack (logs: LogCapture): Promise<void> {
  await within(10_000, 1, async () => told(logs).filter((line) => line.includes('have ended')).length)
}

const me = (app: FastifyInstance, cookie: string) => async () => (await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode
const told = (logs: LogCapture): string[] => logs.entries.filter((line) => typeof line.sub === 'string' && line.audit === undefined).map((line) => `${String(line.level)} ${String(line.msg)}`)
const auditOf = (logs: LogCapture, event: string): Record<string, unknown> | undefined => logs.entries.find((line) => line.audit?.event === event)?.audit

t.test('bar 16: a reset Cognito accepts as the store turns full answers 200, and the older session ends once the store is back', async (t) => {
  const { app, logs } = await appFor(t)
  const email = await cognito.user(['MANAGER'])
  const older = await signIn(app, email, TEST_PASSWORD)
  await app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { username: email } })
  const newPassword = 'Reset-Passw0rd!x'
  const reset = await storeFillsAsCognitoAnswers(app, 'ConfirmForgotPassword', email, newPassword, async () =>
    await app.inject({ method: 'POST', url: '/auth/verify-otp', payload: { username: email, code: CODE, newPassword } }))
  t.teardown(async () => { await storeFull(false) })
  t.equal(reset.statusCode, 200, 'the new password is in force: the user is told so, not sent to retry a used code')
  t.same(reset.json(), { status: 'PASSWORD_RESET' })
  t.equal(await me(app, older.cookie)(), 200, 'a full store cannot end the older session yet (it still reads)')

  await storeFull(false)
  t.equal(await within(10_000, 401, me(app, older.cookie)), 401, 'once the store is back, the session from before the reset is refused')
  await endedOnceBack(logs)
  t.same(told(logs), [
    '40 The store failed while ending a user\'s sessions after a password change: they will be ended once the store is back',
    '30 The store is back: the user\'s sessions from before the password change have ended'
  ], 'the operator is told the sessions will end, then that they have')
  t.match(auditOf(logs, 'password-reset'), { outcome: 'success', sessionsEnded: false, cognitoGlobalSignOut: false },
    'Cognito was asked to sign the user out everywhere all the same (the emulator cannot: false)')
  t.notOk(logs.text.includes(newPassword) || logs.text.includes(CODE), 'neither the password nor the code is logged')
})

t.test('bar 16: a change Cognito accepts as the store turns full answers 204 and signs this browser out; every older session ends once the store is back', async (t) => {
  const { app, logs } = await appFor(t)
  const email = await cognito.user(['MANAGER'])
  const other = await signIn(app, email, TEST_PASSWORD)
  const mine = await signIn(app, email, TEST_PASSWORD)
  const newPassword = 'Chang3d-Passw0rd!x'
  const change = await storeFillsAsCognitoAnswers(app, 'ChangePassword', email, newPassword, async () =>
    await app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie: mine.cookie }, payload: { oldPassword: TEST_PASSWORD, newPassword } }))
  t.teardown(async () => { await storeFull(false) })
  t.equal(change.statusCode, 204, 'the new password is in force: the user is told so')
  t.match(setCookies(change).join('\n'), /__Host-ims-session=;.*Max-Age=0/, 'this browser is signed out, to sign in with the new password')

  await storeFull(false)
  t.equal(await within(10_000, 401, me(app, other.cookie)), 401, 'once the store is back, the other browser\'s session has ended')
  t.equal(await me(app, mine.cookie)(), 401, 'and so has the old session of this one')
  await endedOnceBack(logs)
  t.equal((await signIn(app, email, newPassword)).response.statusCode, 200, 'the new password signs in')
  t.match(auditOf(logs, 'password-change'), { outcome: 'success', sessionsEnded: false, keptSession: false, cognitoGlobalSignOut: false })
})

t.test('an instance that closes while the store is still full stops retrying at once and says whose sessions were left', async (t) => {
  const { app, logs } = await appFor(t)
  const email = await cognito.user(['MANAGER'])
  const mine = await signIn(app, email, TEST_PASSWORD)
  const change = await storeFillsAsCognitoAnswers(app, 'ChangePassword', email, 'Clos3d-Passw0rd!x', async () =>
    await app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie: mine.cookie }, payload: { oldPassword: TEST_PASSWORD, newPassword: 'Clos3d-Passw0rd!x' } }))
  t.teardown(async () => { await storeFull(false) })
  t.equal(change.statusCode, 204)
  const sub = auditOf(logs, 'password-change')?.sub
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 3000, `the app closed in ${Date.now() - started} ms`)
  t.same(logs.entries.filter((line) => line.sub === sub && line.level === 50).map((line) => line.msg),
    ['This instance closed before the store was back: the user\'s sessions from before the password change were not ended; sign the user out from /admin'],
    'the operator learns which user to sign out')
})
