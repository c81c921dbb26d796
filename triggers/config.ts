// Trigger configuration from the environment: the only place triggers read process.env; validated at cold start.
import addressparser from 'nodemailer/lib/addressparser'
import { DEFAULT_ROLE_GROUPS, parseRoleGroups, type RoleGroups } from '../src/role-mapping.js'

/** An environment: `process.env` in Lambda, a plain object when the local runner or a test hosts the triggers. */
export type TriggerEnv = Record<string, string | undefined>

/** A misconfiguration found at cold start; its message is a sentence that names the variable. */
export class TriggerConfigError extends Error {
  override name = 'TriggerConfigError'
}

/** The locales the email templates are written in. */
export type Locale = 'en' | 'vi'

/** How the Custom Email Sender decrypts `request.code`. */
export type DecryptionConfig =
  | { kind: 'kms', keyArn: string, endpoint?: string }
  | { kind: 'raw-aes', key: Buffer, keyNamespace: string, keyName: string }

/** Settings shared by every trigger. */
export interface CommonTriggerConfig {
  /**
   * `TRIGGERS_LOCAL_MODE=true`: the triggers serve cognito-local, so a code whose encryption context lacks
   * `userpool-id` is accepted. Refused when NODE_ENV=production and inside AWS Lambda.
   */
  localMode: boolean
  /** `DEFAULT_LOCALE` (en | vi, default en): the template language when the user has no `locale` attribute. */
  defaultLocale: Locale
}

/** Where a trigger that calls Cognito sends its calls. */
export interface CognitoCallerConfig {
  /** `COGNITO_ENDPOINT` (local mode and tests only): a Cognito-compatible endpoint such as cognito-local. */
  cognitoEndpoint?: string
}

/** What the Custom Email Sender needs (Cognito: AdminGetUser for account takeover notifications). */
export interface EmailSenderConfig extends CommonTriggerConfig, CognitoCallerConfig {
  emailFrom: string
  sesRegion: string
  sesEndpoint?: string
  sesConfigurationSet?: string
  decryption: DecryptionConfig
}

/** What the Pre Token Generation trigger needs. */
export interface PreTokenConfig extends CommonTriggerConfig {
  roleGroups: RoleGroups
}

/** What the Post Confirmation trigger needs. */
export interface PostConfirmationConfig extends CommonTriggerConfig, CognitoCallerConfig {
  /** `DEFAULT_GROUP`: the group a newly confirmed self-signed-up user joins; undefined = off (the default). */
  defaultGroup?: string
}

/** Every trigger's configuration at once, for a runner that hosts all triggers in one process. */
export interface TriggerConfig {
  emailSender: EmailSenderConfig
  customMessage: CommonTriggerConfig
  preToken: PreTokenConfig
  postConfirmation: PostConfirmationConfig
}

/** The environment of the running process (read here and nowhere else in triggers/). */
export function processEnv (): TriggerEnv {
  return process.env
}

/** True when this code runs inside AWS Lambda (where local-only settings are refused). */
export function isLambdaRuntime (env: TriggerEnv = processEnv()): boolean {
  return typeof env.AWS_LAMBDA_FUNCTION_NAME === 'string' && env.AWS_LAMBDA_FUNCTION_NAME !== ''
}

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/
/** `name@domain`, or `Name <name@domain>` with both brackets. */
const EMAIL_ADDRESS = /^(?:[^\s@<>]+@[^\s@<>]+|[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>)$/
/** An address with nothing of a display name's syntax in it. */
const ADDR_SPEC = /^[^\s@<>"()]+@[^\s@<>"()]+$/

/** A display name that is one quoted string, as written. */
const QUOTED_NAME = /^"(?:[^"\\]|\\.)*"$/

/**
 * `value` as nodemailer's parser, which reads it for SES (lib/mailer.ts), reads it, when that is one address as written
 * (EMAIL_ADDRESS): an unclosed parenthesis or quote in the name would swallow the address.
 */
function oneAddress (value: string): { name: string, address: string } | undefined {
  const parsed = addressparser(value, { flatten: true }) as Array<{ name: string, address: string }>
  return EMAIL_ADDRESS.test(value) && parsed.length === 1 && ADDR_SPEC.test(parsed[0]!.address) ? parsed[0] : undefined
}

/** The display name of `value` (`Name <addr>`) as written, its quotes undone when it is one quoted string. */
function writtenName (value: string): string {
  const name = value.includes('<') ? value.slice(0, value.lastIndexOf('<')).trim() : ''
  return QUOTED_NAME.test(name) ? name.slice(1, -1).replace(/\\(.)/g, '$1') : name
}

function value (env: TriggerEnv, name: string): string | undefined {
  const raw = env[name]
  if (raw === undefined) return undefined
  const trimmed = raw.trim()
  return trimmed === '' ? undefined : trimmed
}

function required (env: TriggerEnv, name: string, what: string): string {
  const v = value(env, name)
  if (v === undefined) throw new TriggerConfigError(`${name} is not set; it must hold ${what}.`)
  return v
}

function url (env: TriggerEnv, name: string): string | undefined {
  const v = value(env, name)
  if (v === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(v)
  } catch {
    throw new TriggerConfigError(`${name} must be an http(s) URL such as http://127.0.0.1:8005; "${v}" is not a URL.`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TriggerConfigError(`${name} must be an http(s) URL; "${v}" uses ${parsed.protocol}.`)
  }
  return v.replace(/\/+$/, '')
}

/** Refuses a setting meant for local mode and tests when NODE_ENV=production or inside AWS Lambda. */
function refuseInProduction (env: TriggerEnv, name: string): void {
  if (value(env, name) === undefined) return
  if (env.NODE_ENV === 'production') {
    throw new TriggerConfigError(`${name} is for local mode and tests only; it is refused when NODE_ENV=production.`)
  }
  if (isLambdaRuntime(env)) {
    throw new TriggerConfigError(`${name} is for local mode and tests only; it is refused inside AWS Lambda.`)
  }
}

/** Reads the settings every trigger shares: `TRIGGERS_LOCAL_MODE`, `DEFAULT_LOCALE`. */
export function loadCommonConfig (env: TriggerEnv): CommonTriggerConfig {
  const local = value(env, 'TRIGGERS_LOCAL_MODE')
  if (local !== undefined && local !== 'true' && local !== 'false') {
    throw new TriggerConfigError(`TRIGGERS_LOCAL_MODE must be "true" or "false"; got "${local}".`)
  }
  const localMode = local === 'true'
  if (localMode && env.NODE_ENV === 'production') {
    throw new TriggerConfigError('TRIGGERS_LOCAL_MODE=true is refused when NODE_ENV=production.')
  }
  if (localMode && isLambdaRuntime(env)) {
    throw new TriggerConfigError('TRIGGERS_LOCAL_MODE=true is refused inside AWS Lambda.')
  }
  const locale = value(env, 'DEFAULT_LOCALE') ?? 'en'
  if (locale !== 'en' && locale !== 'vi') {
    throw new TriggerConfigError(`DEFAULT_LOCALE must be "en" or "vi"; got "${locale}".`)
  }
  return { localMode, defaultLocale: locale }
}

/** Reads `COGNITO_ENDPOINT`, refused when NODE_ENV=production and inside AWS Lambda. */
function loadCognitoCallerConfig (env: TriggerEnv): CognitoCallerConfig {
  refuseInProduction(env, 'COGNITO_ENDPOINT')
  return { cognitoEndpoint: url(env, 'COGNITO_ENDPOINT') }
}

/** Reads the Custom Email Sender's settings: `KMS_KEY_ARN` (or the raw test key), `EMAIL_FROM`, `SES_*`, `COGNITO_ENDPOINT`. */
export function loadEmailSenderConfig (env: TriggerEnv): EmailSenderConfig {
  const common = loadCommonConfig(env)
  const cognito = loadCognitoCallerConfig(env)
  for (const name of ['CES_RAW_AES_KEY_HEX', 'CES_RAW_KEY_NAMESPACE', 'CES_RAW_KEY_NAME', 'KMS_ENDPOINT', 'SES_ENDPOINT']) {
    refuseInProduction(env, name)
  }
  const emailFrom = required(env, 'EMAIL_FROM', 'the sender address, such as "IMS <no-reply@example.com>"')
  const sender = oneAddress(emailFrom)
  if (sender === undefined) {
    throw new TriggerConfigError(`EMAIL_FROM must be an email address such as "IMS <no-reply@example.com>"; got "${emailFrom}".`)
  }
  // Unquoted, a '(…)' in the name is a comment the parser drops, and 'Name:' a group's name: recipients would read less.
  if (sender.name.replace(/\s+/g, ' ') !== writtenName(emailFrom).replace(/\s+/g, ' ')) {
    throw new TriggerConfigError(`EMAIL_FROM's sender name would reach recipients as "${sender.name}": put the whole name in double quotes: "IMS (Support)" <no-reply@example.com>.`)
  }
  const sesRegion = required(env, 'SES_REGION', 'the AWS region SES sends from, such as eu-west-1')
  const sesEndpoint = url(env, 'SES_ENDPOINT')
  const sesConfigurationSet = value(env, 'SES_CONFIGURATION_SET')

  let decryption: DecryptionConfig
  const rawHex = value(env, 'CES_RAW_AES_KEY_HEX')
  if (rawHex !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(rawHex)) {
      throw new TriggerConfigError('CES_RAW_AES_KEY_HEX must be 64 hexadecimal characters (an AES-256 key).')
    }
    decryption = {
      kind: 'raw-aes',
      key: Buffer.from(rawHex, 'hex'),
      keyNamespace: value(env, 'CES_RAW_KEY_NAMESPACE') ?? 'ims-local',
      keyName: value(env, 'CES_RAW_KEY_NAME') ?? 'custom-email-sender'
    }
  } else {
    const keyArn = required(env, 'KMS_KEY_ARN', 'the ARN of the KMS key the user pool encrypts codes with (arn:aws:kms:<region>:<account>:key/<id>); aliases never match on decrypt')
    if (!KMS_KEY_ARN.test(keyArn)) {
      throw new TriggerConfigError(`KMS_KEY_ARN must be a key ARN such as arn:aws:kms:eu-west-1:123456789012:key/<id> (not an alias); got "${keyArn}".`)
    }
    decryption = { kind: 'kms', keyArn, endpoint: url(env, 'KMS_ENDPOINT') }
  }
  return { ...common, ...cognito, emailFrom, sesRegion, sesEndpoint, sesConfigurationSet, decryption }
}

/** Reads the Pre Token Generation trigger's settings: `ROLE_GROUPS` (JSON; defaults to the contract's mapping). */
export function loadPreTokenConfig (env: TriggerEnv): PreTokenConfig {
  const common = loadCommonConfig(env)
  const json = value(env, 'ROLE_GROUPS')
  return { ...common, roleGroups: json === undefined ? DEFAULT_ROLE_GROUPS : parseRoleGroups(json, 'ROLE_GROUPS') }
}

/** Reads the Post Confirmation trigger's settings: `DEFAULT_GROUP` (off when unset), `COGNITO_ENDPOINT` (local). */
export function loadPostConfirmationConfig (env: TriggerEnv): PostConfirmationConfig {
  const common = loadCommonConfig(env)
  const cognito = loadCognitoCallerConfig(env)
  const defaultGroup = value(env, 'DEFAULT_GROUP')
  if (defaultGroup !== undefined && !/^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u.test(defaultGroup)) {
    throw new TriggerConfigError(`DEFAULT_GROUP must be a Cognito group name (1-128 characters, no spaces); got "${defaultGroup}".`)
  }
  return { ...common, ...cognito, defaultGroup }
}

/** Reads and validates every trigger's settings from `env` (the local runner passes its own object). */
export function loadTriggerConfig (env: TriggerEnv): TriggerConfig {
  return {
    emailSender: loadEmailSenderConfig(env),
    customMessage: loadCommonConfig(env),
    preToken: loadPreTokenConfig(env),
    postConfirmation: loadPostConfirmationConfig(env)
  }
}
