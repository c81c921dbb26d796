// Email templates: locale choice, HTML escaping of user values, and a code in every code-bearing email of both languages.
import t from 'tap'
import { EMAIL_KINDS, escapeHtml, pickLocale, renderEmail } from '../../triggers/templates/index.js'

t.test('pickLocale reads the Cognito locale attribute', async (t) => {
  t.equal(pickLocale('vi'), 'vi')
  t.equal(pickLocale('vi-VN'), 'vi')
  t.equal(pickLocale('VI_vn'), 'vi')
  t.equal(pickLocale('en-GB', 'vi'), 'en')
  t.equal(pickLocale(undefined), 'en')
  t.equal(pickLocale('video'), 'en', 'a prefix that only looks like vi')
  t.equal(pickLocale('fr', 'vi'), 'vi', 'unknown languages fall back')
})

t.test('escapeHtml escapes the five HTML-significant characters', async (t) => {
  t.equal(escapeHtml('<a href="x">\'&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

for (const locale of ['en', 'vi'] as const) {
  t.test(`${locale}: every email has a subject, both bodies, the IMS look and the code once`, async (t) => {
    for (const kind of EMAIL_KINDS) {
      const email = renderEmail(kind, locale, { code: 'C0DE-123', username: 'minh', givenName: 'Minh' })
      t.ok(email.subject.length > 0 && email.subject.length <= 140, `${kind} subject`)
      t.match(email.html, new RegExp(`^<!DOCTYPE html><html lang="${locale}">`), `${kind} html`)
      t.match(email.text, /^IMS\n/, `${kind} text`)
      const expected = kind === 'AccountTakeOverNotification' ? 0 : 1
      t.equal(email.html.split('C0DE-123').length - 1, expected, `${kind} code in html`)
      t.equal(email.text.split('C0DE-123').length - 1, expected, `${kind} code in text`)
    }
  })
}

t.test('the two languages differ for every email', async (t) => {
  for (const kind of EMAIL_KINDS) {
    t.not(renderEmail(kind, 'en', {}).subject, renderEmail(kind, 'vi', {}).subject, kind)
  }
})
