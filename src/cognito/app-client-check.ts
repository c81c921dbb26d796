// The start-up check of the app client: each of its settings (or COGNITO_CLIENT_SECRET) that makes sign-ins fail is logged as a sentence naming the fix.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { UserPoolClientType } from '@aws-sdk/client-cognito-identity-provider'
import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../errors.js'
import type { CognitoGateway } from './gateway.js'

/** Whether two secrets are equal, compared in constant time over their digests (of equal length whatever the secrets). */
function sameSecret (given: string, actual: string): boolean {
  const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest()
  return timingSafeEqual(digest(given), digest(actual))
}

/**
 * What is wrong with the app client `client` for this adapter, given the configured COGNITO_CLIENT_SECRET: one sentence
 * per problem, naming the app client's setting or the environment variable to change, never a secret. Empty when the
 * client allows password sign-in, refreshes and revocation, and the secret matches (or neither has one). `otherSecret`:
 * the client holds a secret besides the one `client` shows (a rotation's, which may be the configured one).
 */
function appClientProblems (client: UserPoolClientType, configuredSecret: string, otherSecret = false): string[] {
  const which = `app client ${client.ClientId ?? ''}`
  const flows = client.ExplicitAuthFlows ?? []
  // USER_PASSWORD_AUTH is the legacy spelling, which also leaves refreshes allowed; no flows at all means AWS's defaults
  // (SRP, refresh, custom), which allow refreshes but no password sign-in.
  const allowFlows = flows.some((flow) => flow.startsWith('ALLOW_'))
  const problems: string[] = []
  if (!flows.includes('ALLOW_USER_PASSWORD_AUTH') && !flows.includes('USER_PASSWORD_AUTH')) {
    problems.push(`The ${which} does not allow ALLOW_USER_PASSWORD_AUTH, so every sign-in is refused (400 VALIDATION_ERROR): add ALLOW_USER_PASSWORD_AUTH to the app client's authentication flows.`)
  }
  if (allowFlows && !flows.includes('ALLOW_REFRESH_TOKEN_AUTH')) {
    problems.push(`The ${which} does not allow ALLOW_REFRESH_TOKEN_AUTH, so no session or token can be refreshed and users are signed out when their access token expires: add ALLOW_REFRESH_TOKEN_AUTH to the app client's authentication flows.`)
  }
  if (client.EnableTokenRevocation === false) {
    problems.push(`The ${which} has token revocation turned off, so sign-outs cannot revoke refresh tokens: turn on token revocation (EnableTokenRevocation) on the app client.`)
  }
  const actualSecret = client.ClientSecret ?? ''
  if (actualSecret !== '' && configuredSecret === '') {
    problems.push(`The ${which} has a client secret and COGNITO_CLIENT_SECRET is not set, so every sign-in is refused as a wrong password: set COGNITO_CLIENT_SECRET to the app client's secret.`)
  } else if (!otherSecret && actualSecret === '' && configuredSecret !== '') {
    problems.push(`COGNITO_CLIENT_SECRET is set but the ${which} has no client secret, so every sign-in is refused: unset COGNITO_CLIENT_SECRET.`)
  } else if (!otherSecret && actualSecret !== '' && !sameSecret(configuredSecret, actualSecret)) {
    problems.push(`COGNITO_CLIENT_SECRET is not the secret of the ${which}, so every sign-in is refused as a wrong password: set COGNITO_CLIENT_SECRET to the app client's secret (the value given is not shown).`)
  }
  return problems
}

/**
 * Reads the app client through `gateway` and logs each of appClientProblems at error level. When it cannot be read
 * (the task role may not, or Cognito does not answer), logs one line saying so and how to allow it. Never throws: the
 * adapter runs on either way, and readiness does not depend on this.
 */
export async function checkAppClient (gateway: CognitoGateway, log: FastifyBaseLogger): Promise<void> {
  let client: UserPoolClientType
  try {
    client = await gateway.describeClient()
  } catch (error) {
    const code = error instanceof AppError ? error.code : undefined
    if (code === 'NOT_FOUND') {
      log.error('COGNITO_CLIENT_ID names no app client of the user pool COGNITO_USER_POOL_ID names, so every sign-in is refused: set COGNITO_CLIENT_ID to the id of an app client of that pool.')
    } else if (code === 'FORBIDDEN') {
      log.info('The app client could not be checked at start-up: the task role may not read it; allow cognito-idp:DescribeUserPoolClient on the user pool to have its settings checked.')
    } else {
      log.warn('The app client could not be checked at start-up: Cognito did not answer; it is checked again at the next start.')
    }
    return
  }
  const configured = gateway.settings.clientSecret
  const shown = client.ClientSecret ?? ''
  const unlike = configured !== '' && (shown === '' || !sameSecret(configured, shown))
  const otherSecret = unlike && await mayHoldOtherSecret(gateway, shown, log)
  for (const problem of appClientProblems(client, configured, otherSecret)) log.error(problem)
}

/**
 * Whether the app client may hold a secret besides the one DescribeUserPoolClient shows (`shown`): AddUserPoolClientSecret
 * adds one it never shows, and deleting the first leaves it showing none. False when the listing is refused for the
 * client itself (the emulator keeps one secret per client and lists none). True, with one line saying so, when the task
 * role may not list them or Cognito does not answer.
 */
async function mayHoldOtherSecret (gateway: CognitoGateway, shown: string, log: FastifyBaseLogger): Promise<boolean> {
  try {
    return await gateway.countClientSecrets() > (shown === '' ? 0 : 1)
  } catch (error) {
    const code = error instanceof AppError ? error.code : undefined
    if (code !== 'FORBIDDEN' && code !== 'UPSTREAM_UNAVAILABLE' && code !== 'TOO_MANY_REQUESTS') return false
    log.info('COGNITO_CLIENT_SECRET could not be checked at start-up: it is not the secret DescribeUserPoolClient shows, and the app client\'s other secrets (AddUserPoolClientSecret) could not be listed (the task role may not, or Cognito did not answer); allow cognito-idp:ListUserPoolClientSecrets on the user pool to have it checked.')
    return true
  }
}
