// SHA-256 digests (base64url) that stand in for secrets used as keys: session ids, tokens, one-time values.
import { hash } from 'node:crypto'

/** The SHA-256 of `text`, base64url (43 characters); one-shot, cheaper than createHash on the hot path. */
export function sha256 (text: string): string {
  return hash('sha256', text, 'base64url')
}
