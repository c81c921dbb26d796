// Revoked access tokens: by token id, or by user ("tokens issued before now"), shared through the store.
import type { SharedStore } from '../store/shared-store.js'
import type { AccessClaims } from '../auth/token-verifier.js'

/** Cognito access tokens live at most a day; a user's "not before" mark need not outlive that. */
const MAX_ACCESS_TOKEN_SECONDS = 24 * 3600

/** Reads the `jti` and `exp` of a token the adapter itself holds (already verified when it was stored). */
export function tokenIdentity (token: string): { jti: string, exp: number } | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: unknown, exp?: unknown }
    return typeof payload.jti === 'string' && typeof payload.exp === 'number' ? { jti: payload.jti, exp: payload.exp } : undefined
  } catch {
    return undefined
  }
}

/** Makes access tokens fail before they expire, on every instance that shares the store. */
export class Revocations {
  constructor (private readonly store: SharedStore) {}

  /** Revokes one access token until it expires. */
  async revokeToken (token: string): Promise<void> {
    const identity = tokenIdentity(token)
    if (identity === undefined) return
    const ttl = Math.ceil(identity.exp - Date.now() / 1000) + 60
    if (ttl > 0) await this.store.set(`revoked-jti:${identity.jti}`, 1, ttl)
  }

  /** Revokes every access token of `sub` issued before this second. */
  async revokeUser (sub: string): Promise<void> {
    await this.store.set(`user-not-before:${sub}`, Math.floor(Date.now() / 1000), MAX_ACCESS_TOKEN_SECONDS)
  }

  /** True when the token was revoked by id, by origin, or by its user's "not before" mark. */
  async isRevoked (claims: AccessClaims): Promise<boolean> {
    const ids = [claims.jti, claims.originJti].filter((id): id is string => id !== undefined)
    for (const id of ids) if (await this.store.get(`revoked-jti:${id}`) !== undefined) return true
    const notBefore = await this.store.get<number>(`user-not-before:${claims.sub}`)
    return notBefore !== undefined && claims.iat < notBefore
  }
}
