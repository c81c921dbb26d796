// Hosted login over two instances on one Redis: started on A, called back on B, replayed on both, or ended meanwhile.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { cognitoTokens, cookieValue, twoInstances } from '../../helpers/app.js'

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
