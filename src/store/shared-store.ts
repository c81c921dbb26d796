// The state that several instances must share (sessions, challenges, revocations): an interface and its memory store.
import { MemoryChannel, type StoreChannel } from './channel.js'

/**
 * A small key-value store with expiry and per-key sets. Memory for one instance; Redis (src/store/redis-store.ts)
 * when several instances must behave as one. Values are JSON-serialisable.
 */
export interface SharedStore {
  /** True when the data lives in this process, so a read costs no round trip (and needs no local copy). */
  readonly inProcess: boolean
  get<T>(key: string): Promise<T | undefined>
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>
  /** Reads and deletes in one step, so a one-time value can be used once only. */
  take<T>(key: string): Promise<T | undefined>
  /** Sets `key` only if it is absent, in one step; true when this call set it. */
  setIfAbsent(key: string, value: unknown, ttlSeconds: number): Promise<boolean>
  /** Sets `key` only if it is still there, in one step; false when it was deleted meanwhile (it stays deleted). */
  replace(key: string, value: unknown, ttlSeconds: number): Promise<boolean>
  delete(...keys: string[]): Promise<void>
  /** Adds `member` to the set at `key` and extends the set's life to at least `ttlSeconds`. */
  addToSet(key: string, member: string, ttlSeconds: number): Promise<void>
  removeFromSet(key: string, member: string): Promise<void>
  members(key: string): Promise<string[]>
  /**
   * Holds the place `id` in the group at `key` until `releasePlace` or for `ttlSeconds` at most, and in the same step
   * answers how many places the group holds now, this one included (places past their time no longer count).
   */
  holdPlace(key: string, id: string, ttlSeconds: number): Promise<number>
  releasePlace(key: string, id: string): Promise<void>
  /** Answers when the store is usable; throws otherwise. */
  ping(): Promise<void>
  /** The broadcast channel `name` between every instance on this store (one per name and store). */
  channel(name: string): StoreChannel
  close(): Promise<void>
}

interface Entry { value: unknown, expiresAt: number }

/** One process's store; expired entries vanish on read and in a periodic sweep. */
export class MemoryStore implements SharedStore {
  readonly inProcess = true
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

  async take<T> (key: string): Promise<T | undefined> {
    const entry = this.live(key)
    this.entries.delete(key)
    return entry?.value as T | undefined
  }

  async delete (...keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key)
  }

  async addToSet (key: string, member: string, ttlSeconds: number): Promise<void> {
    const entry = this.live(key)
    const set = (entry?.value as Set<string> | undefined) ?? new Set<string>()
    set.add(member)
    const expiresAt = Math.max(entry?.expiresAt ?? 0, Date.now() + ttlSeconds * 1000)
    this.entries.set(key, { value: set, expiresAt })
  }

  async removeFromSet (key: string, member: string): Promise<void> {
    (this.live(key)?.value as Set<string> | undefined)?.delete(member)
  }

  async members (key: string): Promise<string[]> {
    return [...((this.live(key)?.value as Set<string> | undefined) ?? [])]
  }

  async holdPlace (key: string, id: string, ttlSeconds: number): Promise<number> {
    const now = Date.now()
    const entry = this.live(key)
    const places = (entry?.value as Map<string, number> | undefined) ?? new Map<string, number>()
    for (const [place, until] of places) if (until <= now) places.delete(place)
    const until = now + ttlSeconds * 1000
    places.set(id, until)
    this.entries.set(key, { value: places, expiresAt: Math.max(entry?.expiresAt ?? 0, until) })
    return places.size
  }

  async releasePlace (key: string, id: string): Promise<void> {
    (this.live(key)?.value as Map<string, number> | undefined)?.delete(id)
  }

  async ping (): Promise<void> {}

  channel (name: string): StoreChannel {
    let channel = this.channels.get(name)
    if (channel === undefined) {
      channel = new MemoryChannel(async ({ key, value, ttlSeconds }) => { await this.set(key, value, ttlSeconds) })
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
