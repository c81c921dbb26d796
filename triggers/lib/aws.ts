// Shared AWS client settings for triggers, and the one way a failed AWS call is told: without the SDK's words.

/** Credentials for local emulators (cognito-local, aws-ses-v2-local, the local KMS), which accept any signature. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' }

/** The AWS services the triggers call, as a failure's reason names them. */
export type AwsService = 'COGNITO' | 'SES'

/** The HTTP status an AWS SDK v3 error carries when the service answered; undefined when it was not reached. */
function answeredStatus (err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
  return typeof status === 'number' ? status : undefined
}

/**
 * A failed call to an AWS service, in words safe for a log and for the Lambda runtime's report of a thrown error:
 * `reason` is `<SERVICE>_REFUSED` with the HTTP `status` the service answered, or `<SERVICE>_UNREACHABLE`. It keeps
 * neither the SDK's exception name nor its message (which can quote an address or an ARN), and has no `cause`.
 */
export class AwsCallError extends Error {
  override name = 'AwsCallError'
  /** `<SERVICE>_REFUSED` or `<SERVICE>_UNREACHABLE`. */
  readonly reason: string
  /** The HTTP status the service answered with; undefined when it was not reached. */
  readonly status?: number

  /** `what` is the failed step as a sentence without its full stop, such as "SES did not send the email". */
  constructor (what: string, service: AwsService, err: unknown) {
    const status = answeredStatus(err)
    const reason = `${service}_${status === undefined ? 'UNREACHABLE' : 'REFUSED'}`
    super(`${what} (${reason}${status === undefined ? '' : `, HTTP ${status}`}).`)
    this.reason = reason
    this.status = status
  }
}
