// Password recovery, self sign-up, confirmation codes and password changes against the user pool, in the contract's terms.
import {
  ChangePasswordCommand, ConfirmForgotPasswordCommand, ConfirmSignUpCommand, ForgotPasswordCommand, ResendConfirmationCodeCommand, SignUpCommand,
  type AttributeType, type PasswordPolicyType
} from '@aws-sdk/client-cognito-identity-provider'
import { AppError } from '../errors.js'
import { invalidPassword, unmetRules } from '../auth/password-policy.js'
import type { CognitoGateway, Translation } from './gateway.js'

/**
 * Cognito's own refusals of a new password (whatever call sets one), as INVALID_PASSWORD naming the rule: a recent
 * password of the user, or a password that met every rule we know of.
 */
export const PASSWORD_REFUSALS = {
  PasswordHistoryPolicyViolationException: () => invalidPassword(['PASSWORD_HISTORY']),
  InvalidPasswordException: () => invalidPassword(['POOL_POLICY'])
} satisfies Translation

/**
 * Wrong, expired or used code, unknown user, already-confirmed user, a user in any state the code does not fit: one and
 * the same INVALID_CODE, so a code route never tells what state an account is in.
 */
const CODE_TRANSLATION: Translation = {
  CodeMismatchException: 'INVALID_CODE',
  ExpiredCodeException: 'INVALID_CODE',
  UserNotFoundException: 'INVALID_CODE',
  NotAuthorizedException: 'INVALID_CODE',
  UserNotConfirmedException: 'INVALID_CODE',
  PasswordResetRequiredException: 'INVALID_CODE',
  InvalidParameterException: 'INVALID_CODE',
  ...PASSWORD_REFUSALS
}

/** What the code-sending calls report (to the audit log only): why nothing was sent. */
const SEND_TRANSLATION: Translation = {
  UserNotFoundException: 'NOT_FOUND',
  NotAuthorizedException: 'FORBIDDEN',
  InvalidParameterException: 'VALIDATION_ERROR'
}

/** Recovery and account verification flows of one app client. */
export class CognitoRecovery {
  private policy?: Promise<PasswordPolicyType>

  constructor (private readonly gateway: CognitoGateway) {}

  private get clientId (): string { return this.gateway.settings.clientId }

  /** What a call on behalf of `username` says of its caller: the SECRET_HASH, and the user's IP (see userContext). */
  private caller (username: string, clientIp: string | undefined): { SecretHash?: string, UserContextData?: { IpAddress: string } } {
    const hash = this.gateway.secretHash(username)
    return { ...(hash === undefined ? {} : { SecretHash: hash }), ...this.gateway.userContext(clientIp) }
  }

  /** The pool's password policy, read once (DescribeUserPool) and kept; a failed read is retried next time. */
  async passwordPolicy (): Promise<PasswordPolicyType> {
    if (this.policy === undefined) {
      const reading = this.gateway.describePool()
        .then((output) => output.UserPool?.Policies?.PasswordPolicy ?? {})
      reading.catch(() => { if (this.policy === reading) this.policy = undefined })
      this.policy = reading
    }
    return await this.policy
  }

  /** Throws INVALID_PASSWORD naming every rule of the pool's policy that `password` does not meet. */
  async checkPassword (password: string): Promise<void> {
    const unmet = unmetRules(await this.passwordPolicy(), password)
    if (unmet.length > 0) throw invalidPassword(unmet)
  }

  /**
   * ForgotPassword: Cognito sends a code. Failures are translated for the audit log; callers must not show them.
   * `clientIp` is the user's, here and below (see CognitoGateway.userContext).
   */
  async forgotPassword (username: string, clientIp?: string): Promise<void> {
    await this.gateway.call(new ForgotPasswordCommand({ ClientId: this.clientId, Username: username, ...this.caller(username, clientIp) }), SEND_TRANSLATION)
  }

  /** ResendConfirmationCode (real Cognito only: the emulator throws UnsupportedByEmulatorError). */
  async resendCode (username: string, clientIp?: string): Promise<void> {
    await this.gateway.call(new ResendConfirmationCodeCommand({ ClientId: this.clientId, Username: username, ...this.caller(username, clientIp) }), SEND_TRANSLATION)
  }

  /** ConfirmForgotPassword: sets `newPassword` (byte for byte) when `code` is right; else INVALID_CODE. */
  async confirmForgotPassword (username: string, code: string, newPassword: string, clientIp?: string): Promise<void> {
    await this.gateway.call(new ConfirmForgotPasswordCommand({
      ClientId: this.clientId,
      Username: username,
      ConfirmationCode: code,
      Password: newPassword,
      ...this.caller(username, clientIp)
    }), CODE_TRANSLATION)
  }

  /**
   * SignUp with `email` as the email attribute, and `locale` (the language the user asked for) as the locale attribute
   * that picks the language of the user's emails; the password travels byte for byte. A pool whose app client may not
   * write `locale` refuses it as it refuses a sign-up it does not allow, so that refusal is asked once more without it.
   */
  async signUp (username: string, password: string, email: string, clientIp?: string, locale?: string): Promise<void> {
    try {
      await this.sendSignUp(username, password, [{ Name: 'email', Value: email }, ...(locale === undefined ? [] : [{ Name: 'locale', Value: locale }])], clientIp)
    } catch (error) {
      if (locale === undefined || !(error instanceof AppError && error.code === 'FORBIDDEN')) throw error
      await this.sendSignUp(username, password, [{ Name: 'email', Value: email }], clientIp)
    }
  }

  private async sendSignUp (username: string, password: string, attributes: AttributeType[], clientIp?: string): Promise<void> {
    await this.gateway.call(new SignUpCommand({
      ClientId: this.clientId,
      Username: username,
      Password: password,
      UserAttributes: attributes,
      ...this.caller(username, clientIp)
    }), {
      ...PASSWORD_REFUSALS,
      // A pool without self sign-up answers NotAuthorizedException.
      NotAuthorizedException: () => new AppError('FORBIDDEN', 'Self sign-up is not enabled for this user pool.')
    })
  }

  /** ConfirmSignUp: INVALID_CODE for a wrong or used code, an unknown or an already-confirmed user alike. */
  async confirmSignUp (username: string, code: string, clientIp?: string): Promise<void> {
    await this.gateway.call(new ConfirmSignUpCommand({ ClientId: this.clientId, Username: username, ConfirmationCode: code, ...this.caller(username, clientIp) }), CODE_TRANSLATION)
  }

  /**
   * ChangePassword with the caller's access token. A wrong current password is INVALID_CREDENTIALS (the emulator
   * reports it as InvalidPasswordException; real Cognito as NotAuthorizedException).
   */
  async changePassword (accessToken: string, oldPassword: string, newPassword: string): Promise<void> {
    const wrongPassword = (): AppError => new AppError('INVALID_CREDENTIALS', 'The current password is incorrect.')
    await this.gateway.call(new ChangePasswordCommand({ AccessToken: accessToken, PreviousPassword: oldPassword, ProposedPassword: newPassword }), {
      ...PASSWORD_REFUSALS,
      NotAuthorizedException: wrongPassword,
      ...(this.gateway.emulator ? { InvalidPasswordException: wrongPassword } : {})
    })
  }
}
