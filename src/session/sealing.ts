// Encrypts what the session store keeps (tokens, Cognito challenge sessions) with AES-256-GCM, bound to what they belong to.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Seals and opens strings with one 256-bit key; a sealed value is base64url `iv | tag | ciphertext`. A `context`
 * given to `seal` (associated data: authenticated, not stored) must be given again, unchanged, to `open` it.
 */
export class Sealer {
  private readonly key: Buffer

  /** @param keyHex 64 hex characters. */
  constructor (keyHex: string) {
    this.key = Buffer.from(keyHex, 'hex')
    if (this.key.length !== 32) throw new Error('The session encryption key must be 64 hex characters (256 bits).')
  }

  seal (plain: string, context?: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
  }

  /** Returns the plain text, or undefined when the value was not sealed with this key and context, or was altered. */
  open (sealed: string, context?: string): string | undefined {
    try {
      const raw = Buffer.from(sealed, 'base64url')
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES))
      if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}
