// Server-side sessions and pending challenges: opaque random ids, hashed keys, sealed secrets, idle and absolute limits.
import { randomBytes } from 'node:crypto'
import { sha256 } from '../digest.js'
import type { SharedStore } from '../store/shared-store.js'
import { unauthenticated, upstreamUnavailable } from '../errors.js'
import type { PendingChallenge } from '../cognito/auth.js'
import type { Sealer } from './sealing.js'
import { SessionView } from './session-view.js'
import type { MaybePromise } from '../maybe-promise.js'

/** One signed-in browser's session, as the adapter uses it (the store keeps it as a StoredSession). */
export interface SessionRecord {
  sub: string
  username: string
  email: string | null
  groups: string[]
  accessToken: string
  /** The refresh token, sealed with the session key. */
  refreshTokenSealed: string
  /** When the access token expires (ms since epoch). */
  accessExpiresAt: number
  createdAt: number
  lastSeenAt: number
  /** The session ends then, whatever happens (ms since epoch). */
  absoluteExpiresAt: number
}

/** What the store keeps: every token sealed, so the raw store holds no usable token and no session id. */
type StoredSession = Omit<SessionRecord, 'accessToken'> & { accessTokenSealed: string }

/**
 * What a rotation leaves under the old id for MOVED_SECONDS: the id the session moved to, sealed and bound to the old
 * id's key. Written over the session in one step, so whoever finds the old id gone can tell a move from an end.
 */
interface MoveNote { movedTo: string }

/** What a session's key holds. */
type StoredEntry = StoredSession | MoveNote

function isMove (stored: StoredEntry): stored is MoveNote {
  return 'movedTo' in stored
}

/** A loaded session and the id it was found under. */
export interface Session { id: string, record: SessionRecord }

/** Lifetimes, in seconds. */
export interface SessionLimits {
  idleSeconds: number
  absoluteSeconds: number
  challengeSeconds: number
  /** Sessions one user keeps at once (see makeRoom). */
  maxPerUser: number
}

/** A challenge waiting for its answer, with the wrong answers counted and the time (ms) it ends, whatever answers come. */
export interface ChallengeRecord extends PendingChallenge { attempts: number, expiresAt: number }

/** 256-bit random ids, base64url. */
export function newId (): string {
  return randomBytes(32).toString('base64url')
}

/** Ids are never stored as such: a leaked store does not yield usable cookies. */
function hashId (id: string): string {
  return sha256(id)
}

/**
 * The associated data a stored value's seal is bound to: the key it is stored under and every field stored beside it
 * but `unbound`, in a fixed order. Whoever can write to the store then cannot change whose record it is, what it grants
 * or how long it lasts, nor move it (or its sealed tokens) to another key: the record no longer opens.
 */
function sealContext (key: string, fields: Record<string, unknown>, unbound?: string): string {
  const bound = Object.keys(fields).filter((name) => name !== unbound && fields[name] !== undefined).sort()
  return JSON.stringify([key, ...bound.map((name) => [name, fields[name]])])
}

/** A session's last-seen time is written alone (a touch costs no encryption), so its seal does not cover it. */
const TOUCHED_FIELD = 'lastSeenAt'

/** Where a session is stored, by its hashed id. */
function sessionKeyOf (hashed: string): string {
  return `session:${hashed}`
}

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/
/** How long a used one-time code is remembered. */
const USED_CODE_SECONDS = 120
/** Writes of `lastSeenAt` closer together than this are skipped, to spare the store (a tenth of the idle limit, at most a minute). */
const MAX_TOUCH_INTERVAL_MS = 60_000
/** How many times destroyUser reads a user's sessions again, so sign-ins that never stop cannot hold it forever. */
const MAX_DESTROY_ROUNDS = 5
/**
 * How long a rotated id remembers where it went: longer than any sign-out that read the session before it moved, and
 * than any refresh of it still at Cognito when it moved.
 */
const MOVED_SECONDS = 60
/** How many rotations in a row an ending session, or a late refresh, is followed through (each note lasts MOVED_SECONDS). */
const MAX_MOVES = 50
/** How many times a write over a session is tried again when something else (a touch, a refresh) wrote it meanwhile. */
const MAX_WRITE_TRIES = 10

/** Creates, finds, touches and ends sessions in a SharedStore. */
export class SessionManager {
  private readonly touchIntervalMs: number
  /** Sessions read lately from a remote store (none for the memory store, which is already in this process). */
  private readonly view: SessionView<StoredSession> | undefined

  constructor (private readonly store: SharedStore, private readonly sealer: Sealer, readonly limits: SessionLimits) {
    this.touchIntervalMs = Math.min(MAX_TOUCH_INTERVAL_MS, limits.idleSeconds * 100)
    this.view = store.readNow !== undefined ? undefined : new SessionView(store.channel('sessions'))
  }

  /**
   * Opened records by stored object: the memory store hands back the same object, so a session in use is opened once.
   * A move note is never among them.
   */
  private readonly opened = new WeakMap<StoredEntry, SessionRecord>()

  private sessionKey (id: string): string { return sessionKeyOf(hashId(id)) }

  /** The record as stored under `key`: its access token sealed, bound to the key and the other fields. */
  private seal (record: SessionRecord, key: string): StoredSession {
    const { accessToken, ...rest } = record
    return { ...rest, accessTokenSealed: this.sealer.seal(accessToken, sealContext(key, rest, TOUCHED_FIELD)) }
  }

  /**
   * The record behind a session stored under `key`; undefined when it was sealed with another session key, altered
   * (its last-seen time aside), or written under another key.
   */
  private open (stored: StoredSession, key: string): SessionRecord | undefined {
    const known = this.opened.get(stored)
    if (known !== undefined) return known
    const { accessTokenSealed, ...rest } = stored
    const accessToken = this.sealer.open(accessTokenSealed, sealContext(key, rest, TOUCHED_FIELD))
    if (accessToken === undefined) return undefined
    const record = { ...rest, accessToken }
    this.opened.set(stored, record)
    return record
  }

  private async save (id: string, record: SessionRecord, now: number): Promise<void> {
    await this.store.set(...this.entry(id, record, now))
  }

  /** The store's key, value and ttl (seconds) of the session `id` holding `record`. */
  private entry (id: string, record: SessionRecord, now: number): [key: string, value: StoredSession, ttlSeconds: number] {
    const key = this.sessionKey(id)
    return [key, this.seal(record, key), this.ttlSeconds(record, now)]
  }
  private userKey (sub: string): string { return `session-list:${sub}` }
  private challengeKey (id: string): string { return `challenge:${hashId(id)}` }

  /** The note that the session stored under `key` moved to `id`. */
  private moveNote (id: string, key: string): MoveNote {
    return { movedTo: this.sealer.seal(id, sealContext(key, {})) }
  }

  /** The id a move note found under `key` names; undefined when it was not written there with this key. */
  private movedTo (note: MoveNote, key: string): string | undefined {
    return this.sealer.open(note.movedTo, sealContext(key, {}))
  }

  /** The session record under `key`; undefined for a move note or a record that does not open (see `open`). */
  private openEntry (stored: StoredEntry | undefined, key: string): SessionRecord | undefined {
    return stored === undefined || isMove(stored) ? undefined : this.open(stored, key)
  }

  private ttlSeconds (record: SessionRecord, now: number): number {
    const untilAbsolute = (record.absoluteExpiresAt - now) / 1000
    return Math.max(1, Math.ceil(Math.min(this.limits.idleSeconds, untilAbsolute)))
  }

  /**
   * Stores a new session under a fresh id (never one the client sent) and returns it, with how many sessions its user
   * has listed now (this one included; more than `maxPerUser` asks for makeRoom).
   */
  async create (fields: Omit<SessionRecord, 'createdAt' | 'lastSeenAt' | 'absoluteExpiresAt' | 'refreshTokenSealed'> & { refreshToken: string }): Promise<Session & { listed: number }> {
    const now = Date.now()
    const { refreshToken, ...rest } = fields
    const record: SessionRecord = {
      ...rest,
      refreshTokenSealed: this.sealer.seal(refreshToken),
      createdAt: now,
      lastSeenAt: now,
      absoluteExpiresAt: now + this.limits.absoluteSeconds * 1000
    }
    const id = newId()
    // Written before it is listed, as in rotate: ending every session of the user then finds it, or runs before it is
    // listed (and the caller, which checks the user's revocations after this, refuses it). One round trip for both.
    const listed = await this.store.setThenAddToSet(...this.entry(id, record, now), this.userKey(record.sub), hashId(id), this.limits.absoluteSeconds)
    return { id, record, listed }
  }

  /**
   * Ends the sessions of `sub` (and the ids they moved into) older than its `maxPerUser` newest, never `newest` (the
   * session just created), and answers their records, so that their tokens can be revoked: an account signing in again
   * and again, by a script or with a stolen password, cannot fill the store. Listed ids whose sessions lapsed (idle, a
   * closed tab) are dropped first and count for nothing, as do ids moved on (the id they moved into is listed).
   * `newest` counts among the newest kept, not beside them: sign-ins of the account listed at the same time, on any
   * instance, each making room, then all keep the same newest, instead of each ending the others' new sessions.
   */
  async makeRoom (sub: string, newest: string): Promise<SessionRecord[]> {
    const kept = hashId(newest)
    const listed = await this.store.members(this.userKey(sub))
    const stored = await Promise.all(listed.map(async (hashed) => await this.store.get<StoredEntry>(sessionKeyOf(hashed))))
    const lapsed = listed.filter((_, i) => stored[i] === undefined)
    const held = listed.filter((_, i) => stored[i] !== undefined && !isMove(stored[i]!))
    const oldest = held.slice(0, Math.max(0, held.length - this.limits.maxPerUser))
    const ending = [...lapsed, ...oldest].filter((hashed) => hashed !== kept)
    return (await Promise.all(ending.map(async (hashed) => await this.destroyFrom(hashed, sub)))).flat()
  }

  /** True while the record is within its idle and absolute limits. */
  private alive (record: SessionRecord, now: number): boolean {
    return record.absoluteExpiresAt > now && record.lastSeenAt + this.limits.idleSeconds * 1000 > now
  }

  /**
   * Finds a live session; malformed, unknown, idle or expired ids find nothing. Touches it now and then. A session at
   * hand (in this process's store, or in the view of a remote one) that needs no touch is answered at once, without a
   * promise: the common case, on every cookie request.
   */
  find (id: string | undefined): MaybePromise<Session | undefined> {
    if (id === undefined || !ID_PATTERN.test(id)) return undefined
    const key = this.sessionKey(id)
    const atHand = this.view !== undefined ? this.view.get(key) : this.store.readNow?.<StoredEntry>(key)
    if (atHand !== undefined) {
      const record = this.opened.get(atHand)
      const now = Date.now()
      // Anything but a plain hit (expired, or due for its touch) is decided on what the store holds now.
      if (record !== undefined && this.alive(record, now) && now - record.lastSeenAt < this.touchIntervalMs) return { id, record }
    }
    return this.findStored(id, key)
  }

  /** `find` on what the store holds now, whatever copy of it this instance has at hand. */
  async findInStore (id: string): Promise<Session | undefined> {
    return ID_PATTERN.test(id) ? await this.findStored(id, this.sessionKey(id)) : undefined
  }

  /** `find` on what the store holds now, under its key. */
  private async findStored (id: string, key: string): Promise<Session | undefined> {
    const mark = this.view?.mark()
    const stored = await this.store.get<StoredEntry>(key)
    // A moved id stops working at once; the note stays for whoever ends or refreshes what was read before the move.
    if (stored === undefined || isMove(stored)) return undefined
    const now = Date.now()
    const record = this.open(stored, key)
    if (record === undefined || !this.alive(record, now)) {
      await this.destroy(id, stored)
      return undefined
    }
    if (now - record.lastSeenAt >= this.touchIntervalMs) {
      // The sealed tokens are kept as they are: a touch costs no encryption.
      const touched = { ...record, lastSeenAt: now }
      const touchedStored = { ...stored, lastSeenAt: now }
      this.opened.set(touchedStored, touched)
      // Only over what was read: a refresh that wrote new tokens meanwhile must not be undone, and a session ended
      // meanwhile (sign-out, revocation) stays ended. Either way what the store holds now decides.
      if (!await this.store.replaceIfUnchanged(key, stored, touchedStored, this.ttlSeconds(touched, now))) {
        const current = this.openEntry(await this.store.get<StoredEntry>(key), key)
        return current === undefined ? undefined : { id, record: current }
      }
      if (mark !== undefined) this.view?.remember(key, touchedStored, mark)
      return { id, record: touched }
    }
    if (mark !== undefined) this.view?.remember(key, stored, mark)
    return { id, record }
  }

  /**
   * Saves new tokens into a session, keeping its id; UNAUTHENTICATED when the session ended meanwhile. When another
   * request (another tab, another instance) moved it to a new id meanwhile, nothing is saved: that rotation refreshed it
   * too, and the answer holds the tokens of the session it moved into, under the id it was found with (`rotate` then
   * follows the move, a sign-out ends both ids). Nothing is saved either when another refresh wrote new tokens into it
   * since `session` was read (two requests near expiry on two instances): those stay, the other request may be using
   * them already, and the answer holds them. Either way the caller's new tokens went unused.
   */
  async update (session: Session, tokens: { accessToken: string, accessExpiresAt: number, groups: string[], refreshToken?: string }): Promise<Session> {
    const now = Date.now()
    const { refreshToken, ...rest } = tokens
    const record: SessionRecord = {
      ...session.record,
      ...rest,
      ...(refreshToken === undefined ? {} : { refreshTokenSealed: this.sealer.seal(refreshToken) }),
      lastSeenAt: now
    }
    // A refresh that finishes after a sign-out, a revocation or a move must not bring the old id back.
    const key = this.sessionKey(session.id)
    const left = await this.writeOver(key, async (current) => {
      // A touch leaves the tokens as read; a refresh elsewhere does not (and this record would overwrite its tokens).
      return this.open(current, key)?.accessToken === session.record.accessToken ? this.seal(record, key) : undefined
    }, this.ttlSeconds(record, now))
    if (left === 'written') {
      await this.view?.invalidate([key])
      return { id: session.id, record }
    }
    if (left !== undefined && !isMove(left)) {
      const refreshed = this.open(left, key)
      if (refreshed === undefined) throw unauthenticated()
      return { id: session.id, record: refreshed }
    }
    return { id: session.id, record: (await this.movedInto(left, key)).record }
  }

  /**
   * Moves a session to a fresh id (the old id stops working) and returns it. When another request (another tab, another
   * instance) moved it first, answers the session it moved into, so both get the same id; UNAUTHENTICATED when it ended.
   */
  async rotate (session: Session): Promise<Session> {
    // The new id is written and listed among the user's sessions, and only then is the old entry replaced by a note of
    // where it went, in one step over what was read: ending every session of the user (destroyUser), or this one
    // (destroy, a sign-out that read the old id), on any instance and at any moment, ends the new id too (it is listed,
    // or the note leads to it) or makes the move fail. Only one rotation wins; a later one finds the note, writes
    // nothing and answers the winner's session (an ended session, whose entry is gone, cannot be moved back to life).
    // What moves is the record the store holds when the move is written, not the one this request read: another
    // instance may have refreshed the tokens meanwhile (and revoked those read).
    const key = this.sessionKey(session.id)
    const id = newId()
    let moved: Session | undefined
    let left: Awaited<ReturnType<SessionManager['writeOver']>>
    try {
      left = await this.writeOver(key, async (current) => {
        const now = Date.now()
        const held = this.open(current, key)
        if (held === undefined) throw unauthenticated()
        const listed = moved !== undefined
        moved = { id, record: { ...held, lastSeenAt: now } }
        await this.save(id, moved.record, now)
        if (!listed) await this.store.addToSet(this.userKey(held.sub), hashId(id), this.limits.absoluteSeconds)
        return this.moveNote(id, key)
      }, MOVED_SECONDS)
    } catch (error) {
      // Never handed out: a new id saved for a move that could not be written.
      if (moved !== undefined) await this.destroy(id, moved.record)
      throw error
    }
    if (left === 'written') {
      await this.view?.invalidate([key])
      await this.store.removeFromSet(this.userKey(session.record.sub), hashId(session.id))
      return moved!
    }
    // Never handed out: written for a move that another rotation, or the end of the session, got to first.
    if (moved !== undefined) await this.destroy(id, moved.record)
    return await this.movedInto(left === undefined || isMove(left) ? left : undefined, key)
  }

  /**
   * Writes `value()` over the session stored under `key`, only over the record just read (when a touch or a refresh
   * wrote it meanwhile, reads it again), never over an ended or moved session, nor when `value()` answers undefined
   * (leave it as it is). Answers 'written', or what stopped the write: undefined for an ended session, the note of a
   * move, the session left as it is.
   */
  private async writeOver (key: string, value: (current: StoredSession) => Promise<StoredEntry | undefined>, ttlSeconds: number): Promise<'written' | StoredEntry | undefined> {
    for (let attempt = 0; attempt < MAX_WRITE_TRIES; attempt++) {
      const current = await this.store.get<StoredEntry>(key)
      if (current === undefined || isMove(current)) return current
      const next = await value(current)
      if (next === undefined) return current
      if (await this.store.replaceIfUnchanged(key, current, next, ttlSeconds)) return 'written'
    }
    throw upstreamUnavailable()
  }

  /**
   * The live session a move leads to from `key`, following later moves; UNAUTHENTICATED when there is no move or the
   * session it leads to ended since.
   */
  private async movedInto (note: MoveNote | undefined, key: string): Promise<Session> {
    for (let move = 0; note !== undefined && move < MAX_MOVES; move++) {
      const id = this.movedTo(note, key)
      if (id === undefined) break
      key = this.sessionKey(id)
      const stored = await this.store.get<StoredEntry>(key)
      if (stored === undefined || !isMove(stored)) {
        const record = this.openEntry(stored, key)
        if (record === undefined || !this.alive(record, Date.now())) break
        return { id, record }
      }
      note = stored
    }
    throw unauthenticated()
  }

  /** True when the session behind `id` was moved to a new id lately (within MOVED_SECONDS) and not ended since. */
  async movedRecently (id: string): Promise<boolean> {
    if (!ID_PATTERN.test(id)) return false
    const stored = await this.store.get<StoredEntry>(this.sessionKey(id))
    return stored !== undefined && isMove(stored)
  }

  /** The refresh token of a session, unsealed. */
  refreshToken (record: SessionRecord): string | undefined {
    return this.sealer.open(record.refreshTokenSealed)
  }

  /**
   * Ends one session, and the ids it was rotated into meanwhile (a refresh racing this sign-out), and answers the records
   * it took: as the store held them then, with whatever tokens a refresh elsewhere wrote into them meanwhile.
   */
  async destroy (id: string, record: Pick<SessionRecord, 'sub'>): Promise<SessionRecord[]> {
    return await this.destroyFrom(hashId(id), record.sub)
  }

  /**
   * Ends the sessions `id` was moved into lately (refreshes, in another tab or on another instance, rotated it, once or
   * more) and answers their records, so that their tokens can be revoked: a sign-out sent with a cookie from before the
   * moves still signs that browser out.
   */
  async endMovedFrom (id: string): Promise<SessionRecord[]> {
    return ID_PATTERN.test(id) ? await this.destroyFrom(hashId(id)) : []
  }

  /**
   * Ends the session stored under `first` and every id it was rotated into, following the move notes, and answers the
   * records it took. `sub`, when known, also clears `first` from its user's list when its record is already gone.
   */
  private async destroyFrom (first: string, sub?: string): Promise<SessionRecord[]> {
    const ended: SessionRecord[] = []
    let hashed: string | undefined = first
    for (let move = 0; hashed !== undefined && move <= MAX_MOVES; move++) {
      const key = sessionKeyOf(hashed)
      // Taken in one step: a rotation either moved it before (and the note taken here leads on) or finds it gone.
      const taken: StoredEntry | undefined = await this.store.take<StoredEntry>(key)
      const owner = (taken === undefined || isMove(taken) ? undefined : taken.sub) ?? sub
      if (owner !== undefined) await this.store.removeFromSet(this.userKey(owner), hashed)
      const record = this.openEntry(taken, key)
      if (record !== undefined) ended.push(record)
      await this.view?.invalidate([key])
      const next = taken !== undefined && isMove(taken) ? this.movedTo(taken, key) : undefined
      hashed = next === undefined ? undefined : hashId(next)
    }
    return ended
  }

  /**
   * Ends every session of a user and returns their records (so their tokens can be revoked), each taken in one step:
   * as the store held it when it ended, with whatever tokens a refresh elsewhere wrote into it until then. Reads the
   * user's sessions again until none is left: a rotation lists its new id before it takes the old one, so a rotation
   * that took an id ended here has its new id listed by the next read.
   */
  async destroyUser (sub: string): Promise<SessionRecord[]> {
    const userKey = this.userKey(sub)
    const ended: SessionRecord[] = []
    for (let round = 0; round < MAX_DESTROY_ROUNDS; round++) {
      const hashed = await this.store.members(userKey)
      if (hashed.length === 0) break
      const keys = hashed.map(sessionKeyOf)
      const records = (await Promise.all(keys.map(async (key) => await this.store.take<StoredEntry>(key))))
        .map((stored, i) => this.openEntry(stored, keys[i]!))
        .filter((r): r is SessionRecord => r !== undefined)
      ended.push(...records)
      // Only the ids read are unlisted: an id a rotation listed meanwhile stays for the next read.
      await Promise.all(hashed.map(async (h) => { await this.store.removeFromSet(userKey, h) }))
      await this.view?.invalidate(keys)
    }
    return ended
  }

  /**
   * Keeps a pending challenge under a fresh id (or, after a wrong answer, under its own `id` again with its `attempts`
   * counted, until the `expiresAt` it was first given: answering does not prolong it). Its Cognito session is sealed,
   * bound to the key and the other fields.
   */
  async saveChallenge (pending: PendingChallenge, again: { attempts: number, id: string, expiresAt: number } | undefined = undefined): Promise<string> {
    const { attempts = 0, id = newId(), expiresAt = Date.now() + this.limits.challengeSeconds * 1000 } = again ?? {}
    const ttlSeconds = Math.ceil((expiresAt - Date.now()) / 1000)
    if (ttlSeconds <= 0) return id
    const key = this.challengeKey(id)
    const { cognitoSession, ...rest } = { ...pending, attempts, expiresAt }
    const record: ChallengeRecord = { ...rest, cognitoSession: this.sealer.seal(cognitoSession, sealContext(key, rest)) }
    await this.store.set(key, record, ttlSeconds)
    return id
  }

  /**
   * Claims a one-time code (an MFA or email code) for `username`: true the first time, false for a code already
   * offered in the last two minutes (a TOTP code stays valid up to 90 s). cognito-local accepts a reused code;
   * real Cognito does not, and neither does the adapter.
   */
  async claimCode (username: string, code: string): Promise<boolean> {
    return await this.store.setIfAbsent(`used-code:${hashId(`${username}\n${code}`)}`, 1, USED_CODE_SECONDS)
  }

  /** Takes a pending challenge out of the store: each one can be answered once. */
  async takeChallenge (id: string | undefined): Promise<ChallengeRecord | undefined> {
    if (id === undefined || !ID_PATTERN.test(id)) return undefined
    const key = this.challengeKey(id)
    const record = await this.store.take<ChallengeRecord>(key)
    if (record === undefined || !(record.expiresAt > Date.now())) return undefined
    const { cognitoSession: sealed, ...rest } = record
    const cognitoSession = this.sealer.open(sealed, sealContext(key, rest))
    return cognitoSession === undefined ? undefined : { ...rest, cognitoSession }
  }
}
