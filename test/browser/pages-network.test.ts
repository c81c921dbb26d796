// The login pages in Chromium on a network that stalls: a request that never gets an answer gives the form back.
import t from 'tap'
import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startBrowserStack, type BrowserStack } from '../helpers/browser.js'

let env: BrowserStack

t.before(async () => { env = await startBrowserStack() })
t.teardown(async () => { await env?.stop() })

/**
 * A loopback front for the adapter, as a stalled network looks to a browser: the first `POST /auth/sign-in` is taken
 * and never answered; everything else passes on to `target`.
 */
async function stallingFront (target: string): Promise<{ url: string, close: () => Promise<void> }> {
  let stalled = false
  const server = createServer((request, response) => {
    if (!stalled && request.method === 'POST' && request.url === '/auth/sign-in') {
      stalled = true
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

t.test('a sign-in the network never answers gives the form back with a message, the password kept, and the retry signs in', async (t) => {
  const email = await env.user(['LINE_LEADER'])
  const front = await stallingFront(env.url)
  t.teardown(front.close)
  const context = await env.newContext({ phone: true })
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  await page.goto(`${front.url}/`)
  await page.waitForSelector('body[data-ready]')
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
  await page.getByRole('heading', { name: 'You are signed in' }).waitFor()
})
