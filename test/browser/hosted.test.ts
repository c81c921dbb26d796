// The hosted login in headless Chromium: from the pages' button through cognito-local's form to a signed-in page, and out again.
import t from 'tap'
import type { BrowserContext, Page } from 'playwright-core'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { screenshot, startBrowserStack, type BrowserStack } from '../helpers/browser.js'

let env: BrowserStack

t.before(async () => { env = await startBrowserStack() })
t.teardown(async () => { await env?.stop() })

async function open (context: BrowserContext, path = '/'): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${env.url}${path}`)
  await page.waitForSelector('body[data-ready]')
  return page
}

/** Fills cognito-local's login form (its own page, on the emulator's origin). */
async function poolForm (page: Page, email: string, password: string): Promise<void> {
  await page.waitForURL(`${env.stack.cognitoEndpoint}/oauth2/authorize**`)
  await page.getByLabel('Username:').fill(email)
  await page.getByLabel('Password:').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

t.test('the hosted button leads through the pool\'s form back to a signed-in page, with the same session and roles', async (t) => {
  for (const [role, adminStatus, roleInWords] of [['ADMIN', 200, 'Administrator'], ['LINE_LEADER', 403, 'Line leader']] as const) {
    const email = await env.user([role])
    const context = await env.newContext()
    const page = await open(context)
    await page.getByRole('link', { name: 'Sign in with Cognito' }).click()
    await page.waitForURL(`${env.stack.cognitoEndpoint}/oauth2/authorize**`)
    const authorize = new URL(page.url())
    t.equal(authorize.searchParams.get('code_challenge_method'), 'S256')
    t.equal(authorize.searchParams.get('redirect_uri'), `${env.url}/auth/callback`)
    const transaction = (await context.cookies(env.url)).find((c) => c.name === '__Host-ims-login')
    t.equal(transaction?.sameSite, 'Lax')
    t.equal(transaction?.httpOnly, true)
    if (role === 'ADMIN') await screenshot(page, 'hosted-pool-form')

    await page.getByLabel('Username:').fill(email)
    await page.getByLabel('Password:').fill('Wrong-Passw0rd!')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByText('Incorrect username or password.').waitFor()
    await poolForm(page, email, TEST_PASSWORD)

    await page.waitForURL(`${env.url}/#/account`)
    await page.getByRole('heading', { name: 'You are signed in' }).waitFor()
    t.equal((await page.locator('[data-user-email]').textContent())?.trim(), email)
    t.equal((await page.locator('[data-user-role]').textContent())?.trim(), roleInWords)
    if (role === 'ADMIN') await screenshot(page, 'hosted-signed-in')
    t.equal(await page.evaluate('document.cookie'), '', 'document.cookie holds nothing')
    const cookies = await context.cookies(env.url)
    t.notOk(cookies.some((c) => c.name === '__Host-ims-login'), 'the transaction cookie is gone')
    t.equal(cookies.find((c) => c.name === '__Host-ims-session')?.httpOnly, true)
    t.equal(await page.evaluate('fetch("/admin/users?limit=1").then((r) => r.status)'), adminStatus, `${role} on an ADMIN route`)
    await context.close()
  }
})

t.test('a deep link through /auth/login?returnTo lands on that path; replaying the callback URL is refused', async (t) => {
  const email = await env.user(['MANAGER'])
  const context = await env.newContext()
  const page = await context.newPage()
  let callbackUrl = ''
  page.on('request', (request) => { if (request.url().startsWith(`${env.url}/auth/callback`)) callbackUrl = request.url() })
  await page.goto(`${env.url}/auth/login?returnTo=${encodeURIComponent('/?from=hosted#/account')}`)
  await poolForm(page, email, TEST_PASSWORD)
  await page.waitForURL(`${env.url}/?from=hosted#/account`)
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor()
  t.match(callbackUrl, /[?&]code=/)
  const blocked: string[] = []
  page.on('console', (message) => { if (/Content Security Policy|Refused to/i.test(message.text())) blocked.push(message.text()) })
  const replay = await page.goto(callbackUrl)
  t.equal(replay?.status(), 400, 'the same callback a second time')
  await page.getByRole('heading', { name: 'Sign-in link expired' }).waitFor()
  t.ok(await page.getByText('This sign-in link has expired or was already used.').isVisible(), 'a page for a person, not JSON')
  await screenshot(page, 'hosted-callback-refused')
  t.same(blocked, [], 'nothing on the page breaks the CSP')
  await page.getByRole('link', { name: 'Sign in again' }).click()
  await page.waitForURL(`${env.stack.cognitoEndpoint}/oauth2/authorize**`)
  t.pass('"Sign in again" starts a new hosted login')
  await context.close()
})

t.test('in a Vietnamese browser, a refused callback reads in Vietnamese and looks like the login pages', async (t) => {
  const context = await env.newContext({ locale: 'vi-VN' })
  const page = await context.newPage()
  const blocked: string[] = []
  page.on('console', (message) => { if (/Content Security Policy|Refused to/i.test(message.text())) blocked.push(message.text()) })
  // No login transaction in this browser: the callback is refused.
  const answer = await page.goto(`${env.url}/auth/callback?code=not-a-code&state=not-a-state`)
  t.equal(answer?.status(), 400)
  await page.getByRole('heading', { name: 'Liên kết đăng nhập đã hết hạn' }).waitFor()
  t.equal(await page.evaluate('document.documentElement.lang'), 'vi')
  t.ok(await page.getByText('Liên kết đăng nhập này đã hết hạn hoặc đã được dùng.').isVisible())
  const card = page.locator('section.card')
  t.not(await card.evaluate((element) => getComputedStyle(element).borderTopLeftRadius), '0px', 'the pages\' stylesheet shapes the card')
  t.ok(await page.locator('header.topbar').isVisible(), 'with the pages\' header')
  const box = await card.boundingBox()
  t.ok(box !== null && box.width <= 420, 'as narrow as the sign-in card')
  await screenshot(page, 'hosted-callback-refused-vi')
  t.same(blocked, [], 'nothing on the page breaks the CSP')
  await page.getByRole('link', { name: 'Đăng nhập lại' }).click()
  await page.waitForURL(`${env.stack.cognitoEndpoint}/oauth2/authorize**`)
  t.pass('"Đăng nhập lại" starts a new hosted login')
  await context.close()
})

t.test('a protocol-relative returnTo does not leave the adapter', async (t) => {
  const email = await env.user(['MANAGER'])
  const context = await env.newContext()
  const page = await context.newPage()
  await page.goto(`${env.url}/auth/login?returnTo=${encodeURIComponent('//example.com/steal')}`)
  await poolForm(page, email, TEST_PASSWORD)
  await page.waitForURL(`${env.url}/#/account`)
  t.equal(new URL(page.url()).origin, env.url)
  await context.close()
})

/** A new MANAGER signed in through the pool's login form, in a browser context of their own, on the signed-in page. */
async function signedInThroughPool (): Promise<{ context: BrowserContext, page: Page }> {
  const email = await env.user(['MANAGER'])
  const context = await env.newContext()
  const page = await open(context)
  await page.getByRole('link', { name: 'Sign in with Cognito' }).click()
  await poolForm(page, email, TEST_PASSWORD)
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor()
  return { context, page }
}

t.test('GET /auth/logout ends the session and shows the sign-in page (cognito-local has no /logout)', async (t) => {
  const { context, page } = await signedInThroughPool()
  await page.goto(`${env.url}/auth/logout`)
  await page.waitForSelector('body[data-ready]')
  t.ok(await page.getByRole('heading', { name: 'Sign in' }).isVisible())
  t.notOk((await context.cookies(env.url)).some((c) => c.name === '__Host-ims-session'))
  t.equal(await page.evaluate('fetch("/auth/me").then((r) => r.status)'), 401)
  await context.close()
})

t.test('"Sign out" and "Sign out everywhere" after a hosted login also go through /auth/logout, so the pool\'s session ends too', async (t) => {
  for (const [button, notice] of [['Sign out', 'You are signed out.'], ['Sign out everywhere', 'You are signed out on every device.']] as const) {
    const { context, page } = await signedInThroughPool()
    const signOutRequests: string[] = []
    page.on('request', (request) => {
      const { pathname } = new URL(request.url())
      if (pathname === '/auth/sign-out' || pathname === '/auth/logout') signOutRequests.push(`${request.method()} ${pathname}${request.isNavigationRequest() ? ' (navigation)' : ''}`)
    })
    await page.getByRole('button', { name: button, exact: true }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    t.same(signOutRequests, ['POST /auth/sign-out', 'GET /auth/logout (navigation)'], `${button}: the POST first, then the browser goes to /auth/logout`)
    t.equal(page.url(), `${env.url}/#/sign-in`, `${button}: back on the login page`)
    t.equal((await page.locator('[data-view="sign-in"] [data-notice]').textContent())?.trim(), notice, `${button}: the notice survives the round trip`)
    t.notOk((await context.cookies(env.url)).some((c) => c.name === '__Host-ims-session'), `${button}: no session cookie`)
    t.equal(await page.evaluate('fetch("/auth/me").then((r) => r.status)'), 401, `${button}: no session`)
    await context.close()
  }
})

t.test('"Sign out everywhere" after a hosted login whose session had already ended still goes through /auth/logout, so the pool\'s session ends too', async (t) => {
  const { context, page } = await signedInThroughPool()
  t.teardown(async () => { await context.close() })
  // The session ends without the page seeing it (as an idle timeout does).
  t.equal(await page.evaluate('fetch("/auth/sign-out", { method: "POST", headers: { "x-csrf": "1", "content-type": "application/json" }, body: "{}" }).then((r) => r.status)'), 204)
  const requests: string[] = []
  page.on('request', (request) => {
    const { pathname } = new URL(request.url())
    if (pathname === '/auth/logout') requests.push(`${request.method()} ${pathname}${request.isNavigationRequest() ? ' (navigation)' : ''}`)
  })
  await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).click()
  await page.getByText('Your session has ended. Sign in again.').waitFor()
  t.same(requests, ['GET /auth/logout (navigation)'], 'the browser went to /auth/logout, which ends the pool\'s session (else the next hosted login is this user\'s at once)')
  t.ok(await page.getByRole('heading', { name: 'Sign in' }).isVisible())
})

t.test('a reset left half-way, then another user signing in through the pool on the same tab: the reset step no longer names the first account', async (t) => {
  const first = await env.user(['LINE_LEADER'])
  const context = await env.newContext()
  t.teardown(async () => { await context.close() })
  const page = await open(context, '/#/forgot')
  await page.locator('[data-view="forgot"]').getByLabel('Email').fill(first)
  await page.getByRole('button', { name: 'Send the code' }).click()
  await page.getByRole('heading', { name: 'Enter the code' }).waitFor()
  // The first user walks away; the next one signs in through the pool in this tab.
  await page.evaluate('location.hash = "#/sign-in"')
  await page.getByRole('link', { name: 'Sign in with Cognito' }).click()
  await poolForm(page, await env.user(['MANAGER']), TEST_PASSWORD)
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor()
  // Back, or the address bar, to the reset step.
  await page.evaluate('location.hash = "#/reset"')
  await page.waitForFunction('!document.querySelector(\'[data-view="reset"]\').hidden || !document.querySelector(\'[data-view="forgot"]\').hidden')
  t.notMatch(await page.locator('main').innerText(), first, 'the first account\'s email is shown nowhere')
})
