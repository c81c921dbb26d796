// A password reset or change that Cognito applied but answered too late (503) still ends every session of the user.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { CSRF, signIn, testApp } from '../helpers/app.js'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'

const CODE = '123456'
let cognito: FaultyCognito
let app: FastifyInstance

t.before(async () => {
  cognito = await startFaultyCognito({ code: CODE })
  app = await testApp(cognito, { COGNITO_TIMEOUT_MS: '1000', AUTH_IP_LIMIT: '1000' })
})
t.teardown(async () => {
  await app?.close()
  await cognito?.stop()
})

const me = async (cookie: string) => (await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode

t.test('verify-otp: the new password took, the answer came late; the user\'s older sessions end anyway', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const older = await signIn(app, email, TEST_PASSWORD)
  await app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { username: email } })
  cognito.lateAnswers(2000, 'ConfirmForgotPassword')
  try {
    const reset = await app.inject({ method: 'POST', url: '/auth/verify-otp', payload: { username: email, code: CODE, newPassword: 'Late-Passw0rd!x' } })
    t.equal(reset.statusCode, 503, 'Cognito did not answer in time')
  } finally {
    cognito.lateAnswers(0)
  }
  t.equal((await signIn(app, email, 'Late-Passw0rd!x')).response.statusCode, 200, 'yet the password has changed')
  t.equal(await me(older.cookie), 401, 'and the session from before the reset has ended')
})

t.test('verify-otp answered late counts as a guess: five, and the next is refused before Cognito is asked', async (t) => {
  const email = await cognito.user(['MANAGER'])
  cognito.lateAnswers(2000, 'ConfirmForgotPassword')
  const answers: number[] = []
  try {
    for (let guess = 0; guess < 6; guess++) {
      const response = await app.inject({ method: 'POST', url: '/auth/verify-otp', payload: { username: email, code: String(100000 + guess), newPassword: 'Guess-Passw0rd!x' } })
      answers.push(response.statusCode)
    }
  } finally {
    cognito.lateAnswers(0)
  }
  t.same(answers, [503, 503, 503, 503, 503, 429], 'an unknown outcome is charged like a wrong code')
})

t.test('change-password: the new password took, the answer came late; every session of the user ends', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const other = await signIn(app, email, TEST_PASSWORD)
  const mine = await signIn(app, email, TEST_PASSWORD)
  cognito.lateAnswers(2000, 'ChangePassword')
  try {
    const change = await app.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie: mine.cookie }, payload: { oldPassword: TEST_PASSWORD, newPassword: 'Late-Chang3d!x' } })
    t.equal(change.statusCode, 503, 'Cognito did not answer in time')
  } finally {
    cognito.lateAnswers(0)
  }
  t.equal((await signIn(app, email, 'Late-Chang3d!x')).response.statusCode, 200, 'yet the password has changed')
  t.equal(await me(other.cookie), 401, 'the other browser\'s session has ended')
  t.equal(await me(mine.cookie), 401, 'and so has this one: it is signed in again with whichever password works')
})
