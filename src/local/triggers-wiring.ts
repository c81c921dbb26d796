// Wires the IMS triggers into cognito-local: starts the mailbox, the local KMS and the Lambda endpoint, and says how to configure both.
import type { CreateUserPoolRequest, LambdaConfigType } from '@aws-sdk/client-cognito-identity-provider'
import type { TriggerEnv } from '../../triggers/config.js'
import type { TriggerLogger } from '../../triggers/lib/log.js'
import { startLocalKms } from './kms.js'
import { FUNCTION_NAMES, startLocalLambda, type TriggerName } from './lambda.js'
import { startMailbox } from './mailbox.js'

export type { TriggerName } from './lambda.js'

/** The triggers wired by default. PreTokenGeneration is opt-in: cognito-local 5.3 sends it no groups. */
export const DEFAULT_LOCAL_TRIGGERS: readonly TriggerName[] = ['CustomEmailSender', 'CustomMessage', 'PostConfirmation']

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' }

/** Where the local trigger parts listen. */
export interface LocalTriggerEndpoints {
  lambdaEndpoint: string
  functions: Record<TriggerName, string>
  kmsEndpoint: string
  keyArn: string
  aliasArn: string
  /** Which triggers cognito-local should call (default {@link DEFAULT_LOCAL_TRIGGERS}). */
  triggers?: readonly TriggerName[]
}

/** The part of cognito-local's `.cognito/config.json` that wires the triggers (merge it into the file). */
export interface CognitoLocalTriggerConfig {
  TriggerFunctions: Partial<Record<TriggerName, string>>
  /** An AWS SDK v2 Lambda client config. */
  LambdaClient: { endpoint: string, region: string, credentials: typeof LOCAL_CREDENTIALS, maxRetries: number }
  /** An AWS SDK v2 KMS client config plus cognito-local's own KMSKeyId (keyIds) and KMSKeyAlias (generator). */
  KMSConfig: { endpoint: string, region: string, credentials: typeof LOCAL_CREDENTIALS, maxRetries: number, KMSKeyId: string, KMSKeyAlias: string }
}

/** Returns the fragment to merge into cognito-local's `.cognito/config.json` (written before cognito-local starts). */
export function cognitoLocalConfigFragment (e: LocalTriggerEndpoints): CognitoLocalTriggerConfig {
  const triggers = e.triggers ?? DEFAULT_LOCAL_TRIGGERS
  return {
    TriggerFunctions: Object.fromEntries(triggers.map((t) => [t, e.functions[t]])),
    LambdaClient: { endpoint: e.lambdaEndpoint, region: 'local', credentials: LOCAL_CREDENTIALS, maxRetries: 0 },
    KMSConfig: {
      endpoint: e.kmsEndpoint,
      region: 'local',
      credentials: LOCAL_CREDENTIALS,
      maxRetries: 0,
      KMSKeyId: e.keyArn,
      KMSKeyAlias: e.aliasArn
    }
  }
}

/** The Lambda ARN a real pool would name for `functionName` (cognito-local ignores it). */
export function localLambdaArn (functionName: string): string {
  return `arn:aws:lambda:local:000000000000:function:${functionName}`
}

/**
 * Returns the `LambdaConfig` to pass to CreateUserPool / UpdateUserPool. cognito-local 5.3 stores it but calls the
 * triggers named in its config.json; it is passed so the local pool describes itself as a real one would.
 */
export function poolLambdaConfig (e: LocalTriggerEndpoints): LambdaConfigType {
  const triggers = e.triggers ?? DEFAULT_LOCAL_TRIGGERS
  const config: LambdaConfigType = {}
  if (triggers.includes('CustomEmailSender')) {
    config.CustomEmailSender = { LambdaVersion: 'V1_0', LambdaArn: localLambdaArn(e.functions.CustomEmailSender) }
    config.KMSKeyID = e.keyArn
  }
  if (triggers.includes('CustomMessage')) config.CustomMessage = localLambdaArn(e.functions.CustomMessage)
  if (triggers.includes('PreTokenGeneration')) config.PreTokenGeneration = localLambdaArn(e.functions.PreTokenGeneration)
  if (triggers.includes('PostConfirmation')) config.PostConfirmation = localLambdaArn(e.functions.PostConfirmation)
  return config
}

/** The CreateUserPool / UpdateUserPool settings the wiring needs. */
export type LocalPoolSettings = Required<Pick<CreateUserPoolRequest, 'LambdaConfig' | 'AutoVerifiedAttributes'>>

/**
 * Everything to pass to CreateUserPool / UpdateUserPool: the `LambdaConfig`, and `AutoVerifiedAttributes: ["email"]`,
 * without which cognito-local (like Cognito) sends no sign-up confirmation code at all.
 */
export function localPoolSettings (e: LocalTriggerEndpoints): LocalPoolSettings {
  return { LambdaConfig: poolLambdaConfig(e), AutoVerifiedAttributes: ['email'] }
}

/** The triggers' environment in local mode: SES to the mailbox, KMS to the local KMS; `env` adds the rest. */
export function localTriggerEnv ({ mailboxUrl, kmsEndpoint, keyArn, env = {} }: { mailboxUrl: string, kmsEndpoint: string, keyArn: string, env?: TriggerEnv }): TriggerEnv {
  return {
    EMAIL_FROM: 'IMS <no-reply@ims.local>',
    ...env,
    TRIGGERS_LOCAL_MODE: 'true',
    SES_REGION: 'local',
    SES_ENDPOINT: mailboxUrl,
    KMS_KEY_ARN: keyArn,
    KMS_ENDPOINT: kmsEndpoint
  }
}

/** Options of {@link startLocalTriggers}. */
export interface LocalTriggersOptions {
  /** The mailbox port (the contract's SES_LOCAL_PORT, default 8005; 0 = a free port). */
  sesPort: number
  host?: string
  /** Extra trigger settings: EMAIL_FROM, DEFAULT_LOCALE, ROLE_GROUPS, DEFAULT_GROUP, COGNITO_ENDPOINT, NODE_ENV. */
  env?: TriggerEnv
  /** Which triggers cognito-local should call (default {@link DEFAULT_LOCAL_TRIGGERS}). */
  triggers?: readonly TriggerName[]
  /** Fixed ports for the Lambda endpoint and the KMS (default: free ports). */
  lambdaPort?: number
  kmsPort?: number
  log?: TriggerLogger
}

/** The running local trigger parts and the settings that point cognito-local at them. */
export interface LocalTriggers {
  mailboxUrl: string
  lambdaEndpoint: string
  kmsEndpoint: string
  keyArn: string
  /** Merge into `.cognito/config.json` before cognito-local starts. */
  cognitoConfig: CognitoLocalTriggerConfig
  /** Spread into CreateUserPool / UpdateUserPool: `LambdaConfig` plus `AutoVerifiedAttributes: ["email"]`. */
  poolSettings: LocalPoolSettings
  close: () => Promise<void>
}

/**
 * Starts the mailbox (on `sesPort`), the local KMS and the local Lambda endpoint (free ports on loopback), and
 * returns the cognito-local config fragment and pool LambdaConfig that wire them. Ports change per start, so write
 * the fragment into `.cognito/config.json` on every start, before cognito-local starts.
 */
export async function startLocalTriggers (options: LocalTriggersOptions): Promise<LocalTriggers> {
  const host = options.host ?? '127.0.0.1'
  const closers: Array<() => Promise<void>> = []
  const close = async (): Promise<void> => {
    const errors: unknown[] = []
    for (const c of closers.reverse()) await c().catch((err: unknown) => { errors.push(err) })
    closers.length = 0
    if (errors.length > 0) throw errors[0]
  }
  try {
    const mailbox = await startMailbox({ port: options.sesPort, host })
    closers.push(mailbox.close)
    const kms = await startLocalKms({ port: options.kmsPort ?? 0, host })
    closers.push(kms.close)
    const env = localTriggerEnv({ mailboxUrl: mailbox.url, kmsEndpoint: kms.endpoint, keyArn: kms.keyArn, env: options.env })
    const lambda = await startLocalLambda({ port: options.lambdaPort ?? 0, host, env, log: options.log })
    closers.push(lambda.close)
    const endpoints: LocalTriggerEndpoints = {
      lambdaEndpoint: lambda.endpoint,
      functions: lambda.functions,
      kmsEndpoint: kms.endpoint,
      keyArn: kms.keyArn,
      aliasArn: kms.aliasArn,
      triggers: options.triggers
    }
    return {
      mailboxUrl: mailbox.url,
      lambdaEndpoint: lambda.endpoint,
      kmsEndpoint: kms.endpoint,
      keyArn: kms.keyArn,
      cognitoConfig: cognitoLocalConfigFragment(endpoints),
      poolSettings: localPoolSettings(endpoints),
      close
    }
  } catch (err) {
    await close().catch(() => {})
    throw err
  }
}

export { FUNCTION_NAMES }
