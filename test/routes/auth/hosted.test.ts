// Hosted login (code + PKCE) through the app against cognito-local's login form: state, nonce, replay, returnTo, logout, failure pages.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { CSRF, LogCapture, cookieValue, setCookies, signIn, testApp } from '../../helpers/app.js'
import { payloadOf, signRs256 } from '../../helpers/jwt.js'
import { freePort } from '../../helpers/ports.js'
import { FUZZ_SEED, fuzzRuns } from '../../helpers/fuzz.js'
import { loadConfig } from '../../../fastify.config.js'
import { CALLBACK_REFUSED } from '../../../src/cognito/hosted-ui.js'

const PUBLIC_URL = 'http://adapter.test:8080'
/** What a browser sends to the adapter at PUBLIC_URL. */
const BROWSER = { host: 'adapter.test:8080' }
const LOGIN_COOKIE = '__Host-ims-login'
const SESSION_COOKIE = '__Host-ims-session'
/** The Accept header Chromium sends when it navigates. */
const NAVIGATION_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7'
/** Accept headers of clients that want the contract's JSON (undefined: none sent, as by a bare fetch or curl). */
const JSON_ACCEPTS = [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.9']

let emulator: Emulator
let app: FastifyInstance
let logs: LogCapture
let nonceForger: Server
let forgedNonceApp: FastifyInstance

/**
 * A token endpoint in front of cognito-local that adds a `nonce` to every ID token it passes on (re-signed with the
 * emulator's own key, so the token is otherwise genuine): the one fault cognito-local cannot produce, as it drops nonces.
 */
async function startNonceForger (target: string): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      void (async () => {
        const upstream = await fetch(`${target}${req.url ?? ''}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' }, body: Buffer.concat(chunks) })
        const body = await upstream.json() as Record<string, unknown>
        if (typeof body.id_token === 'string') {
          const { iss, ...claims } = payloadOf(body.id_token)
          body.id_token = signRs256({ ...claims, iss, nonce: 'forged-nonce' })
        }
        res.writeHead(upstream.status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

t.before(async () => {
  emulator = await startEmulator({ callbackUrls: [`${PUBLIC_URL}/auth/callback`] })
  logs = new LogCapture()
  app = await testApp(emulator, { HOSTED_UI_DOMAIN: emulator.endpoint, PUBLIC_URL }, { logStream: logs })
  nonceForger = await startNonceForger(emulator.endpoint)
  forgedNonceApp = await testApp(emulator, { HOSTED_UI_DOMAIN: `http://127.0.0.1:${(nonceForger.address() as AddressInfo).port}`, PUBLIC_URL })
})
t.teardown(async () => {
  await app?.close()
  await forgedNonceApp?.close()
  await new Promise((resolve) => nonceForger?.close(resolve))
  await emulator?.stop()
})

/** GET /auth/login as a browser at PUBLIC_URL; returns the answer, the authorize URL and the transaction cookie. */
async function startLogin (target: FastifyInstance, returnTo?: string): Promise<{ response: LightMyRequestResponse, authorize: URL, cookie: string }> {
  const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
  const response = await target.inject({ method: 'GET', url: `/auth/login${query}`, headers: BROWSER })
  return { response, authorize: new URL(response.headers.location as string), cookie: `${LOGIN_COOKIE}=${cookieValue(response, LOGIN_COOKIE) ?? ''}` }
}

/** Submits cognito-local's login form for `authorize` as the browser would; returns where the pool sends the browser. */
async function submitPoolForm (authorize: URL, username: string, password: string): Promise<URL> {
  const form = new URLSearchParams(authorize.searchParams)
  form.set('username', username)
  form.set('password', password)
  const response = await fetch(`${emulator.endpoint}/oauth2/authorize`, { method: 'POST', body: form, redirect: 'manual' })
  if (response.status !== 302) throw new Error(`the pool's form answered ${response.status}`)
  return new URL(response.headers.get('location')!)
}

/** Follows the pool's redirect back to the adapter with `cookie`. */
async function callback (target: FastifyInstance, back: URL, cookie: string): Promise<LightMyRequestResponse> {
  return await target.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { ...BROWSER, cookie } })
}

/** The whole hosted login of `username`; returns the callback's answer. */
async function hostedLogin (username: string, returnTo?: string, target = app): Promise<{ response: LightMyRequestResponse, back: URL, cookie: string }> {
  const { authorize, cookie } = await startLogin(target, returnTo)
  const back = await submitPoolForm(authorize, username, TEST_PASSWORD)
  return { response: await callback(target, back, cookie), back, cookie }
}

function sessionCookie (response: LightMyRequestResponse): string | undefined {
  const id = cookieValue(response, SESSION_COOKIE)
  return id === undefined || id === '' ? undefined : `${SESSION_COOKIE}=${id}`
}

t.test('GET /auth/config names the hosted login; without HOSTED_UI_DOMAIN it is off outside local mode', async (t) => {
  const config = await app.inject({ method: 'GET', url: '/auth/config' })
  t.same(config.json().hostedUi, { loginUrl: '/auth/login' })
  const plain = await testApp(emulator)
  t.teardown(async () => { await plain.close() })
  t.equal((await plain.inject({ method: 'GET', url: '/auth/config' })).json().hostedUi, null)
  t.equal((await plain.inject({ method: 'GET', url: '/auth/login' })).statusCode, 404)
})

t.test('/auth/login redirects to the pool with state, nonce and PKCE S256, and sets a sealed Lax transaction cookie', async (t) => {
  const { response, authorize } = await startLogin(app, '/plans')
  t.equal(response.statusCode, 302)
  t.equal(response.headers['cache-control'], 'no-store')
  t.equal(`${authorize.origin}${authorize.pathname}`, `${emulator.endpoint}/oauth2/authorize`)
  const params = authorize.searchParams
  t.equal(params.get('response_type'), 'code')
  t.equal(params.get('client_id'), emulator.clientId)
  t.equal(params.get('redirect_uri'), `${PUBLIC_URL}/auth/callback`)
  t.equal(params.get('code_challenge_method'), 'S256')
  t.match(params.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/)
  t.match(params.get('state'), /^[A-Za-z0-9_-]{32,}$/)
  t.match(params.get('nonce'), /^[A-Za-z0-9_-]{32,}$/)
  t.match(params.get('scope'), /\bopenid\b/)
  const line = setCookies(response).find((c) => c.startsWith(`${LOGIN_COOKIE}=`))!
  t.match(line, /; Path=\/(;|$)/)
  t.match(line, /; HttpOnly/)
  t.match(line, /; Secure/)
  t.match(line, /; SameSite=Lax/)
  t.match(line, /; Max-Age=\d+/)
  t.notMatch(line, /Domain=/i)
  t.ok(line.length < 4096)
  const value = cookieValue(response, LOGIN_COOKIE)!
  t.notOk(value.includes(params.get('state')!), 'the state is not readable in the cookie')
  t.notOk(Buffer.from(value, 'base64url').toString('latin1').includes('/plans'), 'the cookie is encrypted')
})

t.test('locally, a login started on another host name restarts at PUBLIC_URL so the cookie lands where the callback does', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/auth/login?returnTo=%2Fplans', headers: { host: 'localhost:8080' } })
  t.equal(response.statusCode, 302)
  t.equal(response.headers.location, `${PUBLIC_URL}/auth/login?returnTo=%2Fplans`)
  t.equal(cookieValue(response, LOGIN_COOKIE), undefined)
})

t.test('the hosted flow ends in the same session, user object and role guards as the custom sign-in', async (t) => {
  for (const [group, status] of [['ADMIN', 200], ['LINE_LEADER', 403]] as const) {
    const email = await emulator.user([group])
    const { response } = await hostedLogin(email, '/plans?week=3#today')
    t.equal(response.statusCode, 302)
    t.equal(response.headers.location, '/plans?week=3#today')
    t.notMatch(String(response.headers.location), /eyJ|code=/, 'no token or code in the Location')
    const cookie = sessionCookie(response)!
    t.ok(cookie, 'a session cookie')
    const line = setCookies(response).find((c) => c.startsWith(`${SESSION_COOKIE}=`))!
    t.match(line, /; HttpOnly/)
    t.match(line, /; SameSite=Strict/)
    t.match(setCookies(response).find((c) => c.startsWith(`${LOGIN_COOKIE}=`)), /Max-Age=0/, 'the transaction cookie is cleared')
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
    t.equal(me.statusCode, 200)
    const custom = await signIn(app, email, TEST_PASSWORD)
    t.same(me.json(), custom.response.json().user, 'the same user object as /auth/sign-in gives')
    t.same(me.json().roles, [group])
    const admin = await app.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { cookie } })
    t.equal(admin.statusCode, status, `${group} on an ADMIN route`)
    const signOut = await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie }, payload: {} })
    t.equal(signOut.statusCode, 204)
    t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 401)
  }
})

t.test('a confidential app client (COGNITO_CLIENT_SECRET) completes the flow too; locally its secret goes in the body', async (t) => {
  const confidential = await testApp(emulator, { HOSTED_UI_DOMAIN: emulator.endpoint, PUBLIC_URL, COGNITO_CLIENT_SECRET: 'local-client-secret' })
  t.teardown(async () => { await confidential.close() })
  const email = await emulator.user(['MANAGER'])
  const { response } = await hostedLogin(email, '/', confidential)
  t.equal(response.statusCode, 302)
  t.ok(sessionCookie(response), 'a session')
})

t.test('bar 10: a missing or wrong state gives 400 and no session', async (t) => {
  const email = await emulator.user(['MANAGER'])
  for (const mangle of [(q: URLSearchParams) => { q.delete('state') }, (q: URLSearchParams) => { q.set('state', 'not-the-state') }]) {
    const { authorize, cookie } = await startLogin(app)
    const back = await submitPoolForm(authorize, email, TEST_PASSWORD)
    mangle(back.searchParams)
    const response = await callback(app, back, cookie)
    t.equal(response.statusCode, 400)
    t.equal(response.json().error, 'VALIDATION_ERROR')
    t.equal(sessionCookie(response), undefined, 'no session')
    t.notOk(setCookies(response).some((line) => line.startsWith('__Host-ims-login=;')), 'the login under way keeps its transaction (a stray callback cannot cancel it)')
  }
})

t.test('bar 10: no transaction cookie, one from another browser, or one sealed by another key: 400 and no session', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { authorize } = await startLogin(app)
  const back = await submitPoolForm(authorize, email, TEST_PASSWORD)
  const none = await callback(app, back, '')
  t.equal(none.statusCode, 400)
  t.equal(sessionCookie(none), undefined)

  // Another browser's transaction (an attacker planting their own code, or a code injected into a victim's flow).
  const other = await startLogin(app)
  const foreign = await callback(app, back, other.cookie)
  t.equal(foreign.statusCode, 400)
  t.equal(sessionCookie(foreign), undefined)
  const swapped = new URL(back)
  swapped.searchParams.set('state', other.authorize.searchParams.get('state')!)
  const injected = await callback(app, swapped, other.cookie)
  t.equal(injected.statusCode, 400, 'a code bound to another PKCE challenge is refused by the pool')
  t.equal(sessionCookie(injected), undefined)

  // A cookie made by an adapter with another session key.
  const stranger = await testApp(emulator, { HOSTED_UI_DOMAIN: emulator.endpoint, PUBLIC_URL })
  t.teardown(async () => { await stranger.close() })
  const strangers = await startLogin(stranger)
  const strangerBack = await submitPoolForm(strangers.authorize, email, TEST_PASSWORD)
  const sealedElsewhere = await callback(app, strangerBack, strangers.cookie)
  t.equal(sealedElsewhere.statusCode, 400)
  t.equal(sessionCookie(sealedElsewhere), undefined)
  const tampered = await callback(app, back, `${LOGIN_COOKIE}=${'A'.repeat(300)}`)
  t.equal(tampered.statusCode, 400)
})

t.test('bar 10: a replayed code or transaction gives 400 and no session', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { response, back, cookie } = await hostedLogin(email)
  t.equal(response.statusCode, 302)
  const again = await callback(app, back, cookie)
  t.equal(again.statusCode, 400)
  t.equal(sessionCookie(again), undefined)
  // The same code with a fresh transaction of the same browser: the state no longer matches, and the pool refuses it anyway.
  const fresh = await startLogin(app)
  const replay = new URL(back)
  replay.searchParams.set('state', fresh.authorize.searchParams.get('state')!)
  const replayed = await callback(app, replay, fresh.cookie)
  t.equal(replayed.statusCode, 400)
  t.equal(sessionCookie(replayed), undefined)
})

t.test('bar 10: an ID token whose nonce is not the transaction\'s gives 400 and no session', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { response } = await hostedLogin(email, '/', forgedNonceApp)
  t.equal(response.statusCode, 400)
  t.equal(response.json().error, 'VALIDATION_ERROR')
  t.equal(sessionCookie(response), undefined)
})

t.test('a pool error on the callback (the user cancelled) gives 400 and no session', async (t) => {
  const { authorize, cookie } = await startLogin(app)
  const back = new URL(`${PUBLIC_URL}/auth/callback`)
  back.searchParams.set('error', 'access_denied')
  back.searchParams.set('state', authorize.searchParams.get('state')!)
  const response = await callback(app, back, cookie)
  t.equal(response.statusCode, 400)
  t.equal(sessionCookie(response), undefined)
})

/** A callback the adapter refuses for `reason` (the audit line's), with the cookie the browser would send. */
async function refusedCallback (reason: string, email: string): Promise<{ url: string, cookie: string }> {
  if (reason === 'transaction-used') {
    const { back, cookie } = await hostedLogin(email)
    return { url: `${back.pathname}${back.search}`, cookie }
  }
  const { authorize, cookie } = await startLogin(app)
  if (reason === 'no-code') return { url: `/auth/callback?error=access_denied&state=${authorize.searchParams.get('state')!}`, cookie }
  const back = await submitPoolForm(authorize, email, TEST_PASSWORD)
  if (reason === 'state-mismatch') back.searchParams.set('state', 'not-the-state')
  return { url: `${back.pathname}${back.search}`, cookie: reason === 'no-transaction' ? '' : cookie }
}

/** The audit lines of hosted sign-ins refused for `reason`. */
const refusals = (reason: string): number => logs.entries.filter((e) => e.audit?.method === 'hosted' && e.audit?.outcome === 'refused' && e.audit?.reason === reason).length

t.test('a refused callback shows a browser\'s navigation a page, with the same 400, headers and audit line, and no session', async (t) => {
  const email = await emulator.user(['MANAGER'])
  for (const reason of ['no-transaction', 'state-mismatch', 'transaction-used', 'no-code']) {
    const { url, cookie } = await refusedCallback(reason, email)
    const audited = refusals(reason)
    const response = await app.inject({ method: 'GET', url, headers: { ...BROWSER, cookie, accept: NAVIGATION_ACCEPT } })
    t.equal(response.statusCode, 400, reason)
    t.equal(response.headers['content-type'], 'text/html; charset=utf-8', reason)
    t.match(response.body, '<title>IMS · Sign-in link expired</title>', reason)
    t.match(response.body, '<html lang="en">', reason)
    t.match(response.body, '<h1>Sign-in link expired</h1>', reason)
    t.match(response.body, '>This sign-in link has expired or was already used.</p>', reason)
    t.match(response.body, '<a href="/auth/login">Sign in again</a> · <a href="/">Go to the home page</a>', reason)
    t.notMatch(response.body, 'stylesheet', `${reason}: no login pages here (SERVE_LOGIN_PAGES=auto outside local mode), so no stylesheet to link`)
    t.notMatch(response.body, /<script|<style|style=|VALIDATION_ERROR|Cognito/i, `${reason}: no script or style for the CSP to block, no internal reason`)
    for (const value of new URL(url, PUBLIC_URL).searchParams.values()) t.notOk(response.body.includes(value), `${reason}: nothing of the request in the page`)
    t.equal(response.headers['cache-control'], 'no-store', reason)
    t.equal(response.headers['x-content-type-options'], 'nosniff', reason)
    t.match(response.headers['content-security-policy'], /default-src 'self'.*frame-ancestors 'none'/, reason)
    t.equal(response.headers['referrer-policy'], 'no-referrer', reason)
    t.equal(sessionCookie(response), undefined, `${reason}: no session`)
    t.equal(refusals(reason), audited + 1, `${reason}: the refusal is audited as before`)
  }
})

t.test('/docs/json lists both answers of a refused callback: the JSON error body, and the page a browser\'s navigation gets', async (t) => {
  const listed = (await app.inject({ method: 'GET', url: '/docs/json' })).json().paths['/auth/callback'].get.responses as Record<string, { content?: Record<string, unknown> }>
  for (const accept of [NAVIGATION_ACCEPT, 'application/json']) {
    const response = await app.inject({ method: 'GET', url: '/auth/callback?code=a&state=b', headers: { ...BROWSER, accept } })
    t.equal(response.statusCode, 400, accept)
    const mediaType = String(response.headers['content-type']).split(';')[0]!
    t.ok(listed['4XX']?.content?.[mediaType], `${mediaType}, answered to Accept: ${accept}, is listed for 4XX (listed: ${Object.keys(listed['4XX']?.content ?? {}).join(', ')})`)
  }
})

t.test('a refused callback\'s page speaks the browser\'s language (English or Vietnamese, as the login pages do)', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const cases: Array<[string | undefined, 'en' | 'vi']> = [
    [undefined, 'en'],
    ['vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7', 'vi'],
    ['vi', 'vi'],
    ['en-US,en;q=0.9,vi;q=0.8', 'en'],
    ['fr-FR,fr;q=0.9', 'en'],
    ['*', 'en']
  ]
  for (const [acceptLanguage, language] of cases) {
    const { url, cookie } = await refusedCallback('state-mismatch', email)
    const response = await app.inject({ method: 'GET', url, headers: { ...BROWSER, cookie, accept: NAVIGATION_ACCEPT, ...(acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage }) } })
    const label = String(acceptLanguage)
    t.equal(response.statusCode, 400, label)
    t.match(response.body, `<html lang="${language}">`, label)
    if (language === 'vi') {
      t.match(response.body, '<h1>Liên kết đăng nhập đã hết hạn</h1>', label)
      t.match(response.body, '>Liên kết đăng nhập này đã hết hạn hoặc đã được dùng.</p>', label)
      t.match(response.body, '<a href="/auth/login">Đăng nhập lại</a> · <a href="/">Về trang chủ</a>', label)
    } else {
      t.match(response.body, '<h1>Sign-in link expired</h1>', label)
    }
  }
  // The other failures have their Vietnamese sentence too.
  const disabledEmail = await emulator.user(['MANAGER'])
  await emulator.disable(disabledEmail)
  const { authorize, cookie } = await startLogin(app)
  const back = await submitPoolForm(authorize, disabledEmail, TEST_PASSWORD)
  const disabled = await app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { ...BROWSER, cookie, accept: NAVIGATION_ACCEPT, 'accept-language': 'vi' } })
  t.equal(disabled.statusCode, 401)
  t.match(disabled.body, '<h1>Đăng nhập bị từ chối</h1>')
  t.match(disabled.body, '>Không thể hoàn tất lần đăng nhập này.</p>')
})

t.test('where the login pages are served too, a refused callback\'s page takes their stylesheet and header', async (t) => {
  const withPages = await testApp(emulator, { HOSTED_UI_DOMAIN: emulator.endpoint, PUBLIC_URL, SERVE_LOGIN_PAGES: 'true' })
  t.teardown(async () => { await withPages.close() })
  const email = await emulator.user(['MANAGER'])
  const { authorize, cookie } = await startLogin(withPages)
  const back = await submitPoolForm(authorize, email, TEST_PASSWORD)
  back.searchParams.set('state', 'not-the-state')
  const response = await withPages.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { ...BROWSER, cookie, accept: NAVIGATION_ACCEPT } })
  t.equal(response.statusCode, 400)
  t.match(response.body, '<link rel="stylesheet" href="/styles.css">')
  t.match(response.body, '<header class="topbar">')
  t.match(response.body, '<section class="card">')
  t.match(response.body, '<a href="/auth/login">Sign in again</a> <a href="/">Go to the home page</a>')
  t.notMatch(response.body, /<script|<style|style=/i, 'still no script or inline style for the CSP to block')
  for (const asset of ['/styles.css', '/favicon.svg']) {
    const served = await withPages.inject({ method: 'GET', url: asset, headers: BROWSER })
    t.equal(served.statusCode, 200, `${asset} is served where the page links it`)
  }
  t.match(response.headers['content-security-policy'], /default-src 'self'/, 'the CSP lets the page load its own stylesheet')
})

t.test('a refused callback keeps the contract\'s JSON body for clients that do not prefer HTML', async (t) => {
  const email = await emulator.user(['MANAGER'])
  for (const accept of JSON_ACCEPTS) {
    const { url, cookie } = await refusedCallback('state-mismatch', email)
    const response = await app.inject({ method: 'GET', url, headers: { ...BROWSER, cookie, ...(accept === undefined ? {} : { accept }) } })
    t.equal(response.statusCode, 400, String(accept))
    t.match(response.headers['content-type'], /^application\/json/, String(accept))
    t.match(response.json(), { error: 'VALIDATION_ERROR', message: CALLBACK_REFUSED, requestId: String }, String(accept))
    t.equal(sessionCookie(response), undefined)
  }
})

t.test('other failed callbacks show a navigation a page too: a disabled user (401), the pool unreachable (503)', async (t) => {
  const email = await emulator.user(['MANAGER'])
  await emulator.disable(email)
  const { authorize, cookie } = await startLogin(app)
  const back = await submitPoolForm(authorize, email, TEST_PASSWORD)
  const disabled = await app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { ...BROWSER, cookie, accept: NAVIGATION_ACCEPT } })
  t.equal(disabled.statusCode, 401)
  t.equal(disabled.headers['content-type'], 'text/html; charset=utf-8')
  t.match(disabled.body, '>This sign-in could not be completed.</p>')
  t.equal(sessionCookie(disabled), undefined)

  // A token endpoint nobody listens on: the code cannot be exchanged.
  const unreachable = await testApp(emulator, { HOSTED_UI_DOMAIN: `http://127.0.0.1:${await freePort()}`, PUBLIC_URL })
  t.teardown(async () => { await unreachable.close() })
  const other = await emulator.user(['MANAGER'])
  const login = await startLogin(unreachable)
  const otherBack = await submitPoolForm(login.authorize, other, TEST_PASSWORD)
  const down = await unreachable.inject({ method: 'GET', url: `${otherBack.pathname}${otherBack.search}`, headers: { ...BROWSER, cookie: login.cookie, accept: NAVIGATION_ACCEPT } })
  t.equal(down.statusCode, 503)
  t.ok(down.headers['retry-after'], 'Retry-After as on the JSON answer')
  t.equal(down.headers['content-type'], 'text/html; charset=utf-8')
  t.match(down.body, '>The sign-in service is unavailable right now. Try again shortly.</p>')
  t.equal(sessionCookie(down), undefined)
})

t.test('bar 17: a disabled user cannot sign in through the hosted page either', async (t) => {
  const email = await emulator.user(['ADMIN'])
  await emulator.disable(email)
  const { response } = await hostedLogin(email)
  t.equal(response.statusCode, 401)
  t.equal(response.json().error, 'INVALID_CREDENTIALS')
  t.equal(sessionCookie(response), undefined)
})

t.test('bar 31: returnTo accepts same-origin paths only; anything else lands on /', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const cases: Array<[string, string]> = [
    ['https://evil.example/x', '/'],
    ['//evil.example/x', '/'],
    ['/\\evil.example/x', '/'],
    ['javascript:alert(1)', '/'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/auth/logout', '/'],
    ['/shop-floor/line-3', '/shop-floor/line-3']
  ]
  for (const [returnTo, landing] of cases) {
    const { response } = await hostedLogin(email, returnTo)
    t.equal(response.statusCode, 302, returnTo)
    t.equal(response.headers.location, landing, returnTo)
  }
})

t.test('bar 31, generated returnTo values: wherever a browser follows the Location, it stays on the adapter and off the login routes', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const piece = fc.constantFrom(
    '/', '//', '\\', '/\\', 'evil.example', '@evil.example', ':', '%2f', '%2F', '%5c', '%09', '\t', '\n', '.', '..', '%2e',
    '%2e%2e', 'javascript:', 'https:', '?', '#', 'auth', 'login', 'logout', 'callback', '%6cogout', '\u00e9', '\u3000', '\uff0f', '\u2215'
  )
  const returnTo = fc.tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 6 })).map(([slash, pieces]) => (slash ? '/' : '') + pieces.join(''))
  const adapter = new URL(PUBLIC_URL).origin
  const runs = fuzzRuns(60)
  await fc.assert(fc.asyncProperty(returnTo, async (value) => {
    const { response } = await hostedLogin(email, value)
    if (response.statusCode !== 302) throw new Error(`${JSON.stringify(value)}: ${response.statusCode}`)
    const landing = new URL(String(response.headers.location), PUBLIC_URL)
    let routed = landing.pathname
    try { routed = decodeURIComponent(routed) } catch {}
    if (landing.origin !== adapter || /^\/auth\/(login|callback|logout)\b/.test(routed)) {
      throw new Error(`${JSON.stringify(value)} sent the browser to ${landing.href}`)
    }
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} generated returnTo values, each landing on the adapter`)
})

t.test('a returnTo too long once percent-encoded lands on /, and the transaction cookie stays under 4 KB', async (t) => {
  const email = await emulator.user(['MANAGER'])
  // 2001 typed characters, six times as many once encoded: kept as typed, the cookie would pass 16 KB.
  const { response: login, authorize, cookie } = await startLogin(app, `/${'é'.repeat(2000)}`)
  t.equal(login.statusCode, 302)
  const sent = setCookies(login).find((c) => c.startsWith(`${LOGIN_COOKIE}=`))!
  t.ok(Buffer.byteLength(sent.split(';')[0]!) < 4096, `a cookie a browser keeps (${Buffer.byteLength(sent.split(';')[0]!)} bytes)`)
  const back = await submitPoolForm(authorize, email, TEST_PASSWORD)
  const landed = await callback(app, back, cookie)
  t.equal(landed.statusCode, 302, 'the user who typed their password is signed in')
  t.equal(landed.headers.location, '/')
  t.ok(sessionCookie(landed))

  const longest = `/${'é'.repeat(340)}`
  const { response } = await hostedLogin(email, longest)
  t.equal(response.headers.location, encodeURI(longest), 'a long path that fits is kept')
})

t.test('GET /auth/logout ends the session and clears the cookie, then goes to the login page (cognito-local has no /logout)', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { response } = await hostedLogin(email)
  const cookie = sessionCookie(response)!
  const logout = await app.inject({ method: 'GET', url: '/auth/logout', headers: { ...BROWSER, cookie } })
  t.equal(logout.statusCode, 302)
  t.equal(logout.headers.location, '/')
  t.match(setCookies(logout).find((c) => c.startsWith(`${SESSION_COOKIE}=`)), /Max-Age=0/)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 401)
  const twice = await app.inject({ method: 'GET', url: '/auth/logout', headers: { ...BROWSER, cookie } })
  t.equal(twice.statusCode, 302, 'a second logout is harmless')
})

t.test('GET /auth/logout acts only on a navigation: an <img> or a fetch from a same-site page ends nothing (403 CSRF_REQUIRED)', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const cookie = sessionCookie((await hostedLogin(email)).response)!
  // What Chromium sends for <img src=".../auth/logout"> on a sibling subdomain, and for a fetch() there: the
  // SameSite=Strict cookie goes along, the site being the same.
  const forged = [
    { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
    { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
    { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
    // Speculation rules on a same-site page: a navigation in form, made ahead of one the user may never make.
    { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-purpose': 'prefetch' },
    { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-purpose': 'prefetch;prerender' }
  ]
  for (const headers of forged) {
    const response = await app.inject({ method: 'GET', url: '/auth/logout', headers: { ...BROWSER, ...headers, cookie } })
    t.equal(response.statusCode, 403, JSON.stringify(headers))
    t.equal(response.json().error, 'CSRF_REQUIRED')
    t.notOk(setCookies(response).some((c) => c.startsWith(`${SESSION_COOKIE}=`)), 'the cookie is not cleared')
  }
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 200, 'the session lives on')
  const clicked = await app.inject({
    method: 'GET', url: '/auth/logout', headers: { ...BROWSER, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', cookie }
  })
  t.equal(clicked.statusCode, 302, 'the pages\' own sign-out (a navigation) signs out')
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 401)
})

t.test('bar 35: no code, state, token or cookie value of a hosted login reaches the logs', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const { response, back, cookie } = await hostedLogin(email)
  const secrets = [back.searchParams.get('code')!, back.searchParams.get('state')!, cookie.split('=')[1]!, cookieValue(response, SESSION_COOKIE)!]
  for (const secret of secrets) t.notOk(logs.text.includes(secret), 'not in the logs')
  t.notOk(logs.text.includes('eyJ'), 'no JWT in the logs')
  t.ok(logs.entries.some((e) => e.audit?.event === 'sign-in' && e.audit?.method === 'hosted' && e.audit?.outcome === 'success'), 'the sign-in is audited')
})

t.test('AWS mode refuses to start with a plain-http pool domain or without an https PUBLIC_URL', async (t) => {
  const aws = { COGNITO_USER_POOL_ID: 'eu-west-1_AbCdEf123', COGNITO_CLIENT_ID: 'client', AWS_REGION: 'eu-west-1', SESSION_ENCRYPTION_KEY: 'ab'.repeat(32) }
  t.throws(() => loadConfig({ ...aws, HOSTED_UI_DOMAIN: 'http://ims.auth.eu-west-1.amazoncognito.com', PUBLIC_URL: 'https://ims.example.com' }), /HOSTED_UI_DOMAIN must be an https:\/\/ URL/)
  t.throws(() => loadConfig({ ...aws, HOSTED_UI_DOMAIN: 'https://ims.auth.eu-west-1.amazoncognito.com' }), /PUBLIC_URL must be set/)
  t.throws(() => loadConfig({ ...aws, HOSTED_UI_DOMAIN: 'https://ims.auth.eu-west-1.amazoncognito.com/path' }), /HOSTED_UI_DOMAIN is invalid/)
  t.doesNotThrow(() => loadConfig({ ...aws, HOSTED_UI_DOMAIN: 'https://ims.auth.eu-west-1.amazoncognito.com', PUBLIC_URL: 'https://ims.example.com' }))
})
