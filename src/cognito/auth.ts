// Sign-in, challenges, refresh, revocation and sign-out against the user pool, in the contract's terms.
import {
  AssociateSoftwareTokenCommand, GetUserCommand, GlobalSignOutCommand,
  InitiateAuthCommand, RespondToAuthChallengeCommand, RevokeTokenCommand, VerifySoftwareTokenCommand,
  type AuthenticationResultType, type ChallengeNameType, type GetUserCommandOutput, type InitiateAuthCommandOutput, type RespondToAuthChallengeCommandOutput
} from '@aws-sdk/client-cognito-identity-provider'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { decomposeJwt } from '../auth/jwt-decomposition.js'
import { CognitoBudget } from './budget.js'
import { AppError, UnsupportedByEmulatorError } from '../errors.js'
import type { CognitoGateway, Translation } from './gateway.js'
import { PASSWORD_REFUSALS } from './recovery.js'
import { ownEntry } from '../own-entry.js'

/** The challenges of the contract. */
export const CHALLENGES = ['NEW_PASSWORD_REQUIRED', 'SOFTWARE_TOKEN_MFA', 'SMS_MFA', 'EMAIL_OTP', 'SELECT_MFA_TYPE', 'MFA_SETUP'] as const
export type Challenge = (typeof CHALLENGES)[number]

/** Cognito's challenge names (and aliases) mapped to the contract's. */
const CHALLENGE_NAMES: Partial<Record<string, Challenge>> = {
  NEW_PASSWORD_REQUIRED: 'NEW_PASSWORD_REQUIRED',
  SOFTWARE_TOKEN_MFA: 'SOFTWARE_TOKEN_MFA',
  SMS_MFA: 'SMS_MFA',
  SMS_OTP: 'SMS_MFA',
  EMAIL_OTP: 'EMAIL_OTP',
  SELECT_MFA_TYPE: 'SELECT_MFA_TYPE',
  MFA_SETUP: 'MFA_SETUP'
}

/** The response key that carries the user's answer, per Cognito challenge name. */
const ANSWER_KEYS: Record<string, string> = {
  SOFTWARE_TOKEN_MFA: 'SOFTWARE_TOKEN_MFA_CODE',
  SMS_MFA: 'SMS_MFA_CODE',
  SMS_OTP: 'SMS_OTP_CODE',
  EMAIL_OTP: 'EMAIL_OTP_CODE',
  SELECT_MFA_TYPE: 'ANSWER'
}

/** Tokens as Cognito issued them. The refresh token is absent after a refresh. */
export interface CognitoTokens {
  accessToken: string
  idToken: string
  refreshToken?: string
  expiresIn: number
}

/** A pending challenge: what the server keeps, never the browser. */
export interface PendingChallenge {
  challenge: Challenge
  /** Cognito's own name (SMS_OTP and SMS_MFA differ). */
  cognitoName: string
  cognitoSession: string
  username: string
  /** What the user may see: code delivery destination, MFA choices, an authenticator secret. */
  details: Record<string, string | string[]>
  /** When the sign-in's password step began (ms): the user's sessions ended after it end this sign-in too. */
  startedAt: number
}

/** Tokens as a sign-in earned them, with what a session for them must wait for. */
export interface IssuedTokens {
  tokens: CognitoTokens
  /** When the sign-in that earned them began (ms): the user's sessions ended after it end this sign-in too. */
  startedAt: number
  /**
   * Settles once the account may have a session: Cognito refuses a disabled user itself, but the emulator signs one in,
   * so there it waits for AdminGetUser and rejects with INVALID_CREDENTIALS when the account is disabled. No session
   * or token is given for them before it settles; their checks, which grant nothing, run meanwhile. Absent: nothing to
   * wait for.
   */
  admitted?: Promise<void>
}

/** Tokens, or the next challenge. */
export type AuthOutcome = ({ kind: 'tokens' } & IssuedTokens) | { kind: 'challenge', pending: PendingChallenge }

/** Wrong password, unknown user and disabled user all look alike. */
const SIGN_IN_TRANSLATION: Translation = {
  NotAuthorizedException: 'INVALID_CREDENTIALS',
  UserNotFoundException: 'INVALID_CREDENTIALS',
  InvalidPasswordException: 'INVALID_CREDENTIALS'
}

/** An answer refused: an expired or unknown challenge, a wrong code, or a new password Cognito refused (naming the rule). */
const CHALLENGE_TRANSLATION: Translation = {
  NotAuthorizedException: 'UNAUTHENTICATED',
  UserNotFoundException: 'UNAUTHENTICATED',
  CodeMismatchException: 'INVALID_CODE',
  ExpiredCodeException: 'INVALID_CODE',
  EnableSoftwareTokenMFAException: 'INVALID_CODE',
  ...PASSWORD_REFUSALS
}

/** What came of revoking a refresh token (see CognitoAuth.revoke). */
export type Revocation = 'revoked' | 'refused' | 'unknown'

/** Cognito's refusals of a value that is no live refresh token of this client (revoked, expired, made up). */
const REVOKE_TRANSLATION: Translation = {
  NotAuthorizedException: 'UNAUTHENTICATED',
  UnsupportedTokenTypeException: 'UNAUTHENTICATED',
  InvalidParameterException: 'UNAUTHENTICATED'
}

/** Sign-in flows of one app client. */
export class CognitoAuth {
  constructor (private readonly gateway: CognitoGateway) {}

  private get clientId (): string { return this.gateway.settings.clientId }

  private withSecretHash (username: string, params: Record<string, string>): Record<string, string> {
    const hash = this.gateway.secretHash(username)
    return hash === undefined ? params : { ...params, SECRET_HASH: hash }
  }

  /** USER_PASSWORD_AUTH. The password reaches Cognito byte for byte; `clientIp` is the user's (see userContext). */
  async signIn (username: string, password: string, clientIp?: string): Promise<AuthOutcome> {
    const startedAt = Date.now()
    const initiate = this.gateway.call<InitiateAuthCommandOutput>(new InitiateAuthCommand({
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: this.clientId,
      AuthParameters: this.withSecretHash(username, { USERNAME: username, PASSWORD: password }),
      ...this.gateway.userContext(clientIp)
    }), SIGN_IN_TRANSLATION)
    const enabled = this.enabledOnEmulator(username).catch(() => true)
    const output = await initiate
    const admitted = enabled.then((isEnabled) => {
      if (isEnabled) return
      if (output.AuthenticationResult?.RefreshToken !== undefined) void this.revoke(output.AuthenticationResult.RefreshToken)
      throw new AppError('INVALID_CREDENTIALS')
    })
    // Whoever keeps the tokens awaits it (see IssuedTokens.admitted); a refusal of their own may come first.
    admitted.catch(() => {})
    // A challenge is only for an account that may sign in.
    if (output.AuthenticationResult === undefined) await admitted
    return await this.outcome(output, username, startedAt, admitted)
  }

  /** Answers a pending challenge: a code, an MFA choice, or a new password; `clientIp` is the user's. */
  async respond (pending: PendingChallenge, answer: { answer?: string, newPassword?: string }, clientIp?: string): Promise<AuthOutcome> {
    const responses: Record<string, string> = { USERNAME: pending.username }
    let session = pending.cognitoSession
    if (pending.challenge === 'NEW_PASSWORD_REQUIRED') {
      if (answer.newPassword === undefined) throw new AppError('VALIDATION_ERROR', 'This challenge needs "newPassword".')
      responses.NEW_PASSWORD = answer.newPassword
    } else if (answer.answer === undefined) {
      throw new AppError('VALIDATION_ERROR', 'This challenge needs "answer".')
    } else if (pending.challenge === 'MFA_SETUP') {
      const verified = await this.gateway.call<{ Session?: string }>(
        new VerifySoftwareTokenCommand({ Session: session, UserCode: answer.answer }), CHALLENGE_TRANSLATION)
      session = verified.Session ?? session
    } else {
      responses[ownEntry(ANSWER_KEYS, pending.cognitoName) ?? 'ANSWER'] = answer.answer
    }
    const output = await this.gateway.call<RespondToAuthChallengeCommandOutput>(new RespondToAuthChallengeCommand({
      ClientId: this.clientId,
      ChallengeName: pending.cognitoName as ChallengeNameType,
      Session: session,
      ChallengeResponses: this.withSecretHash(pending.username, responses),
      ...this.gateway.userContext(clientIp)
    }), CHALLENGE_TRANSLATION)
    // cognito-local answers a user disabled since the password step; real Cognito refuses them (NotAuthorizedException).
    const tokens = output.AuthenticationResult
    if (tokens?.AccessToken !== undefined && this.gateway.emulator && !await this.isEnabled(tokenUsername(tokens.AccessToken))) {
      if (tokens.RefreshToken !== undefined) void this.revoke(tokens.RefreshToken)
      throw new AppError('UNAUTHENTICATED')
    }
    return await this.outcome(output, pending.username, pending.startedAt)
  }

  /**
   * REFRESH_TOKEN_AUTH (`username` feeds SECRET_HASH). A rejected refresh token is UNAUTHENTICATED; an unreachable
   * Cognito is UPSTREAM_UNAVAILABLE.
   */
  async refresh (refreshToken: string, username: string): Promise<CognitoTokens> {
    const output = await this.gateway.call<InitiateAuthCommandOutput>(new InitiateAuthCommand({
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: this.clientId,
      AuthParameters: this.withSecretHash(username, { REFRESH_TOKEN: refreshToken })
    }), { NotAuthorizedException: 'UNAUTHENTICATED', UserNotFoundException: 'UNAUTHENTICATED', InvalidParameterException: 'UNAUTHENTICATED' })
    if (output.AuthenticationResult === undefined) throw new AppError('UNAUTHENTICATED')
    const tokens = toTokens(output.AuthenticationResult)
    // cognito-local refreshes disabled users; real Cognito refuses them. Asked of the user the new token names, not of
    // a name the caller gave (in token mode that is the client's word).
    if (this.gateway.emulator && !await this.isEnabled(tokenUsername(tokens.accessToken))) throw new AppError('UNAUTHENTICATED')
    return tokens
  }

  /**
   * Revokes a refresh token (and the access tokens issued from it, on real Cognito). Never throws: says whether Cognito
   * revoked it, refused it (it knows no live refresh token by that value), or could not be asked (or not within `budget`).
   */
  async revoke (refreshToken: string, budget = CognitoBudget.UNBOUNDED): Promise<Revocation> {
    const secret = this.gateway.settings.clientSecret
    const command = new RevokeTokenCommand({ Token: refreshToken, ClientId: this.clientId, ...(secret === '' ? {} : { ClientSecret: secret }) })
    // After the request's global sign-out, if it has one (see CognitoBudget.first).
    const asked = budget.afterFirst(async () => await this.gateway.call(command, REVOKE_TRANSLATION)).then(
      () => 'revoked' as const,
      (error: unknown) => error instanceof AppError && error.code === 'UNAUTHENTICATED' ? 'refused' as const : 'unknown' as const
    )
    // Past the request's budget the answer is not waited for: as good as unknown to the caller.
    return await budget.within(asked, () => 'unknown')
  }

  /** Cognito GlobalSignOut: every refresh token of the user. Returns false where the emulator cannot. */
  async globalSignOut (accessToken: string): Promise<boolean> {
    try {
      await this.gateway.call(new GlobalSignOutCommand({ AccessToken: accessToken }))
      return true
    } catch (error) {
      if (error instanceof UnsupportedByEmulatorError) return false
      throw error
    }
  }

  /** The user's email, read with their own access token. */
  async email (accessToken: string): Promise<string | null> {
    const output = await this.gateway.call<GetUserCommandOutput>(new GetUserCommand({ AccessToken: accessToken }))
    return output.UserAttributes?.find((a) => a.Name === 'email')?.Value ?? null
  }

  /**
   * Whether the user is enabled, asked of the emulator alongside a sign-in (cognito-local signs disabled users in;
   * real Cognito refuses them, so elsewhere this is true without a call). Asked on the next turn of the event loop,
   * once the sign-in's own request has left: started together, this call's SDK work held that request back, the
   * slower of the two (0.6 to 0.9 ms of p50 sign-in, measured; see bench/README.md).
   */
  private async enabledOnEmulator (username: string): Promise<boolean> {
    if (!this.gateway.emulator) return true
    await nextTurn()
    return await this.isEnabled(username)
  }

  /** Whether the user exists and is enabled (an admin call). */
  async isEnabled (username: string): Promise<boolean> {
    const user = await this.gateway.adminGetUser(username)
    return user !== undefined && user.Enabled !== false
  }

  private async outcome (output: InitiateAuthCommandOutput | RespondToAuthChallengeCommandOutput, username: string, startedAt: number, admitted?: Promise<void>): Promise<AuthOutcome> {
    if (output.AuthenticationResult !== undefined) return { kind: 'tokens', tokens: toTokens(output.AuthenticationResult), startedAt, ...(admitted === undefined ? {} : { admitted }) }
    const cognitoName = output.ChallengeName ?? ''
    const challenge = ownEntry(CHALLENGE_NAMES, cognitoName)
    if (challenge === undefined || output.Session === undefined) throw new AppError('INTERNAL', 'This sign-in step is not supported.')
    const parameters = output.ChallengeParameters ?? {}
    const pending: PendingChallenge = {
      challenge,
      cognitoName,
      cognitoSession: output.Session,
      // Cognito names the user by its internal id in challenges; answers must use it.
      username: parameters.USER_ID_FOR_SRP ?? username,
      details: challengeDetails(parameters),
      startedAt
    }
    if (challenge === 'MFA_SETUP') {
      const associated = await this.gateway.call<{ SecretCode?: string, Session?: string }>(new AssociateSoftwareTokenCommand({ Session: output.Session }), CHALLENGE_TRANSLATION)
      pending.cognitoSession = associated.Session ?? pending.cognitoSession
      if (associated.SecretCode !== undefined) pending.details.secretCode = associated.SecretCode
    }
    return { kind: 'challenge', pending }
  }
}

/** The username an access token names (read, not verified: it came straight from Cognito), or '' when it names none. */
function tokenUsername (accessToken: string): string {
  const { payload } = decomposeJwt(accessToken)
  const username = payload.username ?? payload['cognito:username'] ?? payload.sub
  return typeof username === 'string' ? username : ''
}

/** What a user may see of a challenge: where the code went, which MFA types to choose from. */
function challengeDetails (parameters: Record<string, string>): Record<string, string | string[]> {
  const details: Record<string, string | string[]> = {}
  if (parameters.CODE_DELIVERY_DESTINATION !== undefined) details.destination = parameters.CODE_DELIVERY_DESTINATION
  if (parameters.MFAS_CAN_CHOOSE !== undefined) {
    try { details.options = JSON.parse(parameters.MFAS_CAN_CHOOSE) as string[] } catch { /* a malformed list is simply not shown */ }
  }
  return details
}

function toTokens (result: AuthenticationResultType): CognitoTokens {
  if (result.AccessToken === undefined || result.IdToken === undefined) throw new AppError('INTERNAL')
  return {
    accessToken: result.AccessToken,
    idToken: result.IdToken,
    ...(result.RefreshToken === undefined ? {} : { refreshToken: result.RefreshToken }),
    expiresIn: result.ExpiresIn ?? 3600
  }
}
