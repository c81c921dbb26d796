// The state that several instances must share (sessions, challenges, revocations): an interface and its memory store.
import { MemoryChannel, type StoreChannel } from './channel.js'

/**
 * A small key-value store with expiry and per-key sets. Memory for one instance; Redis (src/store/redis-store.ts)
 * when several instances must behave as one. Values are JSON-serialisable.
 */
export interface SharedStore {
  get<T>(key: string): Promise<T | undefined>
  /**
   * `get` without waiting: offered only by a store whose data lives in this process (a read costs no round trip, and
   * needs no local copy).
   */
  readNow?<T>(key: string): T | undefined
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>
  /** Reads and deletes in one step, so a one-time value can be used once only. */
  take<T>(key: string): Promise<T | undefined>
  /** Sets `key` only if it is absent, in one step; true when this call set it. */
  setIfAbsent(key: string, value: unknown, ttlSeconds: number): Promise<boolean>
  /** Sets `key` only if it is still there, in one step; false when it was deleted meanwhile (it stays deleted). */
  replace(key: string, value: unknown, ttlSeconds: number): Promise<boolean>
  /** Sets `key` only if it still holds `expected` (what `get` answered), in one step; false when it changed or went. */
  replaceIfUnchanged(key: string, expected: unknown, value: unknown, ttlSeconds: number): Promise<boolean>
  /** Deletes `key` only if it still holds the string `value` (a lock's owner token), in one step; false otherwise. */
  deleteIfHolds(key: string, value: string): Promise<boolean>
  delete(...keys: string[]): Promise<void>
  /**
   * Adds `member` to the set at `key` for `ttlSeconds` (each member lapses on its own), and in the same step answers
   * how many members the set holds now, this one included.
   */
  addToSet(key: string, member: string, ttlSeconds: number): Promise<number>
  /**
   * `set(key, value, ttlSeconds)`, then `addToSet(setKey, member, memberTtlSeconds)`, sent together (one round trip to a
   * remote store) and run in that order: `member` is never listed before `value` is written. Answers addToSet's count.
   */
  setThenAddToSet(key: string, value: unknown, ttlSeconds: number, setKey: string, member: string, memberTtlSeconds: number): Promise<number>
  removeFromSet(key: string, member: string): Promise<void>
  /** The members that have not lapsed; of those added with one ttl, the one added first comes first. */
  members(key: string): Promise<string[]>
  /** Answers when the store is usable; throws otherwise. */
  ping(): Promise<void>
  /**
   * Waits, a moment at most, for the store's first connection (start-up). Rejects with a ConfigError when the server
   * reached cannot hold the store or will not let this instance in (its password, its certificate); one not reachable
   * yet is no refusal (commands answer 503 until it is).
   */
  ready(): Promise<void>
  /** The broadcast channel `name` between every instance on this store (one per name and store). */
  channel(name: string): StoreChannel
  close(): Promise<void>
}

interface Entry { value: unknown, expiresAt: number }

/** One process's store; expired entries vanish on read and in a periodic sweep. */
export class MemoryStore implements SharedStore {
  private readonly entries = new Map<string, Entry>()
  private readonly channels = new Map<string, MemoryChannel>()
  private readonly sweeper: NodeJS.Timeout

  constructor (sweepIntervalMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs)
    this.sweeper.unref()
  }

  private live (key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  async get<T> (key: string): Promise<T | undefined> {
    return this.readNow<T>(key)
  }

  readNow<T> (key: string): T | undefined {
    return this.live(key)?.value as T | undefined
  }

  async set (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 })
  }

  async setIfAbsent (key: string, value: unknown, ttlSeconds: number): Promise<boolean> {
    if (this.live(key) !== undefined) return false
    await this.set(key, value, ttlSeconds)
    return true
  }

  async replace (key: string, value: unknown, ttlSeconds: number): Promise<boolean> {
    if (this.live(key) === undefined) return false
    await this.set(key, value, ttlSeconds)
    return true
  }

  async replaceIfUnchanged (key: string, expected: unknown, value: unknown, ttlSeconds: number): Promise<boolean> {
    // `get` answers the stored object itself, and every write stores a new one.
    if (this.live(key)?.value !== expected) return false
    await this.set(key, value, ttlSeconds)
    return true
  }

  async deleteIfHolds (key: string, value: string): Promise<boolean> {
    if (this.live(key)?.value !== value) return false
    this.entries.delete(key)
    return true
  }

  async take<T> (key: string): Promise<T | undefined> {
    const entry = this.live(key)
    this.entries.delete(key)
    return entry?.value as T | undefined
  }

  async delete (...keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key)
  }

  /** A set's members, each with the time it lapses (ms), lapsed ones dropped. */
  private liveMembers (key: string): Map<string, number> | undefined {
    const members = this.live(key)?.value as Map<string, number> | undefined
    const now = Date.now()
    if (members !== undefined) for (const [member, until] of members) if (until <= now) members.delete(member)
    return members
  }

  async addToSet (key: string, member: string, ttlSeconds: number): Promise<number> {
    const members = this.liveMembers(key) ?? new Map<string, number>()
    const until = Date.now() + ttlSeconds * 1000
    members.set(member, until)
    this.entries.set(key, { value: members, expiresAt: Math.max(this.entries.get(key)?.expiresAt ?? 0, until) })
    return members.size
  }

  async setThenAddToSet (key: string, value: unknown, ttlSeconds: number, setKey: string, member: string, memberTtlSeconds: number): Promise<number> {
    await this.set(key, value, ttlSeconds)
    return await this.addToSet(setKey, member, memberTtlSeconds)
  }

  async removeFromSet (key: string, member: string): Promise<void> {
    this.liveMembers(key)?.delete(member)
  }

  async members (key: string): Promise<string[]> {
    return [...(this.liveMembers(key)?.keys() ?? [])]
  }

  async ping (): Promise<void> {}

  async ready (): Promise<void> {}

  channel (name: string): StoreChannel {
    let channel = this.channels.get(name)
    if (channel === undefined) {
      channel = new MemoryChannel(async ({ key, value, ttlSeconds, increasing }) => {
        const stored = this.live(key)?.value
        if (increasing === true && typeof stored === 'number' && typeof value === 'number' && stored >= value) return
        await this.set(key, value, ttlSeconds)
      })
      this.channels.set(name, channel)
    }
    return channel
  }

  async close (): Promise<void> {
    clearInterval(this.sweeper)
    this.entries.clear()
  }

  private sweep (): void {
    const now = Date.now()
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key)
  }
}
