// Renders the IMS emails (HTML + text) in the user's language; every user-provided value is escaped for HTML.
import type { Locale } from '../config.js'
import { en } from './en.js'
import { vi } from './vi.js'
import type { EmailKind, EmailParams, LocaleCopy, MessageContent, RenderedEmail } from './types.js'
import { HIDDEN_OR_BREAK, plainForm, readsAsLinkOrAddress } from './shown-text.js'

export { EMAIL_KINDS } from './types.js'
export { present } from './takeover.js'
export type { EmailKind, EmailParams, RenderedEmail, TakeoverDetails } from './types.js'

const COPY: Record<Locale, LocaleCopy> = { en, vi }

const BRAND = { name: 'IMS', primary: '#0b3d91', accent: '#f39200', ink: '#1f2933', muted: '#616e7c', paper: '#f4f6f8' }

/**
 * Characters Cognito refuses in a Custom Message's emailMessage (its pattern allows letters, marks, symbols, numbers,
 * punctuation and ASCII whitespace only): the format characters a name may keep (joiners, soft hyphens), any other.
 */
const OUTSIDE_COGNITO_MESSAGE = /[^\p{L}\p{M}\p{S}\p{N}\p{P} \t\n\x0B\f\r]/gu

/**
 * Escapes `&`, `<`, `>`, `"` and `'` so a value can sit in HTML text or a quoted attribute, and writes any character
 * Cognito would refuse in a Custom Message as a numeric reference (`&#x200C;`), which mail clients show as the character.
 */
export function escapeHtml (value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(OUTSIDE_COGNITO_MESSAGE, (c) => `&#x${(c.codePointAt(0) as number).toString(16).toUpperCase()};`)
}

/**
 * Picks the template language from a Cognito `locale` attribute (`vi`, `vi-VN`, `vi_VN` → vi; `en*` → en);
 * anything else, or no attribute, gives `fallback`.
 */
export function pickLocale (attribute: string | undefined, fallback: Locale = 'en'): Locale {
  const tag = (attribute ?? '').trim().toLowerCase()
  if (/^vi(?:[-_]|$)/.test(tag)) return 'vi'
  if (/^en(?:[-_]|$)/.test(tag)) return 'en'
  return fallback
}

/**
 * The longest given name a greeting takes, in characters (code points, NFC). 40 keeps long Vietnamese full names,
 * which people often enter as their given name ("Công Tôn Nữ Thị Hoàng Anh Thư" is 29), with room to spare, while
 * Cognito accepts 2,048: anything longer is more likely a sentence than a name, and the greeting stays one short line.
 */
export const MAX_GREETING_NAME = 40

/** The format characters a name may hold inside a word: joiners (Persian, Sinhala and others write with them), soft hyphens. */
const WORD_FORMATTING = /(?<=[\p{L}\p{M}])[\u200C\u200D\u00AD](?=\p{L})/gu

/**
 * The given name as a greeting shows it, or undefined for the nameless greeting. Anyone can set `given_name` (SignUp
 * with someone else's address, UpdateUserAttributes), so only a plausible short personal name is kept: whitespace
 * trimmed and collapsed; no control or invisible characters, no line breaks; at most {@link MAX_GREETING_NAME}
 * characters; at least one letter; nothing that reads as a link or an address (`://`, `www.`, `@`, a dotted domain,
 * digits such as a phone number). Fullwidth look-alikes (`＠`, `．`, `１`) count as what they look like.
 */
export function greetingName (givenName: string | undefined): string | undefined {
  const name = (givenName ?? '').normalize('NFC').trim()
  if (HIDDEN_OR_BREAK.test(name.replace(WORD_FORMATTING, ''))) return undefined
  const tidy = name.replace(/\s+/gu, ' ')
  // Judged in its plain form; the name shown keeps its joiners and marks.
  if (Array.from(tidy).length > MAX_GREETING_NAME || !/\p{L}/u.test(tidy) || /\p{N}/u.test(plainForm(tidy)) || readsAsLinkOrAddress(tidy)) return undefined
  return tidy
}

/** True for an absolute https URL, the only kind of link put into an email. */
function isHttpsUrl (value: string): boolean {
  try {
    return new URL(value).protocol === 'https:'
  } catch {
    return false
  }
}

function htmlBody (m: MessageContent, copy: LocaleCopy): string {
  const p = (text: string, style = ''): string => `<p style="margin:0 0 16px;${style}">${escapeHtml(text)}</p>`
  const fields = (m.fields ?? []).map(([label, value]) =>
    `<tr><td style="padding:4px 16px 4px 0;color:${BRAND.muted};white-space:nowrap">${escapeHtml(label)}</td>` +
    `<td style="padding:4px 0;font-weight:600">${escapeHtml(value)}</td></tr>`).join('')
  const code = m.code === undefined
    ? ''
    : `<p style="margin:0 0 4px;color:${BRAND.muted};font-size:13px">${escapeHtml(m.code.label)}</p>` +
      `<p style="margin:0 0 20px;padding:14px 18px;background:${BRAND.paper};border-left:4px solid ${BRAND.accent};` +
      `font:600 24px/1.3 Consolas,Menlo,monospace;letter-spacing:2px;color:${BRAND.ink}">${escapeHtml(m.code.value)}</p>`
  const actions = (m.actions ?? []).filter((a) => isHttpsUrl(a.href)).map((a) =>
    `<a href="${escapeHtml(a.href)}" style="display:inline-block;margin:0 8px 12px 0;padding:10px 18px;background:${BRAND.primary};` +
    `color:#ffffff;text-decoration:none;border-radius:4px;font-weight:600">${escapeHtml(a.label)}</a>`).join('')
  const inner =
    `<h1 style="margin:0 0 16px;font-size:20px;color:${BRAND.primary}">${escapeHtml(m.heading)}</h1>` +
    p(m.greeting) + m.paragraphs.map((x) => p(x)).join('') +
    (fields === '' ? '' : `<table role="presentation" style="margin:0 0 16px;border-collapse:collapse">${fields}</table>`) +
    code + (actions === '' ? '' : `<div>${actions}</div>`) + p(m.note, `color:${BRAND.muted};font-size:13px`)
  const lang = copy.locale
  return '<!DOCTYPE html>' +
    `<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(m.subject)}</title></head>` +
    `<body style="margin:0;padding:0;background:${BRAND.paper};font-family:'Segoe UI',Arial,sans-serif;color:${BRAND.ink};font-size:15px;line-height:1.5">` +
    `<div style="display:none;max-height:0;overflow:hidden">${escapeHtml(m.preheader)}</div>` +
    `<table role="presentation" width="100%" style="border-collapse:collapse;background:${BRAND.paper}"><tr><td align="center" style="padding:24px 12px">` +
    '<table role="presentation" width="100%" style="max-width:560px;border-collapse:collapse;background:#ffffff;border-radius:6px;overflow:hidden">' +
    `<tr><td style="padding:18px 28px;background:${BRAND.primary};color:#ffffff;font-size:22px;font-weight:700;letter-spacing:3px">` +
    `${BRAND.name}<span style="display:inline-block;width:8px;height:8px;margin-left:6px;background:${BRAND.accent};border-radius:50%"></span></td></tr>` +
    `<tr><td style="padding:28px">${inner}</td></tr>` +
    `<tr><td style="padding:16px 28px;border-top:1px solid #e4e7eb;color:${BRAND.muted};font-size:12px">${copy.footer.map(escapeHtml).join('<br>')}</td></tr>` +
    '</table></td></tr></table></body></html>'
}

function textBody (m: MessageContent, copy: LocaleCopy): string {
  const lines = [BRAND.name, '', m.heading, '', m.greeting, '', ...m.paragraphs.flatMap((x) => [x, ''])]
  for (const [label, value] of m.fields ?? []) lines.push(`${label}: ${value}`)
  if ((m.fields ?? []).length > 0) lines.push('')
  if (m.code !== undefined) lines.push(`${m.code.label}: ${m.code.value}`, '')
  for (const a of m.actions ?? []) if (isHttpsUrl(a.href)) lines.push(`${a.label}: ${a.href}`)
  if ((m.actions ?? []).some((a) => isHttpsUrl(a.href))) lines.push('')
  lines.push(m.note, '', '--', ...copy.footer)
  return lines.join('\n')
}

/**
 * Renders the email `kind` in `locale` with `params` (plain text values; they are escaped in the HTML). Every email
 * goes through here, so this is where the given name is vetted for the greeting ({@link greetingName}).
 */
export function renderEmail (kind: EmailKind, locale: Locale, params: EmailParams): RenderedEmail {
  const copy = COPY[locale]
  const message = copy.messages[kind]({ ...params, givenName: greetingName(params.givenName) })
  return {
    locale,
    subject: message.subject,
    html: htmlBody(message, copy),
    text: textBody(message, copy)
  }
}
