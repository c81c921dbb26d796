// Bar 12 with a real authenticator-app user: the MFA challenge, a reused code refused, too many wrong codes end in 429.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { AssociateSoftwareTokenCommand, SetUserMFAPreferenceCommand, SetUserPoolMfaConfigCommand, VerifySoftwareTokenCommand } from '@aws-sdk/client-cognito-identity-provider'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { cognitoTokens, cookieValue, CSRF, testApp, twoInstances } from '../../helpers/app.js'
import { totp } from '../../helpers/totp.js'

let emulator: Emulator
let app: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  // Authenticator-app MFA, optional per user, as an IMS pool would offer it.
  await emulator.client.send(new SetUserPoolMfaConfigCommand({ UserPoolId: emulator.userPoolId, MfaConfiguration: 'OPTIONAL', SoftwareTokenMfaConfiguration: { Enabled: true } }))
  app = await testApp(emulator, { AUTH_IP_LIMIT: '1000' })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

/** A MANAGER who has set up an authenticator app; returns the email and the TOTP secret. */
async function mfaUser (): Promise<{ email: string, secret: string }> {
  const email = await emulator.user(['MANAGER'])
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const { SecretCode } = await emulator.client.send(new AssociateSoftwareTokenCommand({ AccessToken: accessToken }))
  await emulator.client.send(new VerifySoftwareTokenCommand({ AccessToken: accessToken, UserCode: totp(SecretCode!) }))
  await emulator.client.send(new SetUserMFAPreferenceCommand({ AccessToken: accessToken, SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true } }))
  return { email, secret: SecretCode! }
}

async function startChallenge (email: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  if (response.json().challenge !== 'SOFTWARE_TOKEN_MFA') throw new Error(`expected the MFA challenge, got ${response.body}`)
  return `__Host-ims-preauth=${cookieValue(response, '__Host-ims-preauth')}`
}

const answer = async (cookie: string, code: string) =>
  await app.inject({ method: 'POST', url: '/auth/challenge', headers: { ...CSRF, cookie }, payload: { challenge: 'SOFTWARE_TOKEN_MFA', answer: code } })

t.test('bar 12: the authenticator code signs in; the same code a second time is refused', async (t) => {
  const { email, secret } = await mfaUser()
  const first = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  t.same(first.json(), { status: 'CHALLENGE', challenge: 'SOFTWARE_TOKEN_MFA' }, 'the challenge, and nothing of Cognito\'s session')
  t.notOk(cookieValue(first, '__Host-ims-session'), 'no session before the code')
  const code = totp(secret)
  const signedIn = await answer(`__Host-ims-preauth=${cookieValue(first, '__Host-ims-preauth')}`, code)
  t.equal(signedIn.statusCode, 200)
  t.equal(signedIn.json().status, 'SIGNED_IN')
  t.same(signedIn.json().user.roles, ['MANAGER'])

  const again = await answer(await startChallenge(email), code)
  t.equal(again.statusCode, 400, 'a reused code')
  t.equal(again.json().error, 'INVALID_CODE')
  t.notOk(cookieValue(again, '__Host-ims-session'))
})

t.test('bar 12: wrong codes are INVALID_CODE; the fifth ends the challenge with 429 and the right code no longer helps', async (t) => {
  const { email, secret } = await mfaUser()
  const cookie = await startChallenge(email)
  for (let attempt = 1; attempt <= 4; attempt++) {
    const wrong = await answer(cookie, String(100000 + attempt))
    t.equal(wrong.statusCode, 400, `wrong code ${attempt}`)
    t.equal(wrong.json().error, 'INVALID_CODE')
  }
  const fifth = await answer(cookie, '100005')
  t.equal(fifth.statusCode, 429)
  t.equal(fifth.json().error, 'TOO_MANY_REQUESTS')
  t.ok(Number(fifth.headers['retry-after']) >= 1, 'with Retry-After')
  const late = await answer(cookie, totp(secret))
  t.equal(late.statusCode, 401, 'the challenge is gone: the flow restarts')
})

t.test('signing in again gives a new challenge, not new guesses: five wrong codes per user, then 429 even for the right code', async (t) => {
  const { email, secret } = await mfaUser()
  const statuses: number[] = []
  for (let restart = 0; restart < 3; restart++) {
    const cookie = await startChallenge(email)
    for (let attempt = 0; attempt < 2; attempt++) statuses.push((await answer(cookie, String(200000 + restart * 10 + attempt))).statusCode)
  }
  t.same(statuses, [400, 400, 400, 400, 400, 429], 'the sixth wrong code, in the third challenge, is refused')
  const fresh = await answer(await startChallenge(email), totp(secret))
  t.equal(fresh.statusCode, 429, 'a fresh challenge is refused too, until the window passes')
  t.equal(fresh.json().error, 'TOO_MANY_REQUESTS')
  t.ok(Number(fresh.headers['retry-after']) > 1, 'with the window\'s Retry-After')
})

t.test('wrong MFA codes and wrong reset codes share the account\'s one budget, whichever name the challenge carries', async (t) => {
  const { email, secret } = await mfaUser()
  const statuses: number[] = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const reset = await app.inject({ method: 'POST', url: '/auth/verify-otp', headers: CSRF, payload: { username: email, code: String(300000 + attempt), newPassword: 'Another-Passw0rd!' } })
    statuses.push(reset.statusCode)
  }
  const cookie = await startChallenge(email)
  for (let attempt = 0; attempt < 3; attempt++) statuses.push((await answer(cookie, String(400000 + attempt))).statusCode)
  t.same(statuses, [400, 400, 400, 400, 400, 429], 'three wrong reset codes, then two wrong MFA codes use the five up')
  const right = await answer(await startChallenge(email), totp(secret))
  t.equal(right.statusCode, 429, 'even the right code waits for the window')
})

t.test('the fifth wrong code\'s Retry-After covers the account\'s lock: signing in again after it, on either instance (redis), the right code is taken', async (t) => {
  const [a, b] = await twoInstances(emulator, { AUTH_FAILURE_WINDOW_SECONDS: '4' })
  t.teardown(async () => { await a.close(); await b.close() })
  const { email, secret } = await mfaUser()
  const signInOn = async (on: FastifyInstance): Promise<string> => {
    const response = await on.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
    return `__Host-ims-preauth=${cookieValue(response, '__Host-ims-preauth')}`
  }
  const answerOn = async (on: FastifyInstance, cookie: string, code: string) =>
    await on.inject({ method: 'POST', url: '/auth/challenge', headers: { ...CSRF, cookie }, payload: { challenge: 'SOFTWARE_TOKEN_MFA', answer: code } })
  // One challenge begun on A, its five wrong codes spread over both instances: the last ends the flow, and the account's five.
  const cookie = await signInOn(a)
  for (let attempt = 1; attempt <= 4; attempt++) t.equal((await answerOn(attempt % 2 === 0 ? a : b, cookie, String(500000 + attempt))).json().error, 'INVALID_CODE')
  const fifth = await answerOn(b, cookie, '500005')
  t.equal(fifth.statusCode, 429)
  t.equal(fifth.json().error, 'TOO_MANY_REQUESTS')
  const wait = Number(fifth.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 4, `Retry-After ${wait}, within the account's window`)
  await sleep(wait * 1000 + 100)
  const right = await answerOn(b, await signInOn(a), totp(secret))
  t.equal(right.statusCode, 200, 'after Retry-After, signing in again takes the right code')
  t.equal(right.json().status, 'SIGNED_IN')
})
