// Revoked access tokens (by token id, or per user: "issued before now"), kept in the store and known locally at once.
import type { SharedStore } from '../store/shared-store.js'
import type { StoreChannel } from '../store/channel.js'
import type { AccessClaims } from '../auth/token-verifier.js'
import { BoundedView } from './bounded-view.js'

/*
 * How a revocation reaches every instance at once without a store round trip per request:
 * - The store holds the truth: `revoked-jti:<jti>` until the token expires, and `user-not-before:<sub>` for a day (the
 *   longest life of a Cognito access token). cognito-local's access tokens carry a jti but no origin_jti; real
 *   Cognito's carry both, and either one being revoked revokes the token. Ending a sign-in (revokeSignIn) revokes its
 *   origin_jti too, for as long as the sign-in's refresh token lives: on real Cognito every token refreshed from that
 *   sign-in fails with it. A refresh revokes only the token it replaces (revokeToken): its successor shares the origin_jti.
 * - An instance learns its own revocation once the store has it, never before: a failed write (503) leaves nothing
 *   behind that would make a retry look done.
 * - A revocation is written and broadcast in one step (MULTI SET + PUBLISH on Redis, see src/store/channel.ts): no
 *   instance can read the write unless the message was also sent to every subscriber.
 * - Each instance keeps a bounded local view, per token id and per user, of what it learned from the store or the
 *   channel. "Revoked" facts stay true until the token expires, so they are always used and always kept, even when
 *   the store loses its data (a Redis restart without persistence). "Not revoked" facts are used only while the
 *   channel is live: every revocation published after the fact was learned has then been received and has overwritten
 *   it. Such a fact is kept only when the channel was live and in the same generation from before the store read until
 *   after it; a new generation (the subscription was lost, messages may be missing) drops every such fact.
 * - While the channel is not live (Redis unreachable, subscription lost, or silent for its staleness bound), every
 *   check reads the store, and fails closed (503) when the store cannot answer.
 * - The instance that revokes answers its caller only once its own subscription has received the message back:
 *   Redis has then written it to every subscriber's connection, before any client can reach another instance with its
 *   next request. The residual window is a message still in flight inside another instance's socket.
 * - Memory store: one process; its channel is always live and delivers synchronously, so the local view is the truth.
 * - Work already under way (an /api response still streaming) was judged when it began: `onRevoked` listeners are told
 *   of each revocation once the view holds it, and judge that work again by `isRevoked`. A refresh names the token that
 *   replaced the revoked one in its session (`successor`), so work of that session goes on under the new token. A new
 *   generation may follow missed revocations: `onMissed` listeners judge all their work again.
 *
 * Same second: Cognito's `iat` is in whole seconds. A user's mark is the second after the revocation, and a token
 * whose iat is before the mark is refused, so every token issued up to the revocation fails, those of the same second
 * included. A token issued later in that same second would fail too, for its whole life: so revoking a user returns
 * only once the mark's second has begun (at most a second later), and a sign-in that follows it gets a token that
 * passes.
 *
 * Cookie sessions: every revocation also deletes the session records it ends. In a remote store a delete can be lost
 * (a failover to a replica that missed it, a restored snapshot), so sessions read from one are also judged here, by
 * their access token: a signed-out session that comes back is refused by every instance that knows the revocation.
 */

/** Cognito access tokens live at most a day. */
const MAX_ACCESS_TOKEN_SECONDS = 24 * 3600
/** Beyond any verification grace (TOKEN_GRACE_SECONDS is at most 60). */
const GRACE_SECONDS = 60
/**
 * How long a user's "not before" mark lives past its second: as long as the last token it refuses verifies (issued the
 * second before it, for a day, then the grace).
 */
const USER_MARK_SECONDS = MAX_ACCESS_TOKEN_SECONDS + GRACE_SECONDS
/** Facts kept per kind; the oldest go first (they are re-read from the store when needed again). */
const VIEW_SIZE = 50_000
/** How long start-up waits for the channel before serving (checks read the store meanwhile). */
const READY_WAIT_MS = 2000
const CHANNEL = 'revocations'

/**
 * Reads the `jti`, `origin_jti` (where present), `exp` and `iat` of a token the adapter itself holds (verified when
 * stored).
 */
export function tokenIdentity (token: string): { jti: string, originJti?: string, exp: number, iat: number } | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: unknown, origin_jti?: unknown, exp?: unknown, iat?: unknown }
    if (typeof payload.jti !== 'string' || typeof payload.exp !== 'number' || typeof payload.iat !== 'number') return undefined
    return { jti: payload.jti, exp: payload.exp, iat: payload.iat, ...(typeof payload.origin_jti === 'string' ? { originJti: payload.origin_jti } : {}) }
  } catch {
    return undefined
  }
}

/**
 * How long, in whole seconds from now, a fact about a token that expires at `exp` (seconds) must be kept: until the
 * verifier stops accepting the token, grace included. Zero or less once it has.
 */
export function secondsToOutlive (exp: number): number {
  return Math.ceil(exp - Date.now() / 1000) + GRACE_SECONDS
}

/** What is known of one token id or one user, and until when (ms since epoch) it matters. */
interface Fact { revoked: boolean, until: number }
interface UserFact { notBefore: number, until: number }

/**
 * A revocation as every instance learns it: a token id (a jti or a sign-in's origin_jti) until `exp`, or every token of
 * a user issued before `notBefore`. `successor`: the jti of the token that replaced this one in its session (a refresh),
 * so that what the session authorised goes on under it.
 */
export type RevocationMessage = { kind: 'token', jti: string, exp: number, successor?: string } | { kind: 'user', sub: string, notBefore: number }

/** Unknown: ask the store. */
const UNKNOWN = 2

/** Makes access tokens fail before they expire, on every instance that shares the store. */
export class Revocations {
  private readonly channel: StoreChannel
  // Revoked facts are held apart, so that facts of tokens found clear never push them out.
  private readonly tokens = new BoundedView<Fact>(VIEW_SIZE, (fact) => fact.revoked)
  private readonly users = new BoundedView<UserFact>(VIEW_SIZE, (fact) => fact.notBefore > 0)
  private generation: number
  private readonly listeners: Array<(revocation: RevocationMessage) => void> = []
  private readonly missedListeners: Array<() => void> = []

  /** `signInSeconds`: how long a sign-in's refresh token can give new access tokens (a sign-out revokes it that long). */
  constructor (private readonly store: SharedStore, private readonly signInSeconds: number) {
    this.channel = store.channel(CHANNEL)
    this.generation = this.channel.generation
    this.channel.onMessage((raw) => { this.apply(JSON.parse(raw) as RevocationMessage) })
    this.channel.onResubscribed(() => { for (const listener of this.missedListeners) listener() })
  }

  /** Waits, at most a moment, until revocations made on other instances arrive here. */
  async ready (): Promise<void> {
    await this.channel.whenLive(READY_WAIT_MS)
  }

  /**
   * Adds a listener told of every revocation as this instance learns it (made here, received from another instance,
   * or read from the store), once the local view holds it: `isRevoked` then answers by it. A revocation may be told
   * more than once.
   */
  onRevoked (listener: (revocation: RevocationMessage) => void): void {
    this.listeners.push(listener)
  }

  /**
   * Adds a listener told when revocations may have been missed (the subscription was lost, and is back): work judged
   * before must be judged again by `isRevoked`, which then asks the store.
   */
  onMissed (listener: () => void): void {
    this.missedListeners.push(listener)
  }

  /**
   * Revokes one access token (its jti) until it expires, on every instance: the token a refresh replaced, by
   * `successor` when the session now holds that one.
   */
  async revokeToken (token: string, successor?: string): Promise<void> {
    const identity = tokenIdentity(token)
    if (identity === undefined) return
    const next = successor === undefined ? undefined : tokenIdentity(successor)?.jti
    await this.revokeId(identity.jti, identity.exp, next)
  }

  /**
   * Revokes an access token and, by its origin_jti (real Cognito), every token refreshed from the same sign-in, for as
   * long as its refresh token can give new ones (signInSeconds): a sign-out.
   */
  async revokeSignIn (token: string): Promise<void> {
    const identity = tokenIdentity(token)
    if (identity === undefined) return
    const origin = identity.originJti
    await Promise.all([this.revokeId(identity.jti, identity.exp), ...(origin === undefined ? [] : [this.revokeOrigin(origin)])])
  }

  /** Revokes a sign-in by its id (the origin_jti of its tokens), for as long as its refresh token can give new tokens. */
  async revokeOrigin (origin: string): Promise<void> {
    await this.revokeId(origin, Math.floor(Date.now() / 1000) + this.signInSeconds)
  }

  /** Revokes a token id until `exp` (seconds) and the grace after it, on every instance; `successor` as in RevocationMessage. */
  async revokeId (jti: string, exp: number, successor?: string): Promise<void> {
    const ttl = secondsToOutlive(exp)
    if (ttl > 0) await this.publish({ kind: 'token', jti, exp, ...(successor === undefined ? {} : { successor }) }, `revoked-jti:${jti}`, 1, ttl)
  }

  /**
   * Revokes every access token of `sub` issued up to now (the current second included), on every instance. Resolves
   * once written, with the moment (ms) from which a token issued passes: the next second (see "Same second" above). The
   * caller answers only once it has come, so that a sign-in following the answer gets a token that passes; it may do
   * its other work meanwhile.
   */
  async revokeUser (sub: string): Promise<number> {
    const notBefore = Math.floor(Date.now() / 1000) + 1
    await this.publish({ kind: 'user', sub, notBefore }, `user-not-before:${sub}`, notBefore, USER_MARK_SECONDS + 1, true)
    return notBefore * 1000
  }

  /** Writes a revocation to the store and every instance; learns it here too once written, even if the echo is late. */
  private async publish (message: RevocationMessage, key: string, value: number, ttlSeconds: number, increasing = false): Promise<void> {
    await this.channel.publish(JSON.stringify(message), { key, value, ttlSeconds, increasing })
    this.apply(message)
  }

  /**
   * True when the token was revoked by id, by origin, or by its user's mark. Answers from the local view when it can
   * (no await in the common case); otherwise reads the store, which throws UPSTREAM_UNAVAILABLE when unreachable.
   */
  isRevoked (claims: AccessClaims): boolean | Promise<boolean> {
    if (this.channel.generation !== this.generation) {
      // Revocations may have been missed: what was known to be clear is no longer; what was revoked stays revoked.
      this.tokens.keepOnly((fact) => fact.revoked)
      this.users.keepOnly((fact) => fact.notBefore > 0)
      this.generation = this.channel.generation
    }
    const now = Date.now()
    const live = this.channel.live
    const jti = this.tokenState(claims.jti, now, live)
    const origin = this.tokenState(claims.originJti, now, live)
    if (jti === 1 || origin === 1) return true
    const user = this.users.get(claims.sub, now)
    if (user !== undefined && claims.iat < user.notBefore) return true
    if (jti === UNKNOWN || origin === UNKNOWN || user === undefined || !live) return this.lookup(claims, live)
    return false
  }

  /** 0 clear (or no id), 1 revoked, UNKNOWN. */
  private tokenState (id: string | undefined, now: number, live: boolean): number {
    if (id === undefined) return 0
    const fact = this.tokens.get(id, now)
    if (fact === undefined) return UNKNOWN
    if (fact.revoked) return 1
    return live ? 0 : UNKNOWN
  }

  private async lookup (claims: AccessClaims, wasLive: boolean): Promise<boolean> {
    const generation = this.channel.generation
    const ids = [claims.jti, claims.originJti].filter((id): id is string => id !== undefined)
    const [revoked, notBefore] = await Promise.all([
      Promise.all(ids.map(async (id) => await this.store.get(`revoked-jti:${id}`) !== undefined)),
      this.store.get<number>(`user-not-before:${claims.sub}`)
    ])
    // "Not revoked" is remembered only if no message can have been missed during the read.
    const keep = wasLive && this.channel.live && this.channel.generation === generation && generation === this.generation
    const now = Date.now()
    ids.forEach((id, i) => {
      if (revoked[i] === true) this.apply({ kind: 'token', jti: id, exp: claims.exp })
      else if (keep && this.tokens.get(id, now) === undefined) this.tokens.set(id, { revoked: false, until: (claims.exp + GRACE_SECONDS) * 1000 })
    })
    if (typeof notBefore === 'number') this.apply({ kind: 'user', sub: claims.sub, notBefore })
    else if (keep && this.users.get(claims.sub, now) === undefined) this.users.set(claims.sub, { notBefore: 0, until: Infinity })
    // A message that arrived during the read is in the view by now.
    const user = this.users.get(claims.sub, now)
    return revoked.includes(true) || (user !== undefined && claims.iat < user.notBefore) ||
      ids.some((id) => this.tokens.get(id, now)?.revoked === true)
  }

  /** Learns a revocation, from this instance, the channel or the store, then tells the listeners. */
  private apply (message: RevocationMessage): void {
    if (message.kind === 'token') {
      this.tokens.set(message.jti, { revoked: true, until: (message.exp + GRACE_SECONDS) * 1000 })
    } else {
      const known = this.users.get(message.sub, Date.now())?.notBefore ?? 0
      const notBefore = Math.max(known, message.notBefore)
      this.users.set(message.sub, { notBefore, until: (notBefore + USER_MARK_SECONDS) * 1000 })
    }
    for (const listener of this.listeners) listener(message)
  }
}
