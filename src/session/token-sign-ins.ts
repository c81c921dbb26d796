// Token mode: the refresh token behind each access token handed out, so that a sign-out with that token ends its sign-in.
import type { SharedStore } from '../store/shared-store.js'
import type { AccessClaims } from '../auth/token-verifier.js'
import { sha256 } from '../digest.js'
import type { Sealer } from './sealing.js'
import type { Revocation } from '../cognito/auth.js'
import { CognitoBudget } from '../cognito/budget.js'
import { upstreamUnavailable } from '../errors.js'
import { secondsToOutlive, tokenIdentity, type Revocations } from './revocations.js'

/*
 * In token mode the client holds the refresh token, and a sign-out brings only the access token. So whenever tokens are
 * handed out (sign-in, challenge answer, refresh), the store keeps their refresh token under the access token's jti,
 * sealed and bound to that key, for as long as the access token is accepted: one write, and nothing on bearer requests.
 * A sign-out with the access token, on whichever instance, then revokes that refresh token at Cognito.
 *
 * The sign-in's other tokens: real Cognito names the sign-in in each (origin_jti), and the sign-out revokes that name
 * (Revocations.revokeSignIn), which refuses the tokens refreshed before it and, should Cognito still honour the refresh
 * token, every one refreshed after. cognito-local's tokens name no sign-in. For those the sign-in is also named here by
 * its refresh token's digest, which the sign-out revokes likewise. And the store lists, per refresh token, the access
 * tokens it gave (a second write), which the sign-out revokes one by one.
 *
 * A sign-out may bring the refresh token instead (a client whose access token has lapsed): the list and the digest's
 * name, which every token handed out is judged by too, end the sign-in from the refresh token alone, on real Cognito as
 * on the emulator. A value Cognito refuses to revoke (revoked already, expired, made up) and that the adapter handed
 * nothing out from writes nothing to the store.
 *
 * A refresh answered while the sign-out runs: tokens are listed before they are judged, and the sign-out revokes the
 * sign-in before it reads the list. Either the list it reads holds the new token, or the judging finds the sign-in
 * revoked.
 *
 * An account keeps at most `maxPerUser` sign-ins, as it keeps that many cookie sessions: each new sign-in's refresh
 * token is kept sealed, for as long as it can give tokens, and listed under the user; one beyond the limit ends the
 * user's oldest as a sign-out by its refresh token would. An account signed in again and again (a script, a stolen
 * password) cannot fill the store. A sign-out drops its kept copy; its listing goes once the account reaches the limit.
 * Ending every session of the user (sign out everywhere, an admin's sign-out or role change, a reset) ends each listed
 * sign-in the same way, whatever Cognito's global sign-out did.
 */

function refreshKey (jti: string): string { return `token-refresh:${jti}` }
function givenKey (refreshToken: string): string { return `refresh-gave:${sha256(refreshToken)}` }
/** The name of a sign-in whose tokens carry none (cognito-local's): its refresh token's digest. */
function signInOf (refreshToken: string): string { return `refresh:${sha256(refreshToken)}` }
/** The user's sign-ins, by their refresh tokens' digests, oldest first. */
function userKey (sub: string): string { return `token-sign-ins:${sub}` }
/** A sign-in's refresh token, kept sealed while it can give tokens. */
function keptKey (digest: string): string { return `token-sign-in:${digest}` }

/** How many sign-ins an account keeps, and how long a sign-in's refresh token can give tokens. */
export interface TokenSignInLimits {
  maxPerUser: number
  signInSeconds: number
}

/** The refresh tokens behind the access tokens that token mode hands out, kept in the shared store. */
export class TokenSignIns {
  /** `revoke` revokes a refresh token at Cognito, waiting only within the budget (and never throws). */
  constructor (
    private readonly store: SharedStore,
    private readonly sealer: Sealer,
    private readonly revocations: Revocations,
    private readonly revoke: (refreshToken: string, budget: CognitoBudget) => Promise<Revocation>,
    private readonly limits: TokenSignInLimits
  ) {}

  /**
   * A new sign-in's tokens about to go to the client: keeps and lists this one, ends the user's oldest sign-ins beyond
   * `maxPerUser`, then hands its tokens out (see handOut).
   */
  async start (access: AccessClaims, refreshToken: string): Promise<boolean> {
    const digest = sha256(refreshToken)
    const key = keptKey(digest)
    const [, listed] = await Promise.all([
      this.store.set(key, this.sealer.seal(refreshToken, key), this.limits.signInSeconds),
      this.store.addToSet(userKey(access.sub), digest, this.limits.signInSeconds)
    ])
    if (listed > this.limits.maxPerUser) await this.makeRoom(access.sub, digest)
    return await this.handOut(access, refreshToken)
  }

  /**
   * Ends the sign-ins of `sub` older than its `maxPerUser` newest, never `newest` (the digest of the one just listed),
   * counted among them as SessionManager.makeRoom counts sessions: sign-ins listed at the same time, on any instance,
   * then keep the same newest. The listings of sign-ins signed out already (their refresh tokens no longer kept) are
   * dropped first and count for nothing.
   */
  private async makeRoom (sub: string, newest: string): Promise<void> {
    const kept = await this.listed(sub)
    const live = kept.filter(({ refreshToken }) => refreshToken !== undefined)
    const ending = [...kept.filter(({ refreshToken }) => refreshToken === undefined), ...live.slice(0, Math.max(0, live.length - this.limits.maxPerUser))]
    await this.endListed(sub, ending.filter(({ digest }) => digest !== newest))
  }

  /**
   * Ends every sign-in of `sub` that tokens were handed out for, as a sign-out with each one's refresh token would, on
   * every instance: what ending every session of a user (sign out everywhere, an admin sign-out or role change, a
   * password reset) does in token mode. The refresh tokens are not left to Cognito's global sign-out, which may fail
   * (a sign-out everywhere and a reset go on without it) and which the emulator lacks.
   */
  async endUser (sub: string, budget = CognitoBudget.UNBOUNDED): Promise<void> {
    await this.endListed(sub, await this.listed(sub), budget)
  }

  /** The sign-ins listed under `sub`, oldest first, each with its refresh token while it is kept (undefined once signed out). */
  private async listed (sub: string): Promise<Array<{ digest: string, refreshToken: string | undefined }>> {
    const listed = await this.store.members(userKey(sub))
    return await Promise.all(listed.map(async (digest) => {
      const key = keptKey(digest)
      const sealed = await this.store.get<string>(key)
      return { digest, refreshToken: sealed === undefined ? undefined : this.sealer.open(sealed, key) }
    }))
  }

  /** Ends the sign-ins `ending` of `sub` (those still kept) and drops them from its list, each only once it has ended. */
  private async endListed (sub: string, ending: Array<{ digest: string, refreshToken: string | undefined }>, budget = CognitoBudget.UNBOUNDED): Promise<void> {
    await Promise.all(ending.map(async ({ digest, refreshToken }) => {
      if (refreshToken !== undefined) {
        await this.revoke(refreshToken, budget)
        await this.endSignIn(refreshToken)
      }
      await this.store.removeFromSet(userKey(sub), digest)
    }))
  }

  /**
   * Tokens about to go to the client: remembers that `refreshToken` gave the (verified) access token `access`, for as
   * long as that token is accepted, then answers false when it is revoked, by itself, its user or its sign-in.
   */
  async handOut (access: AccessClaims, refreshToken: string): Promise<boolean> {
    const ttl = secondsToOutlive(access.exp)
    if (access.jti !== undefined && ttl > 0) {
      const key = refreshKey(access.jti)
      await Promise.all([
        this.store.set(key, this.sealer.seal(refreshToken, key), ttl),
        this.store.addToSet(givenKey(refreshToken), `${access.exp} ${access.jti}`, ttl)
      ])
    }
    const byRefreshToken = { ...access, originJti: signInOf(refreshToken) }
    if (access.originJti === undefined) return !await this.revocations.isRevoked(byRefreshToken)
    return !await this.revocations.isRevoked(access) && !await this.revocations.isRevoked(byRefreshToken)
  }

  /**
   * A sign-out with the (verified) `accessToken`: revokes at Cognito the refresh token it was handed out with, then
   * that sign-in and the access tokens it gave. Nothing for a token this adapter did not hand out (one taken straight
   * from Cognito). Whatever fails leaves the access token unrevoked, for a retry.
   */
  async end (accessToken: string, budget = CognitoBudget.UNBOUNDED): Promise<void> {
    const identity = tokenIdentity(accessToken)
    if (identity === undefined) return
    const key = refreshKey(identity.jti)
    const sealed = await this.store.get<string>(key)
    const refreshToken = sealed === undefined ? undefined : this.sealer.open(sealed, key)
    if (refreshToken === undefined) return
    await this.revoke(refreshToken, budget)
    await this.endSignIn(refreshToken)
  }

  /**
   * A sign-out with the refresh token itself: revokes it at Cognito, then its sign-in and each token the adapter handed
   * out from it, on every instance, a refresh still in flight included. Written for a value Cognito revoked, or one
   * this adapter handed tokens out from (a retry after a store failure finds the token revoked at Cognito already, and
   * its list still here). A value Cognito refused and nothing here knows writes nothing; one Cognito could not be asked
   * about and nothing here knows is UPSTREAM_UNAVAILABLE, for a retry.
   */
  async endByRefreshToken (refreshToken: string, budget = CognitoBudget.UNBOUNDED): Promise<void> {
    const outcome = await this.revoke(refreshToken, budget)
    if (outcome === 'revoked' || (await this.store.members(givenKey(refreshToken))).length > 0) {
      await this.endSignIn(refreshToken)
      return
    }
    if (outcome === 'unknown') throw upstreamUnavailable()
  }

  /**
   * Refuses the sign-in of `refreshToken` and every access token it gave. The sign-in first, then the list: a refresh
   * judged after this is refused, and one judged before it is on the list. Whatever fails leaves the list in place,
   * for a retry.
   */
  private async endSignIn (refreshToken: string): Promise<void> {
    await this.revocations.revokeOrigin(signInOf(refreshToken))
    const given = await this.store.members(givenKey(refreshToken))
    await Promise.all(given.map(async (member) => {
      const space = member.indexOf(' ')
      await this.revocations.revokeId(member.slice(space + 1), Number(member.slice(0, space)))
    }))
    await this.store.delete(keptKey(sha256(refreshToken)))
  }
}
