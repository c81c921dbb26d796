// Cognito Custom Message trigger: the IMS templates for pools where Cognito sends the email itself (placeholders kept).
import { loadCommonConfig, processEnv, type CommonTriggerConfig, type Locale } from './config.js'
import { jsonLogger, type TriggerLogger } from './lib/log.js'
import { defineHandler } from './lib/runtime.js'
import { pickLocale, renderEmail, type EmailKind } from './templates/index.js'
import type { CognitoTriggerEvent } from './lib/event.js'
import { ownEntry } from '../src/own-entry.js'

/** The Custom Message event, as Cognito sends it. */
export interface CustomMessageEvent extends CognitoTriggerEvent {
  request: {
    userAttributes: Record<string, string>
    /** The placeholder Cognito replaces with the code, normally `{####}`. */
    codeParameter: string
    /** The placeholder Cognito replaces with the username (AdminCreateUser), normally `{username}`. */
    usernameParameter?: string | null
    linkParameter?: string | null
    clientMetadata?: Record<string, string>
  }
  response: { smsMessage?: string | null, emailMessage?: string | null, emailSubject?: string | null }
}

/** What the trigger needs. */
export interface CustomMessageDeps {
  log: TriggerLogger
  defaultLocale: Locale
}

/** Cognito's limits on what this trigger returns. */
export const COGNITO_LIMITS = { emailMessage: 20_000, emailSubject: 140, smsMessage: 140 } as const

const SOURCES: Record<string, EmailKind> = {
  CustomMessage_SignUp: 'SignUp',
  CustomMessage_AdminCreateUser: 'AdminCreateUser',
  CustomMessage_ResendCode: 'ResendCode',
  CustomMessage_ForgotPassword: 'ForgotPassword',
  CustomMessage_UpdateUserAttribute: 'UpdateUserAttribute',
  CustomMessage_VerifyUserAttribute: 'VerifyUserAttribute',
  CustomMessage_Authentication: 'Authentication'
}

/** Maps `CustomMessage_<Kind>` to its email; throws for any other source. */
export function messageKindForSource (triggerSource: string): EmailKind {
  const kind = ownEntry(SOURCES, triggerSource)
  if (kind === undefined) throw new Error(`The Custom Message trigger does not handle triggerSource "${triggerSource.slice(0, 80)}".`)
  return kind
}

/** Shortens a subject to Cognito's 140 characters (ending with an ellipsis when cut). */
export function fitSubject (subject: string): string {
  const chars = Array.from(subject)
  return chars.length <= COGNITO_LIMITS.emailSubject ? subject : chars.slice(0, COGNITO_LIMITS.emailSubject - 1).join('') + '…'
}

function smsText (kind: EmailKind, locale: Locale, code: string, username: string): string {
  if (kind === 'AdminCreateUser') {
    return locale === 'vi'
      ? `IMS: tên đăng nhập ${username}, mật khẩu tạm thời ${code}`
      : `IMS: username ${username}, temporary password ${code}`
  }
  return locale === 'vi' ? `IMS: mã của bạn là ${code}` : `IMS: your code is ${code}`
}

/** Fills `response` with the IMS subject, HTML message and SMS text, keeping Cognito's placeholders. */
export async function handle (event: CustomMessageEvent, deps: CustomMessageDeps): Promise<CustomMessageEvent> {
  const kind = messageKindForSource(event.triggerSource)
  const attributes = event.request.userAttributes ?? {}
  const code = event.request.codeParameter
  if (typeof code !== 'string' || code === '') throw new Error('The Custom Message event carries no codeParameter.')
  const username = event.request.usernameParameter ?? event.userName
  const locale = pickLocale(attributes.locale, deps.defaultLocale)
  // No length check is needed: besides Cognito's placeholders (and a username of at most 128 characters), the only
  // value in the message is the greeting's given name, which renderEmail caps at MAX_GREETING_NAME characters; the
  // longest message is about 2,400 characters, far below COGNITO_LIMITS.emailMessage (the tests check the worst case).
  const email = renderEmail(kind, locale, { code, username, givenName: attributes.given_name })
  if (!email.html.includes(code) || (kind === 'AdminCreateUser' && typeof event.request.usernameParameter === 'string' && !email.html.includes(event.request.usernameParameter))) {
    throw new Error(`The ${kind} message lost a Cognito placeholder.`)
  }
  event.response = {
    ...event.response,
    emailSubject: fitSubject(email.subject),
    emailMessage: email.html,
    smsMessage: smsText(kind, locale, code, username)
  }
  deps.log.info('custom message rendered', { triggerSource: event.triggerSource, userPoolId: event.userPoolId, locale })
  return event
}

/** Builds the deps from configuration. */
export function createCustomMessageDeps (config: CommonTriggerConfig, log: TriggerLogger = jsonLogger()): CustomMessageDeps {
  return { log, defaultLocale: config.defaultLocale }
}

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = defineHandler(handle, () => createCustomMessageDeps(loadCommonConfig(processEnv())))
