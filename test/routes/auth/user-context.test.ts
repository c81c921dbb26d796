// COGNITO_USER_CONTEXT: the calls a user's request makes tell Cognito that user's IP address (UserContextData), not the adapter's.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { TEST_PASSWORD } from '../../helpers/emulator.js'
import { startFaultyCognito, type FaultyCognito } from '../../helpers/faulty-cognito.js'
import { CSRF, testApp } from '../../helpers/app.js'

/** The browser's address, as the load balancer in front (loopback here, trusted) reports it. */
const USER_IP = '203.0.113.7'
const FORWARDED = { ...CSRF, 'x-forwarded-for': USER_IP }

let cognito: FaultyCognito
let app: FastifyInstance
let plain: FastifyInstance

t.before(async () => {
  // The proxy in front of cognito-local records each call as Cognito receives it.
  cognito = await startFaultyCognito()
  app = await testApp(cognito, { COGNITO_USER_CONTEXT: 'true', COGNITO_CLIENT_SECRET: 'local-client-secret', TRUST_PROXY: '127.0.0.1' })
  plain = await testApp(cognito, { TRUST_PROXY: '127.0.0.1' })
})
t.teardown(async () => {
  await app?.close()
  await plain?.close()
  await cognito?.stop()
})

/** The UserContextData of the calls of `operation` made since `from` (an index into the recorded calls). */
function contexts (operation: string, from: number): unknown[] {
  return cognito.calls.slice(from).filter((call) => call.operation === operation).map((call) => call.body.UserContextData)
}

t.test('sign-in, a wrong reset code, a wrong sign-up code and a code request each carry the user\'s IP address', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const from = cognito.calls.length
  const signedIn = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: FORWARDED, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(signedIn.json().status, 'SIGNED_IN')
  t.same(contexts('InitiateAuth', from), [{ IpAddress: USER_IP }])
  await app.inject({ method: 'POST', url: '/auth/verify-otp', headers: FORWARDED, payload: { username: email, code: '000000', newPassword: 'Another-Passw0rd!' } })
  t.same(contexts('ConfirmForgotPassword', from), [{ IpAddress: USER_IP }])
  await app.inject({ method: 'POST', url: '/auth/confirm-sign-up', headers: FORWARDED, payload: { username: email, code: '000000' } })
  t.same(contexts('ConfirmSignUp', from), [{ IpAddress: USER_IP }])
  const sent = await app.inject({ method: 'POST', url: '/auth/forgot-password', headers: FORWARDED, payload: { username: email } })
  t.equal(sent.statusCode, 202)
  // The code is asked for after the uniform answer.
  for (let tries = 0; tries < 50 && contexts('ForgotPassword', from).length === 0; tries++) await sleep(100)
  t.same(contexts('ForgotPassword', from), [{ IpAddress: USER_IP }])
})

t.test('by default nothing is sent: Cognito takes the address only from an app client set to propagate it', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const from = cognito.calls.length
  const signedIn = await plain.inject({ method: 'POST', url: '/auth/sign-in', headers: FORWARDED, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(signedIn.json().status, 'SIGNED_IN')
  t.same(contexts('InitiateAuth', from), [undefined])
})
