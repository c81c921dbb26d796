// Cognito Custom Email Sender trigger: decrypts the code, renders the IMS email in the user's language, sends it via SES.
import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider'
import { loadEmailSenderConfig, processEnv, type EmailSenderConfig, type Locale } from './config.js'
import { AwsCallError } from './lib/aws.js'
import { cognitoClients } from './lib/cognito.js'
import { createCodeDecrypter, type CodeDecrypter } from './lib/decrypt.js'
import { failureFields, jsonLogger, maskEmail, type LogFields, type TriggerLogger } from './lib/log.js'
import { createSesMailer, type Mailer } from './lib/mailer.js'
import { defineHandler } from './lib/runtime.js'
import { ownEntry } from '../src/own-entry.js'
import { EMAIL_KINDS, pickLocale, present, renderEmail, type EmailKind, type EmailParams, type TakeoverDetails } from './templates/index.js'
import type { CognitoTriggerEvent } from './lib/event.js'

/** The Custom Email Sender event, as Cognito sends it (cognito-local sends `version: "0"`). */
export interface CustomEmailSenderEvent extends CognitoTriggerEvent {
  request: {
    type: string
    /** Base64 AWS Encryption SDK message holding the code or temporary password; null for account takeover. */
    code: string | null
    /**
     * The user's attributes; for an account takeover notification only the risk details (LOGIN_TIME, IP_ADDRESS,
     * CITY, COUNTRY, DEVICE_NAME, ... of which CITY, COUNTRY and DEVICE_NAME may be null), no email nor locale.
     */
    userAttributes: Record<string, string | null>
    clientMetadata?: Record<string, string> | null
  }
  response: Record<string, unknown>
}

/** Reads a user's attributes from a pool (AdminGetUser), by the username the event names. */
export type UserAttributesLookup = (userPoolId: string, username: string) => Promise<Record<string, string>>

/** What the trigger needs; tests pass real alternatives (raw AES keyring, a local SES, cognito-local). */
export interface CustomEmailSenderDeps {
  decryptCode: CodeDecrypter
  sendEmail: Mailer
  /** For account takeover notifications, whose event carries no email, locale or given name. */
  lookUpUser: UserAttributesLookup
  log: TriggerLogger
  /** Accept a code whose encryption context has no `userpool-id` (cognito-local); never in production. */
  localMode: boolean
  defaultLocale: Locale
}

/** Thrown for a triggerSource this trigger does not handle. */
export class UnknownTriggerSourceError extends Error {
  override name = 'UnknownTriggerSourceError'
}

/** Thrown when Cognito refuses AdminGetUser or cannot be reached (reason `COGNITO_REFUSED` or `COGNITO_UNREACHABLE`). */
export class UserLookupError extends AwsCallError {
  override name = 'UserLookupError'
}

/** Thrown when the user has no email address to send to. */
export class NoEmailAddressError extends Error {
  override name = 'NoEmailAddressError'
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
    return ownEntry(named, body.toLowerCase()) ?? entity
  })
}

/** The name the user signs in with: the username, or the email when the username is Cognito's generated UUID. */
export function signInName (userName: string, attributes: Record<string, string | null>): string {
  const email = present(attributes.email)
  return UUID.test(userName) && email !== undefined ? email : userName
}

/** Reads the risk details Cognito puts in the attributes of an account takeover notification; null or blank ones are left out. */
export function takeoverDetails (a: Record<string, string | null>): TakeoverDetails {
  return {
    loginTime: present(a.LOGIN_TIME),
    ipAddress: present(a.IP_ADDRESS),
    city: present(a.CITY),
    country: present(a.COUNTRY),
    deviceName: present(a.DEVICE_NAME),
    action: present(a.ACCOUNT_TAKE_OVER_ACTION),
    linkValid: present(a.ONE_CLICK_LINK_VALID),
    linkInvalid: present(a.ONE_CLICK_LINK_INVALID)
  }
}

/**
 * The attributes the email is addressed by (email, locale, given_name): the event's, except for an account takeover
 * notification without an email, whose attributes hold only the risk details: then the user's own, from the pool.
 */
export async function recipientAttributes (kind: EmailKind, event: CustomEmailSenderEvent, deps: CustomEmailSenderDeps): Promise<Record<string, string | null>> {
  const attributes = event.request.userAttributes ?? {}
  if (kind !== 'AccountTakeOverNotification' || present(attributes.email) !== undefined) return attributes
  return await deps.lookUpUser(event.userPoolId, event.userName)
}

/** Handles one Custom Email Sender event: find the address, decrypt (unless account takeover), check the pool, render, send. */
export async function handle (event: CustomEmailSenderEvent, deps: CustomEmailSenderDeps): Promise<CustomEmailSenderEvent> {
  const kind = emailKindForSource(event.triggerSource)
  const logged: LogFields = { triggerSource: event.triggerSource, userPoolId: event.userPoolId, sub: present(event.request.userAttributes?.sub) }
  try {
    const attributes = await recipientAttributes(kind, event, deps)
    const to = present(attributes.email)
    logged.sub = present(attributes.sub) ?? logged.sub
    logged.to = maskEmail(to)
    if (to === undefined) throw new NoEmailAddressError('The user has no email attribute to send to.')
    const params: EmailParams = { givenName: present(attributes.given_name), username: signInName(event.userName, attributes) }
    if (kind === 'AccountTakeOverNotification') {
      params.takeover = takeoverDetails(event.request.userAttributes ?? {})
    } else {
      if (typeof event.request.code !== 'string' || event.request.code === '') {
        throw new Error(`The ${kind} event carries no encrypted code.`)
      }
      const { plaintext, encryptionContext } = await deps.decryptCode(event.request.code)
      checkPoolBinding(encryptionContext, event.userPoolId, deps.localMode)
      params.code = kind === 'AdminCreateUser' ? unescapeHtml(plaintext) : plaintext
    }
    const locale = pickLocale(present(attributes.locale), deps.defaultLocale)
    const email = renderEmail(kind, locale, params)
    const messageId = await deps.sendEmail({ to, subject: email.subject, html: email.html, text: email.text })
    deps.log.info('email sent', { ...logged, locale, messageId })
    return event
  } catch (err) {
    deps.log.error('email not sent', { ...logged, ...failureFields(err) })
    throw err
  }
}

/**
 * A {@link UserAttributesLookup} over AdminGetUser (clients from {@link cognitoClients}); a failure, an unknown user
 * included, is a {@link UserLookupError} without the SDK's exception name or message.
 */
export function cognitoUserAttributes (endpoint?: string): UserAttributesLookup {
  const clientFor = cognitoClients(endpoint)
  return async (userPoolId, username) => {
    const client = clientFor(userPoolId)
    try {
      const user = await client.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: username }))
      return Object.fromEntries((user.UserAttributes ?? []).map((a) => [a.Name ?? '', a.Value ?? '']))
    } catch (err) {
      throw new UserLookupError('Cognito did not give the user\'s attributes', 'COGNITO', err)
    }
  }
}

/** Builds the real deps from configuration: the keyring, the SES client and the Cognito clients are created here, once. */
export function createCustomEmailSenderDeps (config: EmailSenderConfig, log: TriggerLogger = jsonLogger()): CustomEmailSenderDeps {
  return {
    decryptCode: createCodeDecrypter(config.decryption),
    sendEmail: createSesMailer({
      from: config.emailFrom,
      region: config.sesRegion,
      endpoint: config.sesEndpoint,
      configurationSet: config.sesConfigurationSet
    }),
    lookUpUser: cognitoUserAttributes(config.cognitoEndpoint),
    log,
    localMode: config.localMode,
    defaultLocale: config.defaultLocale
  }
}

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = defineHandler(handle, () => createCustomEmailSenderDeps(loadEmailSenderConfig(processEnv())))
