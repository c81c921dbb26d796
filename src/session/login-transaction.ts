// Hosted login transactions: state, nonce and PKCE verifier sealed in a short-lived cookie, single use, with a safe returnTo.
import { randomBytes } from 'node:crypto'
import { sha256 } from '../digest.js'
import type { SharedStore } from '../store/shared-store.js'
import type { LoginTransaction } from '../cognito/hosted-ui.js'
import { Sealer } from './sealing.js'
import { subkey } from './keys.js'

/** The transaction cookie: `__Host-`, HttpOnly, and SameSite=Lax so it survives the top-level redirect back from the pool. */
export const LOGIN_COOKIE = '__Host-ims-login'
export const LOGIN_COOKIE_OPTIONS = { path: '/', secure: true, httpOnly: true, sameSite: 'lax' } as const

/** A transaction as the callback gets it back. */
export interface OpenedTransaction extends LoginTransaction {
  /** Its id: once used, remembered in the shared store until the transaction would have expired anyway. */
  id: string
  returnTo: string
  /**
   * When the login began (ms since epoch): the user signed in at the pool after it. A login called back after the
   * user's sessions were ended since is refused, as a challenge answered after them is (see startSession).
   */
  startedAt: number
}

interface SealedTransaction extends Omit<OpenedTransaction, 'startedAt'> {
  purpose: 'hosted-login'
  expiresAt: number
  /** When it began (ms); absent from a transaction sealed by an earlier build. */
  startedAt?: number
}

/**
 * The longest returnTo kept, counted once percent-encoded (a typed character may take up to 12): with the rest of the
 * transaction, the sealed cookie stays near 3.1 KB, under the 4 KB a browser keeps of one cookie.
 */
const MAX_RETURN_TO = 2048

/** A stand-in origin against which returnTo is resolved. */
const RETURN_TO_BASE = 'http://return-to.invalid'

/**
 * The path a login may return to: a same-origin path such as `/plans?week=3`, percent-encoded, else `/`. Absolute
 * and protocol-relative URLs (`https://evil`, `//evil`, `/\evil`), other schemes (`javascript:`), backslashes,
 * control characters, paths longer than {@link MAX_RETURN_TO} once encoded and the hosted-login routes themselves
 * are all replaced by `/`. The path is judged after resolution, where dot segments (`/.//evil`, `/%2e%2e//evil`)
 * may have turned it into `//evil`.
 */
export function safeReturnTo (value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(value)) return '/'
  let url: URL
  try {
    url = new URL(value, RETURN_TO_BASE)
  } catch {
    return '/'
  }
  const path = `${url.pathname}${url.search}${url.hash}`
  // The login routes are judged as the router will see them, decoded (`/auth/%6cogout` is the logout).
  let routed: string
  try {
    routed = decodeURIComponent(url.pathname)
  } catch {
    return '/'
  }
  if (url.origin !== RETURN_TO_BASE || path.startsWith('//') || path.length > MAX_RETURN_TO || /^\/auth\/(login|callback|logout)\b/.test(routed)) return '/'
  return path
}

/** Starts and finishes hosted login transactions; each one can finish once, within `ttlSeconds`. */
export class LoginTransactions {
  private readonly sealer: Sealer

  /** @param sessionKeyHex the session key; a key of its own is derived from it for these cookies. */
  constructor (private readonly store: SharedStore, sessionKeyHex: string, readonly ttlSeconds: number) {
    this.sealer = new Sealer(subkey(sessionKeyHex, 'hosted-login transaction cookie'))
  }

  private usedKey (id: string): string {
    return `login-tx-used:${sha256(id)}`
  }

  /**
   * Returns the sealed cookie value that carries a new transaction. Nothing is stored until the callback uses it,
   * so anonymous calls to /auth/login cost the store nothing.
   */
  async start (transaction: LoginTransaction, returnTo: string): Promise<string> {
    const id = randomBytes(32).toString('base64url')
    const startedAt = Date.now()
    const sealed: SealedTransaction = { ...transaction, id, returnTo: safeReturnTo(returnTo), purpose: 'hosted-login', startedAt, expiresAt: startedAt + this.ttlSeconds * 1000 }
    return this.sealer.seal(JSON.stringify(sealed))
  }

  /** Opens a cookie value: undefined when absent, altered, sealed with another key, or expired. Does not use it up. */
  open (cookie: string | undefined): OpenedTransaction | undefined {
    if (cookie === undefined || cookie.length > 4096) return undefined
    const plain = this.sealer.open(cookie)
    if (plain === undefined) return undefined
    let sealed: SealedTransaction
    try {
      sealed = JSON.parse(plain) as SealedTransaction
    } catch {
      return undefined
    }
    if (sealed.purpose !== 'hosted-login' || typeof sealed.expiresAt !== 'number' || sealed.expiresAt <= Date.now()) return undefined
    // Sealed as it began: the instance called back may live by another HOSTED_UI_TRANSACTION_SECONDS (a rolling deploy
    // that changes it). A transaction sealed by an earlier build, without it, began this instance's lifetime before it expires.
    const startedAt = typeof sealed.startedAt === 'number' ? sealed.startedAt : sealed.expiresAt - this.ttlSeconds * 1000
    return { id: sealed.id, state: sealed.state, nonce: sealed.nonce, codeVerifier: sealed.codeVerifier, returnTo: safeReturnTo(sealed.returnTo), startedAt }
  }

  /** Uses a transaction up; false when it was used already. */
  async consume (transaction: OpenedTransaction): Promise<boolean> {
    return await this.store.setIfAbsent(this.usedKey(transaction.id), 1, this.ttlSeconds)
  }
}
