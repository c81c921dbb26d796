// The one Cognito client: timeouts, retries only where a resend is harmless, SECRET_HASH, and translation of AWS exceptions.
import { createHmac } from 'node:crypto'
import {
  AdminCreateUserCommand, AdminGetUserCommand, ChangePasswordCommand, CognitoIdentityProviderClient, ConfirmForgotPasswordCommand,
  ConfirmSignUpCommand, DescribeUserPoolClientCommand, DescribeUserPoolCommand, ForgotPasswordCommand, InitiateAuthCommand, ListUserPoolClientSecretsCommand, ResendConfirmationCodeCommand, RespondToAuthChallengeCommand,
  SignUpCommand, VerifySoftwareTokenCommand,
  type AdminGetUserCommandOutput, type CognitoIdentityProviderClientConfig, type DescribeUserPoolClientCommandOutput,
  type DescribeUserPoolCommandOutput, type ListUserPoolClientSecretsCommandOutput, type UserPoolClientType
} from '@aws-sdk/client-cognito-identity-provider'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { AppError, UnsupportedByEmulatorError, upstreamUnavailable, type ErrorCode } from '../errors.js'
import { CognitoBudget } from './budget.js'
import { ownEntry } from '../own-entry.js'

/** Where the pool is and how patient to be with it. */
export interface CognitoSettings {
  region: string
  userPoolId: string
  clientId: string
  clientSecret: string
  /** A cognito-local endpoint, or '' for AWS. */
  endpoint: string
  timeoutMs: number
  /** COGNITO_USER_CONTEXT: tell Cognito each user's IP address (see userContext); 'false' when absent. */
  userContext?: 'true' | 'false'
}

/** Per-call overrides of the default translation, keyed by AWS exception name. */
export type Translation = Partial<Record<string, ErrorCode | (() => Error)>>

const DEFAULT_TRANSLATION: Record<string, ErrorCode> = {
  NotAuthorizedException: 'UNAUTHENTICATED',
  UserNotFoundException: 'UNAUTHENTICATED',
  CodeMismatchException: 'INVALID_CODE',
  ExpiredCodeException: 'INVALID_CODE',
  InvalidPasswordException: 'INVALID_PASSWORD',
  UsernameExistsException: 'USERNAME_EXISTS',
  AliasExistsException: 'USERNAME_EXISTS',
  UserNotConfirmedException: 'USER_NOT_CONFIRMED',
  PasswordResetRequiredException: 'PASSWORD_RESET_REQUIRED',
  InvalidParameterException: 'VALIDATION_ERROR',
  ResourceNotFoundException: 'NOT_FOUND',
  LimitExceededException: 'TOO_MANY_REQUESTS',
  TooManyRequestsException: 'TOO_MANY_REQUESTS',
  TooManyFailedAttemptsException: 'TOO_MANY_REQUESTS',
  CodeDeliveryFailureException: 'UPSTREAM_UNAVAILABLE',
  // A Lambda trigger of the pool failed (Post Confirmation, Pre Token Generation): the service, not the request, is at
  // fault, and a retry may pass. Cognito answers these with a 400, which alone would make them INTERNAL (500).
  UserLambdaValidationException: 'UPSTREAM_UNAVAILABLE',
  UnexpectedLambdaException: 'UPSTREAM_UNAVAILABLE',
  // cognito-local's spelling of the same.
  UnexpectedLambdaExceptionException: 'UPSTREAM_UNAVAILABLE',
  InvalidLambdaResponseException: 'UPSTREAM_UNAVAILABLE'
}

/** Seconds a caller is asked to wait after Cognito throttles. */
const THROTTLE_RETRY_SECONDS = 30

interface AwsLikeError { name?: string, code?: string, $fault?: string, $metadata?: { httpStatusCode?: number } }

function isUnreachable (err: AwsLikeError): boolean {
  const name = err.name ?? ''
  return name === 'AbortError' || name === 'TimeoutError' || name === 'RequestTimeout' ||
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH)$/.test(err.code ?? '')
}

/**
 * Turns whatever the SDK threw into an AppError (or UnsupportedByEmulatorError): the AWS exception name and
 * message never leave this function.
 */
export function translateCognitoError (error: unknown, translation: Translation = {}): Error {
  if (error instanceof AppError) return error
  const err = (error ?? {}) as AwsLikeError
  const name = err.name ?? ''
  const override = ownEntry(translation, name)
  if (typeof override === 'function') return override()
  if (override !== undefined) return decorate(new AppError(override))
  if (name === 'Unsupported' || name.endsWith('#Unsupported')) return new UnsupportedByEmulatorError('not supported by the Cognito emulator')
  if (isUnreachable(err)) return upstreamUnavailable()
  const code = ownEntry(DEFAULT_TRANSLATION, name)
  if (code !== undefined) return decorate(new AppError(code))
  if (err.$fault === 'server' || (err.$metadata?.httpStatusCode ?? 0) >= 500) return upstreamUnavailable()
  return new AppError('INTERNAL')
}

function decorate (error: AppError): AppError {
  return error.code === 'TOO_MANY_REQUESTS' || error.code === 'UPSTREAM_UNAVAILABLE' ? error.retryAfter(THROTTLE_RETRY_SECONDS) : error
}

/** Any command of this client (the SDK's own typing of `send` does not accept a union of commands). */
type Sendable = { readonly input: object }

/**
 * Calls sent once, never resent by the SDK: one whose answer was lost may already have taken effect (a password set, a
 * code used, a user created, an email sent), and sending it again would turn that success into a refusal or send twice.
 * The caller gets 429/503 with Retry-After instead. A sign-in (InitiateAuth other than a refresh) is sent once too: it
 * may send an MFA or OTP code. Every other call (reads, refreshes, revocations) gets one retry.
 */
const SENT_ONCE = [
  ConfirmForgotPasswordCommand, ChangePasswordCommand, ConfirmSignUpCommand, SignUpCommand, RespondToAuthChallengeCommand,
  VerifySoftwareTokenCommand, AdminCreateUserCommand, ForgotPasswordCommand, ResendConfirmationCodeCommand
]

/** The single entry to Cognito for every feature module (auth, recovery, admin). */
export class CognitoGateway {
  readonly client: CognitoIdentityProviderClient
  /** The same endpoint and sockets, with no retry: for SENT_ONCE. */
  private readonly onceClient: CognitoIdentityProviderClient
  /** True against cognito-local, whose gaps the adapter fills itself. */
  readonly emulator: boolean

  constructor (readonly settings: CognitoSettings) {
    this.emulator = settings.endpoint !== ''
    const config: CognitoIdentityProviderClientConfig = {
      region: settings.region,
      ...(this.emulator
        ? { endpoint: settings.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
        : {}),
      // Each attempt ends at the deadline (TimeoutError): a call sent once needs no abort signal of its own.
      requestHandler: new NodeHttpHandler({
        connectionTimeout: Math.min(1000, settings.timeoutMs),
        requestTimeout: settings.timeoutMs,
        throwOnRequestTimeout: true
      }),
      // Each kind of call has its middleware resolved once, not on every call: less of the SDK's work before a request
      // leaves (`npm run bench` times both ways). Calls sent with per-call options skip it.
      cacheMiddleware: true
    }
    // The emulator answers unsupported operations with HTTP 500, which a retry would only repeat.
    this.client = new CognitoIdentityProviderClient({ ...config, maxAttempts: this.emulator ? 1 : 2 })
    this.onceClient = new CognitoIdentityProviderClient({ ...config, maxAttempts: 1 })
  }

  /** Sends one command within the configured deadline; failures come back translated. */
  async call<Output> (command: Sendable, translation?: Translation): Promise<Output> {
    try {
      const once = SENT_ONCE.some((kind) => command instanceof kind) || (command instanceof InitiateAuthCommand && command.input.AuthFlow !== 'REFRESH_TOKEN_AUTH')
      const client = once ? this.onceClient : this.client
      if (once || this.emulator) return await client.send(command as never) as Output
      // Two attempts: one deadline for both, and the retry's wait, where the handler's would allow each its own.
      return await client.send(command as never, { abortSignal: AbortSignal.timeout(this.settings.timeoutMs) }) as Output
    } catch (error) {
      throw translateCognitoError(error, translation)
    }
  }

  /**
   * A request's time for Cognito in all (see CognitoBudget), from now: one call's timeout, so the first call it waits
   * for always has its own outcome, and those after it share what it left.
   */
  budget (): CognitoBudget {
    return new CognitoBudget(this.settings.timeoutMs)
  }

  /**
   * One user of the pool (AdminGetUser) by Username, email alias or sub, or undefined when there is none. Used by
   * sign-in (the emulator's disabled-user gap), recovery (whose sessions to end) and administration.
   */
  async adminGetUser (username: string, translation?: Translation): Promise<AdminGetUserCommandOutput | undefined> {
    try {
      return await this.call<AdminGetUserCommandOutput>(new AdminGetUserCommand({ UserPoolId: this.settings.userPoolId, Username: username }), translation)
    } catch (error) {
      if (error instanceof AppError && (error.code === 'UNAUTHENTICATED' || error.code === 'NOT_FOUND')) return undefined
      throw error
    }
  }

  /**
   * The account `username` names (by Username, alias or sub): its sub, and the one name throttle counters keep it under
   * whichever of its names was typed (its email, or its Username when it has none; see Throttle.accountName). Undefined
   * for an unknown user; throws when Cognito cannot say.
   */
  async account (username: string): Promise<{ sub: string | undefined, name: string } | undefined> {
    const user = await this.adminGetUser(username)
    if (user === undefined) return undefined
    const attribute = (name: string): string | undefined => user.UserAttributes?.find((entry) => entry.Name === name)?.Value
    const email = attribute('email')
    return { sub: attribute('sub'), name: email !== undefined && email !== '' ? email : user.Username ?? username }
  }

  /** The pool's description (DescribeUserPool): its password policy; that it answers at all tells readiness. */
  async describePool (): Promise<DescribeUserPoolCommandOutput> {
    return await this.call(new DescribeUserPoolCommand({ UserPoolId: this.settings.userPoolId }))
  }

  /**
   * The app client's settings (DescribeUserPoolClient), for the start-up check of src/cognito/app-client-check.ts. A task
   * role not allowed to read them gets FORBIDDEN; a client id the pool does not know, NOT_FOUND.
   */
  async describeClient (): Promise<UserPoolClientType> {
    const command = new DescribeUserPoolClientCommand({ UserPoolId: this.settings.userPoolId, ClientId: this.settings.clientId })
    const output = await this.call<DescribeUserPoolClientCommandOutput>(command, { AccessDeniedException: 'FORBIDDEN' })
    return output.UserPoolClient ?? {}
  }

  /**
   * How many secrets the app client holds (ListUserPoolClientSecrets: AddUserPoolClientSecret adds a second one, which
   * DescribeUserPoolClient never shows; their values are never answered). FORBIDDEN for a task role not allowed it.
   */
  async countClientSecrets (): Promise<number> {
    const command = new ListUserPoolClientSecretsCommand({ UserPoolId: this.settings.userPoolId, ClientId: this.settings.clientId })
    const output = await this.call<ListUserPoolClientSecretsCommandOutput>(command, { AccessDeniedException: 'FORBIDDEN' })
    return output.ClientSecrets?.length ?? 0
  }

  /** SECRET_HASH for confidential app clients, or undefined when the client has no secret. */
  secretHash (username: string): string | undefined {
    if (this.settings.clientSecret === '') return undefined
    return createHmac('sha256', this.settings.clientSecret).update(username + this.settings.clientId).digest('base64')
  }

  /**
   * UserContextData for a call a user's request makes: their IP address (Fastify's request.ip, which TRUST_PROXY
   * resolves), so Cognito's threat protection judges the user's address and not the adapter's. Nothing unless
   * COGNITO_USER_CONTEXT is true (the app client must propagate it), or when the address is not known.
   */
  userContext (clientIp: string | undefined): { UserContextData?: { IpAddress: string } } {
    return this.settings.userContext === 'true' && clientIp !== undefined ? { UserContextData: { IpAddress: clientIp } } : {}
  }

  /** Releases the client's sockets. */
  destroy (): void {
    this.client.destroy()
    this.onceClient.destroy()
  }
}
