// Bar 39 for requests that end sessions: however many Cognito calls they make in turn, they answer within 5 s, and end every session at once.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startFaultyCognito, timed, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { CSRF, cognitoTokens, setCookies, signIn, testApp, twoInstances } from '../helpers/app.js'
import { pauseAfter } from '../helpers/pause-after.js'
import { AppError } from '../../src/errors.js'

let cognito: FaultyCognito
let app: FastifyInstance
let tokenApp: FastifyInstance

t.before(async () => {
  cognito = await startFaultyCognito()
  // COGNITO_TIMEOUT_MS keeps its default (3500): what production runs with.
  app = await testApp(cognito)
  tokenApp = await testApp(cognito, { SESSION_MODE: 'token' })
})
t.teardown(async () => {
  await app?.close()
  await tokenApp?.close()
  await cognito?.stop()
})

const me = async (headers: Record<string, string>): Promise<number> => (await app.inject({ method: 'GET', url: '/auth/me', headers })).statusCode

/** Whether the response clears the session cookie. */
const clearsSession = (response: Awaited<ReturnType<FastifyInstance['inject']>>): boolean =>
  setCookies(response).some((line) => line.startsWith('__Host-ims-session=;'))

t.test('bar 39: sign out everywhere while Cognito is 10 s slow answers 204 within 5 s, and every session and token of the user ends', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const first = (await signIn(app, email, TEST_PASSWORD)).cookie
  const second = (await signIn(app, email, TEST_PASSWORD)).cookie
  const bearer = { authorization: `Bearer ${(await cognitoTokens(app, email, TEST_PASSWORD)).accessToken}` }
  const bystander = (await signIn(app, await cognito.user(['MANAGER']), TEST_PASSWORD)).cookie

  cognito.slowApi(10_000)
  try {
    const { response, ms } = await timed(async () => await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: first }, payload: { global: true } }))
    t.equal(response.statusCode, 204, response.body)
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
    t.ok(clearsSession(response), 'the cookie is cleared')
    // Still slow: the adapter's own revocations do not wait for Cognito.
    t.equal(await me({ cookie: first }), 401, 'this browser\'s session has ended')
    t.equal(await me({ cookie: second }), 401, 'and the user\'s other session')
    t.equal(await me(bearer), 401, 'and their access token')
    t.equal(await me({ cookie: bystander }), 200, 'another user\'s session is untouched')
  } finally {
    cognito.slowApi(0)
  }
})

t.test('bar 39: a password change Cognito takes, then answers everything after it late: 204 within 5 s, every session ended', async (t) => {
  const email = await cognito.user(['LINE_LEADER'])
  const cookie = (await signIn(app, email, TEST_PASSWORD)).cookie
  const other = (await signIn(app, email, TEST_PASSWORD)).cookie
  const newPassword = `${TEST_PASSWORD}-changed`
  // The change itself is answered at once; the revocations, the global sign-out and the sign-in that follow are late.
  cognito.lateAnswers(10_000, 'RevokeToken', 'AdminUserGlobalSignOut', 'InitiateAuth')
  let response
  try {
    const call = await timed(async () => await app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie }, payload: { oldPassword: TEST_PASSWORD, newPassword } }))
    response = call.response
    t.equal(response.statusCode, 204, response.body)
    t.ok(call.ms < 5000, `answered within 5 s (${Math.round(call.ms)} ms)`)
  } finally {
    cognito.lateAnswers(0)
  }
  t.ok(clearsSession(response), 'the browser, which no fresh sign-in could be waited for, is signed out')
  t.equal(await me({ cookie }), 401, 'its old session has ended')
  t.equal(await me({ cookie: other }), 401, 'and so has the user\'s other one')
  t.equal((await signIn(app, email, newPassword)).response.statusCode, 200, 'the new password is in force')
})

t.test('bar 39: a password change whose fresh sign-in starts late in the budget, and whose AdminGetUser the emulator answers late: 204 within 5 s', async (t) => {
  const email = await cognito.user(['LINE_LEADER'])
  const cookie = (await signIn(app, email, TEST_PASSWORD)).cookie
  const newPassword = `${TEST_PASSWORD}-changed`
  // The change takes 2 s of the budget's 3.5; the sign-in that follows gets its tokens at once, but the emulator's check
  // that the account is enabled (AdminGetUser, sent beside InitiateAuth) is answered late. The throttle's lookup of the
  // account (also AdminGetUser) comes before the change, and is answered at once.
  cognito.slowApi(2000, 'ChangePassword')
  const from = cognito.calls.length
  try {
    const { response, ms } = await timed(async () => {
      const changing = app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie }, payload: { oldPassword: TEST_PASSWORD, newPassword } })
      for (let wait = 0; wait < 100 && !cognito.calls.slice(from).some(({ operation }) => operation === 'ChangePassword'); wait++) await sleep(10)
      cognito.lateAnswers(10_000, 'AdminGetUser')
      return await changing
    })
    t.equal(response.statusCode, 204, response.body)
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
    t.ok(clearsSession(response), 'the browser, whose fresh sign-in the budget could not wait for, is signed out')
  } finally {
    cognito.slowApi(0)
    cognito.lateAnswers(0)
  }
  t.equal(await me({ cookie }), 401, 'its old session has ended')
  t.equal((await signIn(app, email, newPassword)).response.statusCode, 200, 'the new password is in force')
})

t.test('bar 39: a disable Cognito answers late, then revocations as late: 503 within 5 s, and the user\'s sessions have ended', async (t) => {
  const admin = (await signIn(app, await cognito.user(['ADMIN']), TEST_PASSWORD)).cookie
  const email = await cognito.user(['MANAGER'])
  const cookie = (await signIn(app, email, TEST_PASSWORD)).cookie
  cognito.lateAnswers(10_000, 'AdminDisableUser', 'RevokeToken')
  try {
    const { response, ms } = await timed(async () => await app.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(email)}/disable`, headers: { ...CSRF, cookie: admin } }))
    t.equal(response.statusCode, 503, response.body)
    t.equal(response.json().error, 'UPSTREAM_UNAVAILABLE')
    t.ok(Number(response.headers['retry-after']) > 0, 'Retry-After is set')
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
  } finally {
    cognito.lateAnswers(0)
  }
  t.equal(await me({ cookie }), 401, 'the user\'s session has ended')
})

t.test('Cognito answering every call in 1 s: an admin\'s disable and sign-out of a user answer 200 within 5 s, each time, and end the user\'s sessions', async (t) => {
  const admin = (await signIn(app, await cognito.user(['ADMIN']), TEST_PASSWORD)).cookie
  const email = await cognito.user(['MANAGER'])
  const cookie = (await signIn(app, email, TEST_PASSWORD)).cookie
  // Slow, but each call well within its own timeout: the actions must not run out of time for what they do.
  cognito.slowApi(1000)
  try {
    for (const action of ['sign-out', 'disable']) {
      const { response, ms } = await timed(async () => await app.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(email)}/${action}`, headers: { ...CSRF, cookie: admin } }))
      t.equal(response.statusCode, 200, `${action}: ${response.body}`)
      t.ok(ms < 5000, `${action} answered within 5 s (${Math.round(ms)} ms)`)
    }
  } finally {
    cognito.slowApi(0)
  }
  t.equal(await me({ cookie }), 401, 'the user\'s session has ended')
})

t.test('token mode: revocations the answer did not wait for still reach Cognito', async (t) => {
  const username = await cognito.user(['MANAGER'])
  const signInTokens = async (): Promise<{ accessToken: string, refreshToken: string }> =>
    (await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username, password: TEST_PASSWORD } })).json().tokens
  const [device, otherDevice] = [await signInTokens(), await signInTokens()]

  // Every call now takes 3 s: within its own timeout, but three of them in turn would hold the answer for 9.
  cognito.slowApi(3000)
  try {
    const { response, ms } = await timed(async () => await tokenApp.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${device.accessToken}` }, payload: { global: true } }))
    t.equal(response.statusCode, 204, response.body)
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
  } finally {
    cognito.slowApi(0)
  }
  // Asked of Cognito itself (not of the adapter, which refuses them already): each refresh token is revoked once the
  // calls left running in the background have gone through, within their own timeout.
  for (const [name, { refreshToken }] of [['this device', device], ['the other device', otherDevice]] as const) {
    let outcome = 'accepted'
    for (let attempt = 0; attempt < 40 && outcome === 'accepted'; attempt++) {
      outcome = await tokenApp.cognito.auth.refresh(refreshToken, username).then(() => 'accepted', (error: unknown) => error instanceof AppError ? error.code : 'failed')
      if (outcome === 'accepted') await sleep(250)
    }
    t.equal(outcome, 'UNAUTHENTICATED', `${name}'s refresh token is revoked at Cognito`)
  }
})

t.test('sign out everywhere whose GlobalSignOut Cognito receives after the budget: no RevokeToken reaches Cognito before it, and each still does', async (t) => {
  const [a, b] = await twoInstances(cognito)
  t.teardown(async () => { await a.close(); await b.close() })
  const email = await cognito.user(['MANAGER'])
  const first = (await signIn(a, email, TEST_PASSWORD)).cookie
  const second = (await signIn(a, email, TEST_PASSWORD)).cookie
  const meOnA = async (cookie: string): Promise<number> => (await a.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode
  // B reads the session from a store that answers late, so the global sign-out starts with most of the budget spent,
  // and Cognito receives it later still (within its own timeout). It needs this session's access token alive there: a
  // RevokeToken of the session's refresh token that reached Cognito first would make it fail.
  pauseAfter(b.store, 'get')(async () => { await sleep(2500) })
  cognito.slowApi(2000, 'GlobalSignOut')
  const from = cognito.reached.length
  const revocations = (): string[] => cognito.reached.slice(from).filter((operation) => operation === 'GlobalSignOut' || operation === 'RevokeToken')
  try {
    const { response, ms } = await timed(async () => await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: first }, payload: { global: true } }))
    t.equal(response.statusCode, 204, response.body)
    t.ok(ms < 5000, `answered within 5 s (${Math.round(ms)} ms)`)
    t.equal(await meOnA(first), 401, 'this browser\'s session has ended')
    t.equal(await meOnA(second), 401, 'and the user\'s other session')
    // What the answer did not wait for goes on in the background, within each call's own timeout.
    for (let attempt = 0; attempt < 40 && revocations().filter((operation) => operation === 'RevokeToken').length < 2; attempt++) await sleep(250)
  } finally {
    cognito.slowApi(0)
  }
  t.equal(revocations()[0], 'GlobalSignOut', 'Cognito receives the global sign-out before any revocation of the user\'s tokens')
  t.ok(revocations().filter((operation) => operation === 'RevokeToken').length >= 2, 'and then the revocation of each session\'s refresh token')
})
