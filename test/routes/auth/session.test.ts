// The life of a session: /auth/me, refresh (rotation), sign-out (single and global), CSRF, idle and absolute limits.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { AdminDeleteUserCommand } from '@aws-sdk/client-cognito-identity-provider'
import { CSRF, cookieValue, cognitoTokens, setCookies, signIn, testApp } from '../../helpers/app.js'

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

const me = async (headers: Record<string, string>) => await app.inject({ method: 'GET', url: '/auth/me', headers })

t.test('without a session or token, /auth/me is 401 UNAUTHENTICATED; a tampered or unknown id too (bar 26)', async (t) => {
  const none = await me({})
  t.equal(none.statusCode, 401)
  t.equal(none.json().error, 'UNAUTHENTICATED')
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const id = cookie.split('=')[1]!
  const flipped = id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A')
  t.equal((await me({ cookie: `__Host-ims-session=${flipped}` })).statusCode, 401, 'one character changed')
  t.equal((await me({ cookie: '__Host-ims-session=guess' })).statusCode, 401, 'a made-up id')
  t.equal((await me({ cookie })).statusCode, 200, 'the real one works')
})

t.test('bar 27: unsafe requests riding on a cookie need X-CSRF: 1 and must not be cross-site', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const noHeader = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie } })
  t.equal(noHeader.statusCode, 403)
  t.equal(noHeader.json().error, 'CSRF_REQUIRED')
  const crossSite = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie, ...CSRF, 'sec-fetch-site': 'cross-site' } })
  t.equal(crossSite.statusCode, 403)
  t.equal(crossSite.json().error, 'CSRF_REQUIRED')
  t.equal((await me({ cookie })).statusCode, 200, 'the refused sign-outs did nothing')
  const signInNoHeader = await app.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: email, password: TEST_PASSWORD } })
  t.equal(signInNoHeader.statusCode, 403, 'sign-in creates a cookie session, so it needs the header too')
  t.notOk(cookieValue(signInNoHeader, '__Host-ims-session'))
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const bearer = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(bearer.statusCode, 204, 'bearer callers need no CSRF header')
  const { accessToken: another } = await cognitoTokens(app, email, TEST_PASSWORD)
  const crossSiteBearer = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${another}`, 'sec-fetch-site': 'cross-site' } })
  t.equal(crossSiteBearer.statusCode, 204, 'nor are they refused as cross-site: a bearer token is not sent by the browser on its own')
})

t.test('bar 27: an Authorization header does not excuse a cookie request from the CSRF check', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  for (const authorization of ['Basic eDp5', 'x']) {
    const refresh = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, authorization, 'sec-fetch-site': 'cross-site' }, payload: {} })
    t.equal(refresh.statusCode, 403, `Authorization: ${authorization} with the cookie, cross-site`)
    t.equal(refresh.json().error, 'CSRF_REQUIRED')
    t.notOk(cookieValue(refresh, '__Host-ims-session'), 'no new session')
  }
  const signInWithHeader = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { authorization: 'x' }, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(signInWithHeader.statusCode, 403, 'a cookie sign-in without X-CSRF is not let through by an Authorization header')
  t.notOk(cookieValue(signInWithHeader, '__Host-ims-session'))
  const withBearer = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { authorization: 'Bearer junk', 'sec-fetch-site': 'cross-site' }, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(withBearer.statusCode, 403, 'nor by a bearer token: sign-in creates a cookie session whatever the request carries')
  t.notOk(cookieValue(withBearer, '__Host-ims-session'))
  t.equal((await me({ cookie })).statusCode, 200, 'the session is untouched')
})

t.test('bar 14: refresh gets new tokens from Cognito and rotates the session id', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, ...CSRF } })
  t.equal(refreshed.statusCode, 200)
  t.equal(refreshed.json().status, 'REFRESHED')
  t.ok(refreshed.json().expiresIn > 0)
  t.notOk(refreshed.json().tokens, 'no tokens in cookie mode')
  const next = cookieValue(refreshed, '__Host-ims-session')!
  t.not(`__Host-ims-session=${next}`, cookie, 'a new id')
  t.equal((await me({ cookie })).statusCode, 401, 'the old id stops working')
  const after = await me({ cookie: `__Host-ims-session=${next}` })
  t.equal(after.statusCode, 200)
  t.same(after.json().roles, ['LINE_LEADER'])
})

t.test('bar 14: a refresh token Cognito no longer honours, or a disabled user, ends the session with 401', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  await emulator.client.send(new AdminDeleteUserCommand({ UserPoolId: emulator.userPoolId, Username: email }))
  const refused = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, ...CSRF } })
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().error, 'UNAUTHENTICATED')
  t.match(setCookies(refused).join(';'), /__Host-ims-session=;.*Max-Age=0/, 'the cookie is cleared')
  t.equal((await me({ cookie })).statusCode, 401, 'the session is gone')

  const disabled = await emulator.user(['MANAGER'])
  const second = await signIn(app, disabled, TEST_PASSWORD)
  await emulator.disable(disabled)
  const refusedDisabled = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: second.cookie, ...CSRF } })
  t.equal(refusedDisabled.statusCode, 401, 'a disabled user cannot refresh')
  t.equal((await me({ cookie: second.cookie })).statusCode, 401)
})

t.test('two tabs refreshing at once both get 200 and the same working session id', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const refresh = async () => await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, ...CSRF } })
  const [first, second] = await Promise.all([refresh(), refresh()])
  t.equal(first.statusCode, 200, first.body)
  t.equal(second.statusCode, 200, second.body)
  const next = cookieValue(first, '__Host-ims-session')
  t.ok(next, 'a new id')
  t.equal(cookieValue(second, '__Host-ims-session'), next, 'the same new id for both')
  t.equal((await me({ cookie: `__Host-ims-session=${next!}` })).statusCode, 200, 'and it works')
  t.equal((await me({ cookie })).statusCode, 401, 'the old id does not')
})

t.test('bar 14, token mode: a disabled user cannot refresh, whatever username the body names', async (t) => {
  const tokenApp = await testApp(emulator, { SESSION_MODE: 'token' })
  t.teardown(async () => { await tokenApp.close() })
  const signInTokens = async (username: string) => {
    const response = await tokenApp.inject({ method: 'POST', url: '/auth/sign-in', payload: { username, password: TEST_PASSWORD } })
    return response.json().tokens as { accessToken: string, refreshToken: string }
  }
  const refresh = async (payload: Record<string, string>) => await tokenApp.inject({ method: 'POST', url: '/auth/refresh', payload })
  const email = await emulator.user(['MANAGER'])
  const { refreshToken } = await signInTokens(email)
  t.equal((await refresh({ refreshToken })).statusCode, 200, 'enabled, the refresh works')

  await emulator.disable(email)
  const bystander = await emulator.user(['MANAGER'])
  const payloads: Array<Record<string, string>> = [{ refreshToken }, { refreshToken, username: bystander }]
  for (const payload of payloads) {
    const refused = await refresh(payload)
    t.equal(refused.statusCode, 401, JSON.stringify(Object.keys(payload)))
    t.equal(refused.json().error, 'UNAUTHENTICATED')
    t.notOk(refused.json().tokens, 'and no tokens')
  }
})

t.test('bar 15: sign-out revokes, deletes, clears; the old cookie and the old access token get 401; twice is harmless', async (t) => {
  const email = await emulator.user(['ADMIN'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  // The session's own access token is what a proxied call would have carried; take it from a second session.
  const out = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie, ...CSRF } })
  t.equal(out.statusCode, 204)
  const cleared = setCookies(out).find((c) => c.startsWith('__Host-ims-session='))!
  t.match(cleared, /Max-Age=0/)
  t.equal((await me({ cookie })).statusCode, 401, 'old cookie')
  t.equal((await me({ authorization: `Bearer ${accessToken}` })).statusCode, 200, 'a token of another session is untouched by a single sign-out')
  const outBearer = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(outBearer.statusCode, 204)
  t.equal((await me({ authorization: `Bearer ${accessToken}` })).statusCode, 401, 'the signed-out access token is refused')
  const again = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie, ...CSRF } })
  t.equal(again.statusCode, 204, 'a second sign-out is a harmless 204')
})

t.test('bar 15: an access token a session replaced (its refresh near expiry) is refused with the session\'s sign-out', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const session = await app.sessions.find(cookie.split('=')[1])
  const replaced = session!.record.accessToken
  // What a request near the token's expiry does on its way (SESSION_REFRESH_SKEW_SECONDS): new tokens, same session.
  const refreshed = await app.refreshSession(session!)
  t.not(refreshed.record.accessToken, replaced)
  t.equal((await me({ cookie })).statusCode, 200, 'the session goes on')
  t.equal((await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })).statusCode, 204)
  t.equal((await me({ authorization: `Bearer ${replaced}` })).statusCode, 401, 'the replaced token, which the IMS backend may hold, is refused')
  t.equal((await me({ authorization: `Bearer ${refreshed.record.accessToken}` })).statusCode, 401, 'and so is the current one')
})

t.test('sign out everywhere ends every session and every access token of the user', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const laptop = await signIn(app, email, TEST_PASSWORD)
  const terminal = await signIn(app, email, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const other = await emulator.user(['MANAGER'])
  const bystander = await signIn(app, other, TEST_PASSWORD)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // tokens issued in an earlier second than the sign-out
  const out = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie: laptop.cookie, ...CSRF }, payload: { global: true } })
  t.equal(out.statusCode, 204)
  t.equal((await me({ cookie: terminal.cookie })).statusCode, 401, 'the other browser is signed out')
  t.equal((await me({ authorization: `Bearer ${accessToken}` })).statusCode, 401, 'earlier access tokens are refused')
  t.equal((await me({ cookie: bystander.cookie })).statusCode, 200, 'another user is untouched')
  const fresh = await signIn(app, email, TEST_PASSWORD)
  t.equal((await me({ cookie: fresh.cookie })).statusCode, 200, 'signing in again works at once')
})

t.test('bar 28: idle and absolute lifetimes end the session', async (t) => {
  const short = await testApp(emulator, { SESSION_IDLE_SECONDS: '60', SESSION_ABSOLUTE_SECONDS: '300' })
  t.teardown(async () => { await short.close() })
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(short, email, TEST_PASSWORD)
  t.equal((await short.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 200)
  const realNow = Date.now
  try {
    Date.now = () => realNow() + 61_000
    t.equal((await short.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 401, 'idle for 61 s with a 60 s idle limit')
  } finally {
    Date.now = realNow
  }
  const second = await signIn(short, email, TEST_PASSWORD)
  try {
    // Active every 50 s, but past the 300 s absolute limit.
    for (let elapsed = 50_000; elapsed <= 250_000; elapsed += 50_000) {
      Date.now = () => realNow() + elapsed
      t.equal((await short.inject({ method: 'GET', url: '/auth/me', headers: { cookie: second.cookie } })).statusCode, 200, `active at +${elapsed / 1000} s`)
    }
    Date.now = () => realNow() + 301_000
    t.equal((await short.inject({ method: 'GET', url: '/auth/me', headers: { cookie: second.cookie } })).statusCode, 401, 'past the absolute limit')
  } finally {
    Date.now = realNow
  }
})

t.test('a sign-out sent with the cookie from before another tab refreshed the session (six times) ends the refreshed session too', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie: before } = await signIn(app, email, TEST_PASSWORD)
  let after = before
  for (let refresh = 0; refresh < 6; refresh++) {
    const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie: after }, payload: {} })
    t.equal(refreshed.statusCode, 200)
    after = `__Host-ims-session=${cookieValue(refreshed, '__Host-ims-session')}`
  }
  t.equal((await me({ cookie: after })).statusCode, 200, 'the other tab holds the refreshed session')
  const out = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: before }, payload: {} })
  t.equal(out.statusCode, 204)
  t.equal((await me({ cookie: after })).statusCode, 401, 'the browser is signed out in every tab')
})

t.test('bar 15: a sign-out carrying both a bearer token and the cookie ends the cookie\'s session too', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const out = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { cookie, authorization: `Bearer ${accessToken}`, ...CSRF } })
  t.equal(out.statusCode, 204)
  t.match(setCookies(out).join(';'), /__Host-ims-session=;.*Max-Age=0/, 'the cookie is cleared')
  t.equal((await me({ cookie })).statusCode, 401, 'the cleared cookie, replayed, finds no session')
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, ...CSRF } })).statusCode, 401, 'nor can it be refreshed')
  t.equal((await me({ authorization: `Bearer ${accessToken}` })).statusCode, 401, 'the bearer token is refused')
})

t.test('a new sign-in in the same browser ends the previous session, and its access token with it', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const first = await signIn(app, email, TEST_PASSWORD)
  const previousToken = (await app.sessions.find(first.cookie.split('=')[1]))!.record.accessToken
  t.equal((await me({ authorization: `Bearer ${previousToken}` })).statusCode, 200, 'the session\'s token works while it lasts')
  const again = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: { cookie: first.cookie, ...CSRF }, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(again.statusCode, 200)
  t.equal((await me({ cookie: first.cookie })).statusCode, 401, 'the previous cookie')
  t.equal((await me({ authorization: `Bearer ${previousToken}` })).statusCode, 401, 'the previous session\'s access token, which the IMS backend may hold')
  t.equal((await me({ cookie: `__Host-ims-session=${cookieValue(again, '__Host-ims-session')}` })).statusCode, 200, 'the new session')
})

t.test('an Authorization header of another scheme (a proxy\'s Basic credentials) leaves the cookie session in charge', async (t) => {
  const email = await emulator.user(['LINE_LEADER'])
  const { cookie } = await signIn(app, email, TEST_PASSWORD)
  for (const authorization of ['Basic eDp5', 'Negotiate abc', 'x']) {
    const response = await me({ cookie, authorization })
    t.equal(response.statusCode, 200, `${authorization} with the cookie`)
    t.equal(response.json().username, (await me({ cookie })).json().username)
    t.equal((await me({ authorization })).statusCode, 401, `${authorization} alone`)
  }
  for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b']) {
    t.equal((await me({ cookie, authorization })).statusCode, 401, `a malformed bearer value (${JSON.stringify(authorization)}) is refused, cookie or not`)
  }
})
