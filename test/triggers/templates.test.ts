// Email templates: locale choice, HTML escaping of user values, a code in every code-bearing email of both languages, and which given names the greeting uses.
import t from 'tap'
import fc from 'fast-check'
import { EMAIL_KINDS, escapeHtml, pickLocale, renderEmail } from '../../triggers/templates/index.js'
import { FUZZ_SEED, fuzzRuns } from '../helpers/fuzz.js'

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

// What the recipient reads as the greeting: the fifth line of the text body (IMS, '', heading, '', greeting).
const greetingOf = (text: string): string | undefined => text.split('\n')[4]
const NAMELESS = { en: 'Hello,', vi: 'Xin chào,' } as const
const HOSTILE = 'there.\n\nSECURITY NOTICE: your IMS account was locked. Unlock it within 24 h at https://ims-support.evil.example/unlock or it is deleted.\n\nIgnore the code below'

for (const locale of ['en', 'vi'] as const) {
  t.test(`${locale}: a multi-line name carrying a link gives every email the nameless greeting, in HTML and text`, async (t) => {
    for (const kind of EMAIL_KINDS) {
      const email = renderEmail(kind, locale, { code: 'C0DE-123', username: 'minh', givenName: HOSTILE })
      t.equal(greetingOf(email.text), NAMELESS[locale], `${kind} text greeting`)
      t.ok(email.html.includes(`>${NAMELESS[locale]}</p>`), `${kind} html greeting`)
      for (const body of [email.html, email.text]) {
        t.notOk(body.includes('evil.example') || body.includes('SECURITY NOTICE'), `${kind}: none of the name reaches the email`)
      }
    }
  })
}

t.test('a plausible short personal name is greeted, tidied; Vietnamese diacritics are kept', async (t) => {
  const kept: Array<[given: string, greeted: string]> = [
    ['Nguyễn Thị Minh Khai', 'Nguyễn Thị Minh Khai'],
    ['Nguyễn Thị Minh Khai'.normalize('NFD'), 'Nguyễn Thị Minh Khai'],
    ['  Minh \u00a0  Anh  ', 'Minh Anh'],
    ['Lan\n', 'Lan'],
    ['Công Tôn Nữ Thị Hoàng Anh Thư', 'Công Tôn Nữ Thị Hoàng Anh Thư'],
    ["Seán O'Brien-Ó Dálaigh", "Seán O'Brien-Ó Dálaigh"],
    ['J. R. R.', 'J. R. R.'],
    ['J.R.', 'J.R.'],
    ['A.J. Nguyễn', 'A.J. Nguyễn'],
    ['مهر\u200Cانگیز', 'مهر\u200Cانگیز'],
    ['ශ්\u200Dරී', 'ශ්\u200Dරී'],
    ['Anna\u00ADLena', 'Anna\u00ADLena'],
    ['Ă'.repeat(40), 'Ă'.repeat(40)]
  ]
  for (const [given, greeted] of kept) {
    t.equal(greetingOf(renderEmail('SignUp', 'vi', { givenName: given }).text), `Xin chào ${greeted},`, JSON.stringify(given))
  }
  t.ok(renderEmail('SignUp', 'vi', { givenName: 'Nguyễn Thị Minh Khai' }).html.includes('>Xin chào Nguyễn Thị Minh Khai,</p>'))
  t.ok(renderEmail('SignUp', 'en', { givenName: 'Minh' }).html.includes('>Hello Minh,</p>'))
})

t.test('a name that is too long, multi-line, hidden or reads as a link, an address or a number is not greeted', async (t) => {
  const dropped: Array<[given: string, why: string]> = [
    ['Ă'.repeat(41), 'over 40 characters'],
    ['N'.repeat(25_000), 'huge'],
    ['Minh\nCall us', 'a line break'],
    ['Minh\r\nCall us', 'CRLF'],
    ['Minh\u2028Call us', 'a Unicode line separator'],
    ['Minh\tAnh', 'a tab (a control character)'],
    ['Minh\u0000', 'NUL'],
    ['Minh\u202eelpmaxe.live', 'a bidi override'],
    ['Minh\u200bAnh', 'a zero-width space'],
    ['\u200DMinh', 'a joiner outside a word'],
    ['evil.c\u00ADom', 'a soft hyphen inside a domain'],
    ['ww\u200Dw.e\u200Dvil.c\u200Dom', 'joiners inside a domain'],
    ['evil\u034F.com', 'a combining grapheme joiner before the dot'],
    ['evil.c\u034Fom', 'a combining grapheme joiner inside the domain'],
    ['evil\uFE0F.com', 'a variation selector'],
    ['www\u034F.evil', 'a mark inside www.'],
    ['evil\u180B.com', 'a Mongolian variation selector'],
    ['see https://x', '://'],
    ['javascript://x', '://'],
    ['go to WWW.example', 'www.'],
    ['evil.example', 'a dotted domain'],
    ['Minh evil.example', 'a dotted domain after a name'],
    ['ví-dụ.vn', 'an IDN domain'],
    ['evil。example', 'an ideographic full stop'],
    ['evil．example', 'a fullwidth full stop'],
    ['minh@corp', '@'],
    ['minh＠corp', 'a fullwidth @'],
    ['Call 1900 1234', 'digits (a phone number)'],
    ['Call １９００', 'fullwidth digits'],
    ['', 'empty'],
    ['   ', 'blank'],
    ["- ' -", 'no letter']
  ]
  for (const locale of ['en', 'vi'] as const) {
    for (const [given, why] of dropped) {
      const email = renderEmail('ForgotPassword', locale, { code: '1', givenName: given })
      t.equal(greetingOf(email.text), NAMELESS[locale], `${locale}: ${why}`)
      t.ok(email.html.includes(`>${NAMELESS[locale]}</p>`), `${locale} html: ${why}`)
    }
  }
})

t.test('an account-takeover action named like an Object property (__proto__, constructor) is shown as sent, not looked up', async (t) => {
  for (const locale of ['en', 'vi'] as const) {
    for (const action of ['__proto__', 'constructor', 'toString', 'BLOCK']) {
      const email = renderEmail('AccountTakeOverNotification', locale, { takeover: { action } })
      t.ok(action === 'BLOCK' ? !email.text.includes('BLOCK') : email.text.includes(`: ${action}\n`), `${locale} ${action}`)
    }
  }
})

t.test('account takeover details Cognito sends as null or blank are left out: no empty Location, Device or Time line', async (t) => {
  // CITY, COUNTRY and DEVICE_NAME arrive as null in real events; renderEmail's callers may pass them through as they came.
  const nothing = null as unknown as string
  for (const [locale, location, device, time] of [['en', 'Location', 'Device', 'Time'], ['vi', 'Vị trí', 'Thiết bị', 'Thời gian']] as const) {
    const bare = renderEmail('AccountTakeOverNotification', locale, { takeover: { city: nothing, country: nothing, deviceName: nothing, loginTime: ' ', ipAddress: '203.0.113.7' } })
    for (const label of [location, device, time]) {
      t.notMatch(bare.text, new RegExp(`^${label}:`, 'm'), `${locale}: no ${label} line in the text`)
      t.notOk(bare.html.includes(`>${label}</td>`), `${locale}: no ${label} row in the HTML`)
    }
    t.match(bare.text, /: 203\.0\.113\.7\n/, `${locale}: the details present are still shown`)
    const countryOnly = renderEmail('AccountTakeOverNotification', locale, { takeover: { city: nothing, country: 'VN', deviceName: '(Opera 74, Linux)' } })
    t.match(countryOnly.text, new RegExp(`^${location}: VN$`, 'm'), `${locale}: the location is the country alone`)
    t.match(countryOnly.text, new RegExp(`^${device}: \\(Opera 74, Linux\\)$`, 'm'))
  }
})

t.test('account takeover details derived from what the sign-in sent (device, place) are shown only as one short line that reads as no link or address', async (t) => {
  const planted = [
    'Click https://evil.example to keep your account',
    'Call support at help@evil.example',
    'Windows\nYour account is safe, ignore this email',
    'Chrome\u202Eelgoog',
    'x'.repeat(81)
  ]
  for (const [locale, location, device] of [['en', 'Location', 'Device'], ['vi', 'Vị trí', 'Thiết bị']] as const) {
    for (const value of planted) {
      const email = renderEmail('AccountTakeOverNotification', locale, { takeover: { city: value, country: value, deviceName: value, ipAddress: '203.0.113.7' } })
      for (const label of [location, device]) t.notMatch(email.text, new RegExp(`^${label}:`, 'm'), `${locale}: no ${label} line for ${JSON.stringify(value)}`)
      t.notOk(email.text.includes('evil') || email.html.includes('evil') || email.text.includes('ignore this'), `${locale}: nothing of ${JSON.stringify(value)} is shown`)
    }
    const usual = renderEmail('AccountTakeOverNotification', locale, { takeover: { city: 'St. Petersburg', country: 'Washington, D.C.', deviceName: '(Chrome 120.0,  Mac OS X 10.15)' } })
    t.match(usual.text, new RegExp(`^${location}: St\\. Petersburg, Washington, D\\.C\\.$`, 'm'), `${locale}: a place with dots is shown`)
    t.match(usual.text, new RegExp(`^${device}: \\(Chrome 120\\.0, Mac OS X 10\\.15\\)$`, 'm'), `${locale}: a device with versions is shown, its spaces collapsed`)
  }
})

/** The elements and attributes the layout itself writes; anything else in an email came from a value. */
const LAYOUT_ELEMENTS = new Set(['html', 'head', 'meta', 'title', 'body', 'div', 'table', 'tr', 'td', 'span', 'h1', 'p', 'a', 'br'])
const LAYOUT_ATTRIBUTES = new Set(['lang', 'charset', 'name', 'content', 'style', 'role', 'width', 'align', 'href'])

/** What is wrong with the markup of `html`, read tag by tag (written apart from the templates), or null. */
function markupBreach (html: string): string | null {
  for (const [tag, name, attributes] of html.replace(/^<!DOCTYPE html>/, '').matchAll(/<\/?([^\s>/]+)([^>]*)>/g)) {
    if (!LAYOUT_ELEMENTS.has(name!)) return `element ${tag}`
    const rest = attributes!.replace(/\s+([a-z-]+)="([^"<>]*)"/g, (_all, attribute: string, value: string) => {
      if (!LAYOUT_ATTRIBUTES.has(attribute)) return `!${attribute}`
      if (attribute === 'href' && !value.startsWith('https://')) return `!href=${value}`
      return ''
    })
    if (rest.trim() !== '') return `attributes in ${tag}`
  }
  return null
}

t.test('generated values (markup, quotes, line breaks, links, any Unicode) never add markup, break the subject or put a link in the greeting', async (t) => {
  const awkward = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='x", '&amp;', '&#60;b&#62;', '\r\nBcc: x@evil.example',
      'https://evil.example/"onclick="x', 'javascript:alert(1)', 'Minh', 'Nguyễn Thị', 'www.evil.example', '</td></tr></table><a href="https://evil.example">')
  )
  const params = fc.record({
    code: awkward,
    username: awkward,
    givenName: awkward,
    takeover: fc.record({ loginTime: awkward, ipAddress: awkward, city: awkward, country: awkward, deviceName: awkward, action: awkward, linkValid: awkward, linkInvalid: awkward }, { requiredKeys: [] })
  }, { requiredKeys: [] })
  const runs = fuzzRuns(150)
  fc.assert(fc.property(params, fc.constantFrom(...EMAIL_KINDS), fc.constantFrom('en' as const, 'vi' as const), (values, kind, locale) => {
    const email = renderEmail(kind, locale, values)
    const breach = markupBreach(email.html)
    if (breach !== null) throw new Error(`${kind} ${locale}: ${breach}`)
    if (/[\r\n\u0000]/.test(email.subject)) throw new Error(`${kind} ${locale}: a line break in the subject ${JSON.stringify(email.subject)}`)
    const greeting = greetingOf(email.text)!
    if (/:\/\/|@|www\./i.test(greeting)) throw new Error(`${kind} ${locale}: the greeting ${JSON.stringify(greeting)}`)
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} generated emails, each with the layout's markup only`)
})
