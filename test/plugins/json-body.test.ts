// JSON bodies reach Cognito exactly as sent: another charset is 415, bytes that are not UTF-8 are 400, never U+FFFD.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, signIn, testApp } from '../helpers/app.js'

let emulator: Emulator
let app: FastifyInstance

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator)
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

/** A JSON body with `before` and `after` around raw `bytes`, as a client that does not speak UTF-8 sends it. */
function bodyWith (before: string, bytes: number[], after: string): Buffer {
  return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)])
}

t.test('a new password sent in ISO-8859-1 is refused with 415, and the old password still signs in', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  // "New-Passw0rd!é" with é as the single byte 0xE9, the body saying so.
  const changed = await app.inject({
    method: 'POST',
    url: '/auth/change-password',
    headers: { cookie, ...CSRF, 'content-type': 'application/json; charset=iso-8859-1' },
    payload: bodyWith(`{"oldPassword":"${TEST_PASSWORD}","newPassword":"New-Passw0rd!`, [0xe9], '"}')
  })
  t.equal(changed.statusCode, 415)
  t.equal(changed.json().error, 'UNSUPPORTED_MEDIA_TYPE')
  t.match(changed.json().message, /UTF-8/)
  const again = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(again.json().status, 'SIGNED_IN', 'the password is unchanged')
})

t.test('bytes that are not UTF-8 under plain application/json are 400, not another password', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const changed = await app.inject({
    method: 'POST',
    url: '/auth/change-password',
    headers: { cookie, ...CSRF, 'content-type': 'application/json' },
    payload: bodyWith(`{"oldPassword":"${TEST_PASSWORD}","newPassword":"New-Passw0rd!`, [0xe9], '"}')
  })
  t.equal(changed.statusCode, 400)
  t.same(changed.json(), { error: 'VALIDATION_ERROR', message: 'The request body is not valid UTF-8.', requestId: changed.json().requestId })
  // Before, the password became "New-Passw0rd!\uFFFD", which any other invalid byte then matched.
  const otherByte = await app.inject({
    method: 'POST',
    url: '/auth/sign-in',
    headers: { ...CSRF, 'content-type': 'application/json' },
    payload: bodyWith(`{"username":"${email}","password":"New-Passw0rd!`, [0xfc], '"}')
  })
  t.equal(otherByte.statusCode, 400, 'refused as sent, not tried against Cognito')
  const old = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(old.json().status, 'SIGNED_IN', 'the password is unchanged')
})

t.test('UTF-8 said or unsaid, with a BOM or without, and Unicode passwords pass unchanged', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const unicode = 'Mật-khẩu-Ñ9!é'
  const changed = await app.inject({
    method: 'POST',
    url: '/auth/change-password',
    headers: { cookie, ...CSRF, 'content-type': 'application/json; charset="UTF-8"' },
    payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ oldPassword: TEST_PASSWORD, newPassword: unicode }))])
  })
  t.equal(changed.statusCode, 204, changed.body)
  for (const contentType of ['application/json', 'application/json;charset=utf8']) {
    const signedIn = await app.inject({
      method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, 'content-type': contentType }, payload: JSON.stringify({ username: email, password: unicode })
    })
    t.equal(signedIn.json().status, 'SIGNED_IN', `${contentType}: the Unicode password signs in`)
  }
})

t.test('the charset is read as a parameter: one quoted inside another parameter does not count', async (t) => {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/sign-in',
    headers: { ...CSRF, 'content-type': 'application/json; profile="x;charset=utf-8"; charset=iso-8859-1' },
    payload: bodyWith('{"username":"a@ims.test","password":"Passw0rd!', [0xe9], '"}')
  })
  t.equal(response.statusCode, 415)
})

t.test('JSON that does not parse, or carries __proto__, is still 400', async (t) => {
  for (const payload of ['{"username":', '{"__proto__":{"x":1},"username":"a","password":"b"}']) {
    const response = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, 'content-type': 'application/json' }, payload })
    t.equal(response.statusCode, 400, payload)
    t.equal(response.json().error, 'VALIDATION_ERROR')
  }
})
