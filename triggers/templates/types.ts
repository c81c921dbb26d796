// The shapes shared by the email templates: what a template is given and the message it describes.
import type { Locale } from '../config.js'

/** The emails IMS sends; one per Custom Email Sender source (suffix of its triggerSource). */
export const EMAIL_KINDS = [
  'SignUp',
  'ResendCode',
  'ForgotPassword',
  'UpdateUserAttribute',
  'VerifyUserAttribute',
  'AdminCreateUser',
  'Authentication',
  'AccountTakeOverNotification'
] as const
export type EmailKind = (typeof EMAIL_KINDS)[number]

/** What Cognito tells about a risky sign-in (Custom Email Sender account takeover notification). */
export interface TakeoverDetails {
  loginTime?: string
  ipAddress?: string
  city?: string
  country?: string
  deviceName?: string
  action?: string
  /** "This was me" link (used only when it is an https URL). */
  linkValid?: string
  /** "This wasn't me" link (used only when it is an https URL). */
  linkInvalid?: string
}

/** The values a template fills in; all plain text (templates escape them for HTML). */
export interface EmailParams {
  /** The code, or the temporary password for AdminCreateUser; a placeholder such as `{####}` for Custom Message. */
  code?: string
  /** The sign-in name (AdminCreateUser); a placeholder such as `{username}` for Custom Message. */
  username?: string
  /** The user's `given_name` as set (anyone can set it); the greeting uses it only if `greetingName` accepts it. */
  givenName?: string
  takeover?: TakeoverDetails
}

/** A message before layout: plain strings only. */
export interface MessageContent {
  subject: string
  /** Short preview text shown by mail clients; never contains the code. */
  preheader: string
  heading: string
  greeting: string
  paragraphs: string[]
  fields?: Array<[label: string, value: string]>
  code?: { label: string, value: string }
  actions?: Array<{ label: string, href: string }>
  note: string
}

/** The copy of one locale: a function per email kind plus the footer lines. */
export interface LocaleCopy {
  locale: Locale
  messages: Record<EmailKind, (params: EmailParams) => MessageContent>
  footer: string[]
}

/** A rendered email. */
export interface RenderedEmail {
  locale: Locale
  subject: string
  html: string
  text: string
}
