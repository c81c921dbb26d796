// Self sign-up and its confirmation through the app against cognito-local (fixed code): statuses, rules, conflicts, input.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, uniqueEmail, type Emulator } from '../../helpers/emulator.js'
import { signIn, testApp } from '../../helpers/app.js'
import { startFaultyCognito } from '../../helpers/faulty-cognito.js'
import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider'

const CODE = '123456'
const PASSWORD = 'Sign-Up-Passw0rd!'

let emulator: Emulator
let app: FastifyInstance

t.before(async () => {
  emulator = await startEmulator({ code: CODE })
  app = await testApp(emulator)
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

const post = async (url: string, payload: object): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url, payload })

t.test('sign-up answers 202 CONFIRMATION_REQUIRED; the account signs in only after confirm-sign-up', async (t) => {
  const email = uniqueEmail('signup')
  const signedUp = await post('/auth/sign-up', { username: email, password: PASSWORD, email })
  t.equal(signedUp.statusCode, 202)
  t.same(signedUp.json(), { status: 'CONFIRMATION_REQUIRED' })
  t.equal(signedUp.headers['cache-control'], 'no-store')
  t.equal((await signIn(app, email, PASSWORD)).response.json().error, 'USER_NOT_CONFIRMED')

  const resent = await post('/auth/resend-code', { username: email })
  t.equal(resent.statusCode, 202)
  t.same(resent.json(), { status: 'CODE_SENT' })

  const confirmed = await post('/auth/confirm-sign-up', { username: email, code: CODE })
  t.equal(confirmed.statusCode, 200)
  t.same(confirmed.json(), { status: 'CONFIRMED' })
  const { response } = await signIn(app, email, PASSWORD)
  t.equal(response.json().status, 'SIGNED_IN')
  t.equal(response.json().user.email, email)
  t.same(response.json().user.roles, [], 'self sign-up grants no role')
})

t.test('a taken username is 409 USERNAME_EXISTS', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const again = await post('/auth/sign-up', { username: email, password: PASSWORD, email })
  t.equal(again.statusCode, 409)
  t.equal(again.json().error, 'USERNAME_EXISTS')
})

t.test('a password that breaks the pool policy is refused before Cognito, naming every unmet rule', async (t) => {
  const email = uniqueEmail('signup')
  const cases: Array<[string, string[]]> = [
    ['alllowercase1', ['REQUIRE_UPPERCASE', 'REQUIRE_SYMBOLS']],
    ['Sh0rt!', ['MINIMUM_LENGTH']],
    ['NoDigits-Here', ['REQUIRE_NUMBERS']],
    ['WITH SPACE 123', ['REQUIRE_LOWERCASE']],
    [' Edge1abcdef ', ['REQUIRE_SYMBOLS']],
    ['x', ['MINIMUM_LENGTH', 'REQUIRE_UPPERCASE', 'REQUIRE_NUMBERS', 'REQUIRE_SYMBOLS']]
  ]
  for (const [password, rules] of cases) {
    const refused = await post('/auth/sign-up', { username: email, password, email })
    t.equal(refused.statusCode, 400, password)
    t.equal(refused.json().error, 'INVALID_PASSWORD')
    t.same(refused.json().rules, rules, `${JSON.stringify(password)} misses ${rules.join(', ')}`)
  }
  t.equal((await post('/auth/sign-up', { username: email, password: PASSWORD, email })).statusCode, 202, 'no account was made by the refusals')
})

t.test('malformed bodies are 400 VALIDATION_ERROR', async (t) => {
  const email = uniqueEmail('signup')
  for (const body of [
    { username: email, password: PASSWORD },
    { username: email, password: PASSWORD, email: 'not-an-email' },
    { username: email, password: PASSWORD, email, role: 'ADMIN' },
    { username: email, password: 'x'.repeat(257), email }
  ]) {
    const response = await post('/auth/sign-up', body)
    t.equal(response.statusCode, 400)
    t.equal(response.json().error, 'VALIDATION_ERROR')
  }
  t.equal((await post('/auth/confirm-sign-up', { username: email })).json().error, 'VALIDATION_ERROR')
  t.equal((await post('/auth/confirm-sign-up', { username: email, code: CODE, extra: 1 })).json().error, 'VALIDATION_ERROR')
})

t.test('the language asked for (Accept-Language) becomes the locale; a pool that may not write it still signs the user up', async (t) => {
  const cognito = await startFaultyCognito({ code: CODE })
  const faultyApp = await testApp(cognito)
  t.teardown(async () => { await faultyApp.close(); await cognito.stop() })
  const signUp = async (email: string, acceptLanguage?: string): Promise<LightMyRequestResponse> => await faultyApp.inject({
    method: 'POST',
    url: '/auth/sign-up',
    headers: acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage },
    payload: { username: email, password: PASSWORD, email }
  })
  const localeOf = async (email: string): Promise<string | undefined> =>
    (await cognito.client.send(new AdminGetUserCommand({ UserPoolId: cognito.userPoolId, Username: email }))).UserAttributes?.find((a) => a.Name === 'locale')?.Value

  const vietnamese = uniqueEmail('vi')
  t.equal((await signUp(vietnamese, 'vi-VN,vi;q=0.9,en;q=0.5')).statusCode, 202)
  t.equal(await localeOf(vietnamese), 'vi', 'Vietnamese asked for: locale vi')
  const unasked = uniqueEmail('none')
  t.equal((await signUp(unasked)).statusCode, 202)
  t.equal(await localeOf(unasked), undefined, 'nothing asked for: no locale (the triggers\' DEFAULT_LOCALE applies)')
  const other = uniqueEmail('fr')
  t.equal((await signUp(other, 'fr-FR')).statusCode, 202)
  t.equal(await localeOf(other), undefined, 'a language the IMS does not speak: no locale')

  cognito.refuseWrites('locale')
  const restricted = uniqueEmail('restricted')
  t.equal((await signUp(restricted, 'vi')).statusCode, 202, 'an app client that may not write locale: signed up all the same')
  t.equal(await localeOf(restricted), undefined)
  t.same(cognito.calls.filter((c) => c.operation === 'SignUp' && (c.body.Username === restricted)).map((c) => (c.body.UserAttributes as Array<{ Name: string }>).map((a) => a.Name)),
    [['email', 'locale'], ['email']], 'asked with locale, then without it')
})

t.test('an Accept-Language that names neither English nor Vietnamese, only allowing any language (*), sets no locale: the triggers\' DEFAULT_LOCALE applies', async (t) => {
  for (const acceptLanguage of ['*', 'fr-FR, *;q=0.5', 'en;q=0, *']) {
    const email = uniqueEmail('wildcard')
    const response = await app.inject({ method: 'POST', url: '/auth/sign-up', headers: { 'accept-language': acceptLanguage }, payload: { username: email, password: PASSWORD, email } })
    t.equal(response.statusCode, 202)
    const user = await emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: email }))
    t.equal(user.UserAttributes?.find((a) => a.Name === 'locale')?.Value, undefined, `${acceptLanguage}: no locale`)
  }
})
