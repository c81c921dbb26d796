// Hosted login over two instances on one Redis: started on A, called back on B, replayed on both, or ended meanwhile.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { cognitoTokens, cookieValue, testApp, twoInstances } from '../../helpers/app.js'
import { SHARED_REDIS_URL } from '../../helpers/redis.js'

const PUBLIC_URL = 'http://adapter.test:8080'
/** What a browser sends to the adapter at PUBLIC_URL. */
const BROWSER = { host: 'adapter.test:8080' }
const LOGIN_COOKIE = '__Host-ims-login'
const SESSION_COOKIE = '__Host-ims-session'

let emulator: Emulator
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  emulator = await startEmulator({ callbackUrls: [`${PUBLIC_URL}/auth/callback`] })
  ;[a, b] = await twoInstances(emulator, { HOSTED_UI_DOMAIN: emulator.endpoint, PUBLIC_URL })
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await emulator?.stop()
})

/** The pool's login form filled in for a login started on `app`: where the pool sends the browser back, and its transaction cookie. */
async function codeFromPool (app: FastifyInstance, username: string): Promise<{ back: URL, cookie: string }> {
  const login = await app.inject({ method: 'GET', url: '/auth/login', headers: BROWSER })
  const authorize = new URL(login.headers.location as string)
  const form = new URLSearchParams(authorize.searchParams)
  form.set('username', username)
  form.set('password', TEST_PASSWORD)
  const response = await fetch(`${emulator.endpoint}/oauth2/authorize`, { method: 'POST', body: form, redirect: 'manual', signal: AbortSignal.timeout(5000) })
  if (response.status !== 302) throw new Error(`the pool's form answered ${response.status}`)
  return { back: new URL(response.headers.get('location')!), cookie: `${LOGIN_COOKIE}=${cookieValue(login, LOGIN_COOKIE) ?? ''}` }
}

async function callback (app: FastifyInstance, back: URL, cookie: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { ...BROWSER, cookie } })
}

function sessionCookie (response: LightMyRequestResponse): string | undefined {
  const id = cookieValue(response, SESSION_COOKIE)
  return id === undefined || id === '' ? undefined : `${SESSION_COOKIE}=${id}`
}

const me = async (app: FastifyInstance, cookie: string) => (await app.inject({ method: 'GET', url: '/auth/me', headers: { ...BROWSER, cookie } })).statusCode

t.test('a login started on A and called back on B signs in, on both instances; the same callback replayed on A at once gets 400', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { back, cookie } = await codeFromPool(a, email)
  const answers = await Promise.all([callback(b, back, cookie), callback(a, back, cookie)])
  t.same(answers.map((r) => r.statusCode).sort(), [302, 400], 'one callback signs in, the other is refused')
  const signedIn = answers.find((r) => r.statusCode === 302)!
  const refused = answers.find((r) => r.statusCode === 400)!
  t.equal(sessionCookie(refused), undefined, 'the refused one gets no session')
  const session = sessionCookie(signedIn)!
  t.equal(await me(a, session), 200)
  t.equal(await me(b, session), 200)
})

/** What ends every session of a user on B: an ADMIN's sign-out, or the user's own sign-out everywhere from another browser. */
const endingEverySession: Record<string, (email: string) => Promise<number>> = {
  'an admin sign-out': async (email) => {
    const adminToken = (await cognitoTokens(b, await emulator.user(['ADMIN']), TEST_PASSWORD)).accessToken
    return (await b.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(email)}/sign-out`, headers: { authorization: `Bearer ${adminToken}` } })).statusCode
  },
  'a sign-out everywhere': async (email) => {
    const { accessToken } = await cognitoTokens(b, email, TEST_PASSWORD)
    return (await b.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${accessToken}` }, payload: { global: true } })).statusCode
  }
}

for (const [ending, end] of Object.entries(endingEverySession)) {
  t.test(`a hosted login signed in at the pool before ${ending} on B gives no session when called back on A after it`, async (t) => {
    const email = await emulator.user(['LINE_LEADER'])
    // Signed in at the pool (by the user, or by whoever holds the password): the code is in hand, not yet redeemed.
    const { back, cookie } = await codeFromPool(a, email)
    t.ok([200, 204].includes(await end(email)), `${ending} on B`)
    const answer = await callback(a, back, cookie)
    t.equal(answer.statusCode, 401, 'the callback on A is refused')
    t.match(answer.body, /"error":"UNAUTHENTICATED"/)
    t.equal(sessionCookie(answer), undefined, 'no session cookie')
    // A login begun after the ending works (the ending answered once the second of its mark had begun).
    const again = await codeFromPool(b, email)
    const fresh = await callback(a, again.back, again.cookie)
    t.equal(fresh.statusCode, 302, 'a new hosted login works')
    t.equal(await me(b, sessionCookie(fresh) ?? ''), 200)
  })
}

t.test('instances whose HOSTED_UI_TRANSACTION_SECONDS differ (a rolling deploy that changes it) judge a login by when it truly began', async (t) => {
  const shared = { HOSTED_UI_DOMAIN: emulator.endpoint, PUBLIC_URL, SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex'), AUTH_IP_LIMIT: '1000' }
  const short = await testApp(emulator, { ...shared, HOSTED_UI_TRANSACTION_SECONDS: '300' })
  const long = await testApp(emulator, { ...shared, HOSTED_UI_TRANSACTION_SECONDS: '900' })
  t.teardown(async () => { await short.close(); await long.close() })

  // The user signs out everywhere, then signs in again: begun after the ending, the login gives a working session.
  const email = await emulator.user(['LINE_LEADER'])
  t.ok([200, 204].includes(await endingEverySession['a sign-out everywhere']!(email)), 'a sign-out everywhere')
  const after = await codeFromPool(short, email)
  const fresh = await callback(long, after.back, after.cookie)
  t.equal(fresh.statusCode, 302, 'a login begun after the sign-out everywhere, called back on the other instance, signs in')
  t.equal(await me(long, sessionCookie(fresh) ?? ''), 200)

  // A login signed in at the pool before an admin's sign-out still gives no session, wherever it is called back.
  const other = await emulator.user(['LINE_LEADER'])
  const before = await codeFromPool(long, other)
  t.ok([200, 204].includes(await endingEverySession['an admin sign-out']!(other)), 'an admin sign-out')
  const late = await callback(short, before.back, before.cookie)
  t.equal(late.statusCode, 401, 'a login begun before the admin sign-out is refused on the other instance')
  t.equal(sessionCookie(late), undefined, 'no session cookie')
})
