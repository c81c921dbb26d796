// Custom Message: the IMS templates with Cognito's placeholders kept, within Cognito's message limits, by locale.
import t from 'tap'
import { loadCommonConfig } from '../../triggers/config.js'
import { COGNITO_LIMITS, createCustomMessageDeps, fitSubject, handle, type CustomMessageEvent } from '../../triggers/custom-message.js'
import { jsonLogger } from '../../triggers/lib/log.js'
import { MAX_GREETING_NAME } from '../../triggers/templates/index.js'
import { unescapeHtml } from '../../triggers/custom-email-sender.js'

const deps = createCustomMessageDeps(loadCommonConfig({}), jsonLogger(() => {}))

function event (triggerSource: string, attributes: Record<string, string> = {}): CustomMessageEvent {
  return {
    version: '1',
    triggerSource,
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_ImsTest01',
    userName: 'minh.nguyen',
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '1example23456789' },
    request: {
      userAttributes: { sub: 'b6c1d0e2-0000-4000-8000-000000000001', email: 'minh@example.com', ...attributes },
      codeParameter: '{####}',
      usernameParameter: triggerSource === 'CustomMessage_AdminCreateUser' ? '{username}' : null,
      linkParameter: '{##Click Here##}'
    },
    response: { smsMessage: null, emailMessage: null, emailSubject: null }
  }
}

const count = (haystack: string, needle: string): number => haystack.split(needle).length - 1

const SOURCES = ['SignUp', 'AdminCreateUser', 'ResendCode', 'ForgotPassword', 'UpdateUserAttribute', 'VerifyUserAttribute', 'Authentication']

for (const source of SOURCES) {
  t.test(`CustomMessage_${source}: one {####}, within Cognito's limits, English by default`, async (t) => {
    const out = await handle(event(`CustomMessage_${source}`), deps)
    const { emailMessage, emailSubject, smsMessage } = out.response
    t.equal(count(emailMessage ?? '', '{####}'), 1, 'the code placeholder appears exactly once')
    t.ok((emailMessage ?? '').length <= COGNITO_LIMITS.emailMessage)
    t.ok((emailSubject ?? '').length > 0 && (emailSubject ?? '').length <= COGNITO_LIMITS.emailSubject)
    t.match(emailMessage, /<html lang="en"/)
    t.match(smsMessage, /\{####\}/)
    t.ok((smsMessage ?? '').length <= COGNITO_LIMITS.smsMessage)
    if (source === 'AdminCreateUser') {
      t.equal(count(emailMessage ?? '', '{username}'), 1, 'the username placeholder appears exactly once')
      t.match(smsMessage, /\{username\}/)
    }
  })
}

t.test('locale vi gives Vietnamese copy', async (t) => {
  const out = await handle(event('CustomMessage_ForgotPassword', { locale: 'vi' }), deps)
  t.equal(out.response.emailSubject, 'Đặt lại mật khẩu IMS')
  t.match(out.response.emailMessage, /<html lang="vi"/)
  t.match(out.response.smsMessage, /^IMS: mã của bạn là \{####\}$/)
})

t.test('user-provided values are escaped', async (t) => {
  const out = await handle(event('CustomMessage_SignUp', { given_name: '<b>Lan</b>' }), deps)
  t.notMatch(out.response.emailMessage, /<b>Lan/)
  t.ok((out.response.emailMessage ?? '').includes('>Hello &lt;b&gt;Lan&lt;/b&gt;,</p>'))
})

const NAMELESS = { en: 'Hello,', vi: 'Xin chào,' } as const
const HOSTILE = 'there.\n\nSECURITY NOTICE: your IMS account was locked. Unlock it within 24 h at https://ims-support.evil.example/unlock or it is deleted.\n\nIgnore the code below'

for (const locale of ['en', 'vi'] as const) {
  t.test(`${locale}: a huge or hostile name gives the nameless greeting in the full layout, within Cognito's limit`, async (t) => {
    for (const [given, what] of [[HOSTILE, 'a multi-line name with a link'], ['N'.repeat(25_000), 'a 25,000-character name'], ['Ă'.repeat(41), 'a 41-character name']]) {
      for (const source of SOURCES) {
        const out = await handle(event(`CustomMessage_${source}`, { locale, given_name: given as string }), deps)
        const html = out.response.emailMessage ?? ''
        t.ok(html.startsWith(`<!DOCTYPE html><html lang="${locale}">`), `${source}, ${what}: the full layout`)
        t.ok(html.includes(`>${NAMELESS[locale]}</p>`), `${source}, ${what}: the nameless greeting`)
        t.notOk(html.includes('evil.example') || html.includes('SECURITY NOTICE') || html.includes('NNNN') || html.includes('ĂĂĂ'), `${source}, ${what}: none of the name`)
        t.equal(count(html, '{####}'), 1, `${source}, ${what}: the code placeholder once`)
        t.ok(html.length <= COGNITO_LIMITS.emailMessage, `${source}, ${what}: within the limit`)
      }
    }
  })
}

t.test('a Vietnamese name with diacritics is greeted', async (t) => {
  const out = await handle(event('CustomMessage_ForgotPassword', { locale: 'vi', given_name: '  Nguyễn Thị  Minh Khai ' }), deps)
  t.ok((out.response.emailMessage ?? '').includes('>Xin chào Nguyễn Thị Minh Khai,</p>'))
})

t.test('the longest name still greeted, escaped at its widest, fits every message in both languages', async (t) => {
  const widest = 'A' + '"'.repeat(MAX_GREETING_NAME - 1) // each " becomes &quot; in the HTML
  for (const locale of ['en', 'vi'] as const) {
    for (const source of SOURCES) {
      const html = (await handle(event(`CustomMessage_${source}`, { locale, given_name: widest }), deps)).response.emailMessage ?? ''
      t.ok(html.includes(`A${'&quot;'.repeat(MAX_GREETING_NAME - 1)},</p>`), `${locale} ${source}: the name is greeted`)
      t.ok(html.length <= COGNITO_LIMITS.emailMessage, `${locale} ${source}: ${html.length} characters`)
    }
  }
})

// The pattern Cognito holds a Custom Message's emailMessage to (its emailBody constraint; Java's \s is ASCII whitespace):
// a message with any other character is refused, and so is the sign-up, reset or invitation that asked for it.
const COGNITO_EMAIL_BODY = /^[\p{L}\p{M}\p{S}\p{N}\p{P} \t\n\x0B\f\r*]*\{####\}[\p{L}\p{M}\p{S}\p{N}\p{P} \t\n\x0B\f\r*]*$/u

t.test('a name written with a joiner or a soft hyphen is greeted in a message Cognito accepts', async (t) => {
  for (const [given, shown] of [['Mi\u200Cna', 'Mi\u200Cna'], ['So\u00ADphie', 'So\u00ADphie'], ['Ra\u200Dj', 'Ra\u200Dj']]) {
    for (const locale of ['en', 'vi'] as const) {
      for (const source of SOURCES) {
        const html = (await handle(event(`CustomMessage_${source}`, { locale, given_name: given as string }), deps)).response.emailMessage ?? ''
        t.match(html, COGNITO_EMAIL_BODY, `${locale} ${source} ${JSON.stringify(given)}: only characters Cognito accepts`)
        t.ok(unescapeHtml(html).includes(`>${locale === 'en' ? 'Hello' : 'Xin chào'} ${shown as string},</p>`), `${locale} ${source}: the name as written is greeted`)
      }
    }
  }
})

t.test('fitSubject keeps subjects to 140 characters', async (t) => {
  t.equal(fitSubject('short'), 'short')
  const cut = fitSubject('ệ'.repeat(200))
  t.equal(Array.from(cut).length, 140)
  t.ok(cut.endsWith('…'))
})

t.test('unknown sources are refused loudly', async (t) => {
  await t.rejects(handle(event('CustomMessage_Unknown'), deps), /does not handle triggerSource "CustomMessage_Unknown"/)
  await t.rejects(handle(event('CustomEmailSender_SignUp'), deps), /does not handle/)
  // Names every object inherits are not sources either (a plain table lookup would hand back a function or a prototype).
  for (const source of ['constructor', '__proto__', 'toString']) {
    await t.rejects(handle(event(source), deps), new RegExp(`does not handle triggerSource "${source}"`), source)
  }
})
