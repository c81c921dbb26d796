// Derives one key per purpose from the single SESSION_ENCRYPTION_KEY (HKDF-SHA256), so no key serves two algorithms.
import { hkdfSync } from 'node:crypto'

/** The purposes the session key is stretched to; each gets an independent 256-bit key. */
export type KeyPurpose = 'session store' | 'hosted-login transaction cookie' | 'username hash'

/** The 256-bit key for `purpose`, as 64 hex characters, derived from the 64-hex-character `masterHex`. */
export function subkey (masterHex: string, purpose: KeyPurpose): string {
  return Buffer.from(hkdfSync('sha256', Buffer.from(masterHex, 'hex'), Buffer.alloc(0), `ims ${purpose}`, 32)).toString('hex')
}
