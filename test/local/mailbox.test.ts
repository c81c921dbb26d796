// The local SES mailbox: in-process aws-ses-v2-local on a free loopback port, read back through /store.
import { createServer } from 'node:net'
import t from 'tap'
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2'
import { codeFromEmail, readMailbox, startMailbox, waitForEmail } from '../../src/local/mailbox.js'
import { renderEmail } from '../../triggers/templates/index.js'

const mailbox = await startMailbox({ port: 0 })
t.teardown(mailbox.close)
const ses = new SESv2Client({ endpoint: mailbox.url, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 })
t.teardown(() => { ses.destroy() })

async function send (to: string, subject: string, text: string, html = `<p>${text}</p>`): Promise<void> {
  await ses.send(new SendEmailCommand({
    FromEmailAddress: 'IMS <no-reply@ims.test>',
    Destination: { ToAddresses: [to] },
    Content: { Simple: { Subject: { Data: subject }, Body: { Text: { Data: text }, Html: { Data: html } } } }
  }))
}

t.test('listens on 127.0.0.1 and serves the web UI at /', async (t) => {
  t.match(mailbox.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const res = await fetch(`${mailbox.url}/`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /text\/html/)
})

t.test('readMailbox returns what SES v2 sent, typed', async (t) => {
  await send('reader@example.com', 'Hello', 'Body text')
  const emails = (await readMailbox(mailbox.url)).filter((e) => e.destination.to.includes('reader@example.com'))
  t.equal(emails.length, 1)
  t.match(emails[0], { from: 'IMS <no-reply@ims.test>', subject: 'Hello', body: { text: 'Body text', html: '<p>Body text</p>' } })
  t.type(emails[0]?.at, 'number')
  t.same(await readMailbox(mailbox.url, { since: Date.now() / 1000 + 3600 }), [], 'since filters by time')
})

t.test('waitForEmail polls until the email arrives, and gives up after its timeout', async (t) => {
  setTimeout(() => { void send('later@example.com', 'Later', 'x') }, 150)
  const email = await waitForEmail(mailbox.url, 'LATER@example.com', { timeoutMs: 3000 })
  t.equal(email.subject, 'Later')
  const started = Date.now()
  await t.rejects(waitForEmail(mailbox.url, 'nobody@example.com', { timeoutMs: 200 }), /within 200 ms/)
  t.ok(Date.now() - started < 2000, 'the wait is bounded')
})

t.test('codeFromEmail reads the code of an IMS email in either language', async (t) => {
  for (const locale of ['en', 'vi'] as const) {
    const rendered = renderEmail('ForgotPassword', locale, { code: '246810' })
    await send(`code-${locale}@example.com`, rendered.subject, rendered.text, rendered.html)
    t.equal(codeFromEmail(await waitForEmail(mailbox.url, `code-${locale}@example.com`)), '246810', locale)
  }
  await send('nocode@example.com', 'Plain', 'no code here')
  t.equal(codeFromEmail(await waitForEmail(mailbox.url, 'nocode@example.com')), undefined)
})

t.test('after close the port no longer answers', async (t) => {
  const other = await startMailbox({ port: 0 })
  await other.close()
  await t.rejects(fetch(`${other.url}/store`, { signal: AbortSignal.timeout(2000) }))
})

t.test('a port another program holds stops the start with a sentence naming SES_LOCAL_PORT', async (t) => {
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const address = holder.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  await t.rejects(startMailbox({ port }), { message: new RegExp(`^SES_LOCAL_PORT ${port} is in use`) })
})
