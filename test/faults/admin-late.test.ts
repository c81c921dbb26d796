// Admin changes that Cognito applied but answered too late (503), on one of two instances sharing Redis: access ends everywhere.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { cognitoTokens, CSRF, signIn, twoInstances } from '../helpers/app.js'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'

let cognito: FaultyCognito
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  cognito = await startFaultyCognito()
  ;[a, b] = await twoInstances(cognito, { COGNITO_TIMEOUT_MS: '1000' })
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await cognito?.stop()
})

const me = async (app: FastifyInstance, headers: Record<string, string>): Promise<number> => (await app.inject({ method: 'GET', url: '/auth/me', headers })).statusCode

t.test('bar 14: a disable Cognito applied but answered late (503 on A) ends the user\'s session and access tokens on B too', async (t) => {
  const admin = (await signIn(a, await cognito.user(['ADMIN']), TEST_PASSWORD)).cookie
  const email = await cognito.user(['MANAGER'])
  const { cookie } = await signIn(b, email, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(b, email, TEST_PASSWORD)
  t.equal(await me(b, { cookie }), 200)
  t.equal(await me(b, { authorization: `Bearer ${accessToken}` }), 200)

  cognito.lateAnswers(2000, 'AdminDisableUser')
  try {
    const disable = await a.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(email)}/disable`, headers: { ...CSRF, cookie: admin } })
    t.equal(disable.statusCode, 503, 'Cognito did not answer in time')
  } finally {
    cognito.lateAnswers(0)
  }
  const { Enabled } = await cognito.client.send(new AdminGetUserCommand({ UserPoolId: cognito.userPoolId, Username: email }))
  t.equal(Enabled, false, 'yet Cognito disabled the user')
  t.equal(await me(b, { cookie }), 401, 'the disabled user\'s session on B has ended')
  t.equal(await me(b, { authorization: `Bearer ${accessToken}` }), 401, 'and so has their access token')
  t.equal(await me(a, { authorization: `Bearer ${accessToken}` }), 401, 'on A as well')
})
