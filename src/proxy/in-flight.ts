// The /api calls under way, by what authorised them, so that a revocation ends the ones it revokes at once.
import type { AccessClaims } from '../auth/token-verifier.js'
import type { RevocationMessage } from '../session/revocations.js'
import type { MaybePromise } from '../maybe-promise.js'

/** One forwarded call: the claims of the access token it was authorised with, and how to end it. */
export interface InFlightCall {
  claims: AccessClaims
  /** Authorised by a cookie session: a refresh of that session hands the call on to the token that replaced this one. */
  viaSession: boolean
  cut: () => void
}

/**
 * Calls indexed by token id (jti, origin_jti) and by user, so that a revocation looks only at the calls it names: a
 * call costs a few Map and Set operations to add and to remove, and a revocation nothing for the calls of others.
 */
export class InFlightCalls {
  private readonly byToken = new Map<string, Set<InFlightCall>>()
  private readonly byUser = new Map<string, Set<InFlightCall>>()

  /** `isRevoked`: the judgement requests are authenticated by (Revocations.isRevoked), so calls are judged alike. */
  constructor (private readonly isRevoked: (claims: AccessClaims) => MaybePromise<boolean>) {}

  /**
   * Holds `call` until the function returned is called (when the call ends, however it ends), and judges it once now:
   * a revocation told between the call's authentication and this moment named no call held here (a session's refresh
   * writes its new token, then revokes the old one, in between; a sign-out elsewhere may end the new one meanwhile).
   */
  add (call: InFlightCall): () => void {
    this.index(call)
    this.judge(call)
    return () => { this.unindex(call) }
  }

  /** Judges again the calls a revocation names, and cuts those it revokes. */
  revoked (revocation: RevocationMessage): void {
    const calls = revocation.kind === 'user' ? this.byUser.get(revocation.sub) : this.byToken.get(revocation.jti)
    if (calls === undefined) return
    for (const call of [...calls]) {
      if (revocation.kind === 'token' && revocation.successor !== undefined && call.viaSession && call.claims.jti === revocation.jti) {
        // Its session holds the successor now. Judged by the replaced token's iat still: a user's mark between the two
        // issues ended that session anyway.
        this.unindex(call)
        call.claims = { ...call.claims, jti: revocation.successor }
        this.index(call)
      }
      this.judge(call)
    }
  }

  /** Judges every call again: revocations may have been missed (see Revocations.onMissed). */
  judgeAll (): void {
    for (const calls of [...this.byUser.values()]) {
      for (const call of [...calls]) this.judge(call)
    }
  }

  /**
   * Cuts the call when its token is revoked. A judgement that needs the store and cannot have it leaves the call
   * alone: the revocation that named it did not revoke it by itself (a user's mark later than the token, say).
   */
  private judge (call: InFlightCall): void {
    const revoked = this.isRevoked(call.claims)
    if (revoked instanceof Promise) revoked.then((yes) => { if (yes) call.cut() }, () => {})
    else if (revoked) call.cut()
  }

  private index (call: InFlightCall): void {
    const { jti, originJti, sub } = call.claims
    if (jti !== undefined) addTo(this.byToken, jti, call)
    if (originJti !== undefined) addTo(this.byToken, originJti, call)
    addTo(this.byUser, sub, call)
  }

  private unindex (call: InFlightCall): void {
    const { jti, originJti, sub } = call.claims
    if (jti !== undefined) removeFrom(this.byToken, jti, call)
    if (originJti !== undefined) removeFrom(this.byToken, originJti, call)
    removeFrom(this.byUser, sub, call)
  }
}

function addTo (index: Map<string, Set<InFlightCall>>, key: string, call: InFlightCall): void {
  const calls = index.get(key)
  if (calls === undefined) index.set(key, new Set([call]))
  else calls.add(call)
}

function removeFrom (index: Map<string, Set<InFlightCall>>, key: string, call: InFlightCall): void {
  const calls = index.get(key)
  if (calls === undefined) return
  calls.delete(call)
  if (calls.size === 0) index.delete(key)
}
