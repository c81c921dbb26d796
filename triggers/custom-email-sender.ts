// Cognito Custom Email Sender trigger: decrypts the code, renders the IMS email in the user's language, sends it via SES.
import { loadEmailSenderConfig, processEnv, type EmailSenderConfig, type Locale } from './config.js'
import { createCodeDecrypter, type CodeDecrypter } from './lib/decrypt.js'
import { failureFields, jsonLogger, maskEmail, type TriggerLogger } from './lib/log.js'
import { createSesMailer, type Mailer } from './lib/mailer.js'
import { defineHandler } from './lib/runtime.js'
import { EMAIL_KINDS, pickLocale, renderEmail, type EmailKind, type EmailParams, type TakeoverDetails } from './templates/index.js'
import type { CognitoTriggerEvent } from './lib/event.js'

/** The Custom Email Sender event, as Cognito sends it (cognito-local sends `version: "0"`). */
export interface CustomEmailSenderEvent extends CognitoTriggerEvent {
  request: {
    type: string
    /** Base64 AWS Encryption SDK message holding the code or temporary password; null for account takeover. */
    code: string | null
    userAttributes: Record<string, string>
    clientMetadata?: Record<string, string>
  }
  response: Record<string, unknown>
}

/** What the trigger needs; tests pass real alternatives (raw AES keyring, a local SES). */
export interface CustomEmailSenderDeps {
  decryptCode: CodeDecrypter
  sendEmail: Mailer
  log: TriggerLogger
  /** Accept a code whose encryption context has no `userpool-id` (cognito-local); never in production. */
  localMode: boolean
  defaultLocale: Locale
}

/** Thrown for a triggerSource this trigger does not handle. */
export class UnknownTriggerSourceError extends Error {
  override name = 'UnknownTriggerSourceError'
}

/** Thrown when a code is not bound to the event's user pool. */
export class CodeContextError extends Error {
  override name = 'CodeContextError'
}

const PREFIX = 'CustomEmailSender_'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Maps `CustomEmailSender_<Kind>` to its email; throws {@link UnknownTriggerSourceError} for anything else. */
export function emailKindForSource (triggerSource: string): EmailKind {
  const kind = triggerSource.startsWith(PREFIX) ? triggerSource.slice(PREFIX.length) : ''
  if (!(EMAIL_KINDS as readonly string[]).includes(kind)) {
    throw new UnknownTriggerSourceError(`The Custom Email Sender does not handle triggerSource "${triggerSource.slice(0, 80)}".`)
  }
  return kind as EmailKind
}

/**
 * Checks that the code was encrypted for `userPoolId`: the encryption context's `userpool-id` must match;
 * a missing one is accepted only in local mode (cognito-local sets none).
 */
export function checkPoolBinding (encryptionContext: Record<string, string>, userPoolId: string, localMode: boolean): void {
  const bound = encryptionContext['userpool-id']
  if (bound === undefined) {
    if (localMode) return
    throw new CodeContextError('The code carries no userpool-id in its encryption context; refused outside local mode.')
  }
  if (bound !== userPoolId) {
    throw new CodeContextError('The code was encrypted for another user pool than the event names; refused.')
  }
}

/** Undoes the HTML escaping Cognito applies to temporary passwords (`&amp;`, `&lt;`, `&#39;`, `&#x27;`, ...). */
export function unescapeHtml (value: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'' }
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10)
      return Number.isFinite(cp) && cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : entity
    }
    return named[body.toLowerCase()] ?? entity
  })
}

/** The name the user signs in with: the username, or the email when the username is Cognito's generated UUID. */
export function signInName (userName: string, attributes: Record<string, string>): string {
  return UUID.test(userName) && attributes.email !== undefined ? attributes.email : userName
}

/** Reads the risk details Cognito puts in the attributes of an account takeover notification. */
export function takeoverDetails (a: Record<string, string>): TakeoverDetails {
  return {
    loginTime: a.LOGIN_TIME,
    ipAddress: a.IP_ADDRESS,
    city: a.CITY,
    country: a.COUNTRY,
    deviceName: a.DEVICE_NAME,
    action: a.ACCOUNT_TAKE_OVER_ACTION,
    linkValid: a.ONE_CLICK_LINK_VALID,
    linkInvalid: a.ONE_CLICK_LINK_INVALID
  }
}

/** Handles one Custom Email Sender event: decrypt (unless account takeover), check the pool, render, send. */
export async function handle (event: CustomEmailSenderEvent, deps: CustomEmailSenderDeps): Promise<CustomEmailSenderEvent> {
  const kind = emailKindForSource(event.triggerSource)
  const attributes = event.request.userAttributes ?? {}
  const to = attributes.email
  const logged = { triggerSource: event.triggerSource, userPoolId: event.userPoolId, sub: attributes.sub, to: maskEmail(to) }
  try {
    if (to === undefined || to === '') throw new Error('The user has no email attribute to send to.')
    const params: EmailParams = { givenName: attributes.given_name, username: signInName(event.userName, attributes) }
    if (kind === 'AccountTakeOverNotification') {
      params.takeover = takeoverDetails(attributes)
    } else {
      if (typeof event.request.code !== 'string' || event.request.code === '') {
        throw new Error(`The ${kind} event carries no encrypted code.`)
      }
      const { plaintext, encryptionContext } = await deps.decryptCode(event.request.code)
      checkPoolBinding(encryptionContext, event.userPoolId, deps.localMode)
      params.code = kind === 'AdminCreateUser' ? unescapeHtml(plaintext) : plaintext
    }
    const locale = pickLocale(attributes.locale, deps.defaultLocale)
    const email = renderEmail(kind, locale, params)
    const messageId = await deps.sendEmail({ to, subject: email.subject, html: email.html, text: email.text })
    deps.log.info('email sent', { ...logged, locale, messageId })
    return event
  } catch (err) {
    deps.log.error('email not sent', { ...logged, ...failureFields(err) })
    throw err
  }
}

/** Builds the real deps from configuration: the keyring and the SES client are created here, once. */
export function createCustomEmailSenderDeps (config: EmailSenderConfig, log: TriggerLogger = jsonLogger()): CustomEmailSenderDeps {
  return {
    decryptCode: createCodeDecrypter(config.decryption),
    sendEmail: createSesMailer({
      from: config.emailFrom,
      region: config.sesRegion,
      endpoint: config.sesEndpoint,
      configurationSet: config.sesConfigurationSet
    }),
    log,
    localMode: config.localMode,
    defaultLocale: config.defaultLocale
  }
}

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = defineHandler(handle, () => createCustomEmailSenderDeps(loadEmailSenderConfig(processEnv())))
