// The application's errors: stable codes from the contract; src/plugins/error-handler.ts is the one place they become HTTP.

/** Every error code of the HTTP contract, with its status. */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  INVALID_CREDENTIALS: 401,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CSRF_REQUIRED: 403,
  USER_NOT_CONFIRMED: 403,
  PASSWORD_RESET_REQUIRED: 403,
  INVALID_CODE: 400,
  INVALID_PASSWORD: 400,
  USERNAME_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  UPSTREAM_UNAVAILABLE: 503,
  BAD_GATEWAY: 502,
  GATEWAY_TIMEOUT: 504,
  CONFLICT: 409,
  NOT_FOUND: 404,
  INTERNAL: 500
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/** The default sentence a user sees for each code. */
const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  VALIDATION_ERROR: 'The request is not valid.',
  INVALID_CREDENTIALS: 'The username or password is incorrect.',
  UNAUTHENTICATED: 'Sign in to continue.',
  FORBIDDEN: 'Your role does not allow this.',
  CSRF_REQUIRED: 'This request must carry the X-CSRF: 1 header and come from this site.',
  USER_NOT_CONFIRMED: 'This account is not confirmed yet.',
  PASSWORD_RESET_REQUIRED: 'A password reset is required for this account.',
  INVALID_CODE: 'The code is wrong or has expired.',
  INVALID_PASSWORD: 'The new password does not meet the password rules.',
  USERNAME_EXISTS: 'An account with this username already exists.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  UNSUPPORTED_MEDIA_TYPE: 'Send the request body as application/json.',
  TOO_MANY_REQUESTS: 'Too many attempts. Wait a moment and try again.',
  UPSTREAM_UNAVAILABLE: 'The sign-in service is unavailable right now. Try again shortly.',
  BAD_GATEWAY: 'The IMS service could not be reached.',
  GATEWAY_TIMEOUT: 'The IMS service took too long to answer.',
  CONFLICT: 'The request conflicts with the current state.',
  NOT_FOUND: 'Not found.',
  INTERNAL: 'Something went wrong on our side.'
}

/** An error the contract knows: `code` picks the status; `extra` fields join the body (e.g. `rules`). */
export class AppError extends Error {
  override name = 'AppError'
  readonly statusCode: number
  /** Seconds for a `Retry-After` header, where the code calls for one. */
  retryAfterSeconds?: number

  constructor (readonly code: ErrorCode, message?: string, readonly extra: Record<string, unknown> = {}) {
    super(message ?? DEFAULT_MESSAGES[code])
    this.statusCode = ERROR_STATUS[code]
  }

  /** Adds a Retry-After value (seconds) and returns this error. */
  retryAfter (seconds: number): this {
    this.retryAfterSeconds = Math.max(1, Math.ceil(seconds))
    return this
  }
}

/** No valid session or token. */
export const unauthenticated = (message?: string): AppError => new AppError('UNAUTHENTICATED', message)

/** Cognito (or Redis, or the key endpoint) did not answer in time or failed; the caller may retry. */
export const upstreamUnavailable = (retryAfterSeconds = 5): AppError =>
  new AppError('UPSTREAM_UNAVAILABLE').retryAfter(retryAfterSeconds)

/** The emulator cannot do this operation; real Cognito can. */
export class UnsupportedByEmulatorError extends Error {
  override name = 'UnsupportedByEmulatorError'
}
