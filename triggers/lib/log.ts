// Structured JSON logging for triggers, plus the masking that keeps codes, passwords and addresses out of logs.
import { AwsCallError } from './aws.js'

/** Fields attached to a log line; never put a code, a password or a full email address here. */
export type LogFields = Record<string, string | number | boolean | null | undefined>

/** The logger a trigger receives in its deps. */
export interface TriggerLogger {
  info: (msg: string, fields?: LogFields) => void
  warn: (msg: string, fields?: LogFields) => void
  error: (msg: string, fields?: LogFields) => void
}

/** A logger that writes one JSON line per call to `write` (stdout by default; CloudWatch picks it up in Lambda). */
export function jsonLogger (write: (line: string) => void = (line) => { process.stdout.write(line + '\n') }): TriggerLogger {
  const emit = (level: string) => (msg: string, fields: LogFields = {}) => {
    write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }))
  }
  return { info: emit('info'), warn: emit('warn'), error: emit('error') }
}

/**
 * Masks an email address for logs: `alice.smith@example.com` becomes `a***@e***.com`.
 * Anything that is not an address becomes `***`.
 */
export function maskEmail (address: string | undefined): string {
  if (address === undefined) return '(none)'
  const at = address.lastIndexOf('@')
  if (at < 1 || at === address.length - 1) return '***'
  const local = address.slice(0, at)
  const domain = address.slice(at + 1)
  const dot = domain.lastIndexOf('.')
  const tld = dot > 0 ? domain.slice(dot) : ''
  return `${local[0]}***@${domain[0]}***${tld}`
}

/**
 * Why a step failed, safe to log: an {@link AwsCallError}'s reason (`SES_REFUSED`, `COGNITO_UNREACHABLE`, ...) and
 * HTTP status, or else the name of the trigger's own error; never a message (which may quote an address).
 */
export function failureFields (err: unknown): LogFields {
  if (err instanceof AwsCallError) return { reason: err.reason, status: err.status }
  return { reason: err instanceof Error ? err.name : typeof err }
}
