// The IMS's languages (English, Vietnamese) and which one a request asks for in Accept-Language (negotiator).
import type { IncomingHttpHeaders } from 'node:http'
import Negotiator from 'negotiator'

/** The languages of the login pages (web/src/i18n.ts) and of the emails (triggers/templates); English first. */
export const LANGUAGES = ['en', 'vi'] as const
export type Language = (typeof LANGUAGES)[number]

/**
 * The language a request's Accept-Language ranks first among the IMS's (RFC 9110's rules), or undefined when it sends
 * none or names neither: `*` (any language) asks for none of them in particular.
 */
export function requestedLanguage (headers: IncomingHttpHeaders): Language | undefined {
  const named = (headers['accept-language'] ?? '').split(',').filter((range) => range.split(';')[0]!.trim() !== '*').join(',')
  return new Negotiator({ headers: { 'accept-language': named } }).language([...LANGUAGES]) as Language | undefined
}
