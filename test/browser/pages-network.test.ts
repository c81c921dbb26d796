// The login pages in Chromium behind a loopback front: a request never answered, a gateway's own error answer, a refusal the emulator cannot give.
import t from 'tap'
import { once } from 'node:events'
import { createServer, request as httpRequest, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startBrowserStack, type BrowserStack } from '../helpers/browser.js'

let env: BrowserStack

t.before(async () => { env = await startBrowserStack() })
t.teardown(async () => { await env?.stop() })

/**
 * A loopback front for the adapter, as the network between a browser and the adapter may behave: the first
 * `POST /auth/sign-in` goes to `firstSignIn` (which may leave it unanswered); everything else passes on to `target`.
 */
async function front (target: string, firstSignIn: (response: ServerResponse) => void): Promise<{ url: string, close: () => Promise<void> }> {
  let taken = false
  const server = createServer((request, response) => {
    if (!taken && request.method === 'POST' && request.url === '/auth/sign-in') {
      taken = true
      firstSignIn(response)
      return
    }
    const onward = httpRequest(`${target}${request.url ?? '/'}`, { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    onward.on('error', () => { response.destroy() })
    request.pipe(onward)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    }
  }
}

/**
 * A sign-in the network never answers (a loopback front that takes it and says nothing), in a browser that has
 * `AbortSignal.timeout` or, as Safari before 16 (iOS 15), not: the form comes back with the network message, the
 * password kept, and the retry signs in.
 */
for (const browser of ['today\'s', 'without AbortSignal.timeout (Safari before 16, as on iOS 15)']) {
  t.test(`a sign-in the network never answers gives the form back with a message, the password kept, and the retry signs in: a browser ${browser}`, async (t) => {
    const email = await env.user(['LINE_LEADER'])
    const stalled = await front(env.url, () => {})
    t.teardown(stalled.close)
    const context = await env.newContext({ phone: true })
    t.teardown(async () => { await context.close() })
    if (browser !== 'today\'s') await context.addInitScript(() => { Reflect.deleteProperty(AbortSignal, 'timeout') })
    const page = await context.newPage()
    await page.goto(`${stalled.url}/`)
    await page.waitForSelector('body[data-ready]')
    t.equal(await page.evaluate('typeof AbortSignal.timeout'), browser === 'today\'s' ? 'function' : 'undefined')
    const form = page.locator('[data-view="sign-in"]')
    await form.getByLabel('Email').fill(email)
    await form.getByLabel('Password', { exact: true }).fill(TEST_PASSWORD)
    const submit = form.getByRole('button', { name: 'Sign in', exact: true })
    await submit.click()
    const alert = page.locator('#sign-in-error')
    await alert.filter({ hasText: /\S/ }).waitFor({ timeout: 30_000 })
    t.equal((await alert.textContent())?.trim(), 'The server could not be reached. Check your connection and try again.')
    t.ok(await submit.isEnabled(), 'the button works again')
    t.equal(await form.getByLabel('Password', { exact: true }).inputValue(), TEST_PASSWORD, 'the password is kept for the retry')
    await submit.click()
    await page.getByRole('heading', { name: 'You are signed in' }).waitFor({ timeout: 10_000 })
  })
}

/** What a gateway in front of the adapter may answer with instead of the contract's body, and what each language reads. */
const GATEWAY_ANSWERS = [
  { what: 'its own 502 page, no reason phrase as over HTTP/2', type: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>', en: 'The request did not succeed. Try again.', vi: 'Đã xảy ra lỗi phía máy chủ.', keepsPassword: true },
  // A code the pages do not know is no failure they can vouch for: the password is cleared, as after a refusal.
  { what: 'a JSON body whose code names a member every object inherits', type: 'application/json', body: '{"error":"toString","message":""}', en: 'The request did not succeed. Try again.', vi: 'Yêu cầu không thành công. Hãy thử lại.', keepsPassword: false }
]

t.test('a gateway\'s own error answer (a load balancer\'s 502 page, an odd JSON body) reads as a sentence in each language', async (t) => {
  for (const answer of GATEWAY_ANSWERS) {
    for (const lang of ['en', 'vi'] as const) {
      const gateway = await front(env.url, (response) => {
        response.writeHead(502, '', { 'content-type': answer.type })
        response.end(answer.body)
      })
      t.teardown(gateway.close)
      const context = await env.newContext({ locale: lang === 'vi' ? 'vi-VN' : 'en-GB' })
      t.teardown(async () => { await context.close() })
      const page = await context.newPage()
      await page.goto(`${gateway.url}/`)
      await page.waitForSelector('body[data-ready]')
      await page.locator('#sign-in-username').fill('someone@ims.local')
      await page.locator('#sign-in-password').fill(TEST_PASSWORD)
      await page.locator('[data-view="sign-in"] button[type="submit"]').click()
      const alert = page.locator('#sign-in-error')
      await alert.waitFor()
      t.equal((await alert.textContent())?.trim(), answer[lang], `${lang}, ${answer.what}`)
      t.equal(await page.locator('#sign-in-password').inputValue(), answer.keepsPassword ? TEST_PASSWORD : '', `${lang}: the password is ${answer.keepsPassword ? 'kept for the retry' : 'cleared'}`)
    }
  }
})

t.test('a sign-in refused with PASSWORD_RESET_REQUIRED (an account an administrator marked for a new password) is taken to the reset, its email filled in', async (t) => {
  const email = await env.user(['LINE_LEADER'])
  // cognito-local marks no account RESET_REQUIRED through its API: the front answers the sign-in as the adapter answers
  // one Cognito refuses so (PasswordResetRequiredException), and passes the rest on.
  const marked = await front(env.url, (response) => {
    response.writeHead(403, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: 'PASSWORD_RESET_REQUIRED', message: 'This account must reset its password.', requestId: 'r' }))
  })
  t.teardown(marked.close)
  const context = await env.newContext({ locale: 'vi-VN' })
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  await page.goto(`${marked.url}/`)
  await page.waitForSelector('body[data-ready]')
  await page.locator('#sign-in-username').fill(email)
  await page.locator('#sign-in-password').fill(TEST_PASSWORD)
  await page.locator('[data-view="sign-in"] button[type="submit"]').click()
  await page.getByRole('heading', { name: 'Đặt lại mật khẩu' }).waitFor()
  t.equal((await page.locator('[data-view="forgot"] [data-notice]').textContent())?.trim(),
    'Bạn cần đặt lại mật khẩu trước khi đăng nhập. Hãy gửi mã cho mình để chọn mật khẩu mới.', 'it says why')
  t.equal(await page.locator('#forgot-username').inputValue(), email, 'the email is filled in')
  await page.locator('[data-view="forgot"] button[type="submit"]').click()
  await page.locator('[data-view="reset"]').waitFor({ state: 'visible' })
  t.match(await page.locator('[data-reset-lead]').textContent(), email, 'the code is on its way to that account')
  t.equal(await page.locator('#sign-in-password').inputValue(), '', 'the password typed is not kept')
})
