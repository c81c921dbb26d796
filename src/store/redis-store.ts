// The SharedStore on Redis (ioredis): several instances pointed at one Redis behave as one; failures become 503.
import { Redis } from 'ioredis'
import { upstreamUnavailable } from '../errors.js'
import type { SharedStore } from './shared-store.js'

/** Keeps every key of the adapter under one prefix so a shared Redis stays tidy. */
const KEY_PREFIX = 'ims:'

/** A Redis-backed SharedStore that fails fast (no offline queue) and reconnects by itself. */
export class RedisStore implements SharedStore {
  readonly redis: Redis

  constructor (url: string) {
    this.redis = new Redis(url, {
      keyPrefix: KEY_PREFIX,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      lazyConnect: false
    })
    // Connection errors are reported through failing commands (503) and /health/ready; no crash.
    this.redis.on('error', () => {})
  }

  private async run<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch {
      throw upstreamUnavailable(2)
    }
  }

  async get<T> (key: string): Promise<T | undefined> {
    const raw = await this.run(async () => await this.redis.get(key))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async set (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.run(async () => await this.redis.set(key, JSON.stringify(value), 'EX', Math.max(1, Math.ceil(ttlSeconds))))
  }

  async take<T> (key: string): Promise<T | undefined> {
    const raw = await this.run(async () => await this.redis.getdel(key))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async delete (...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.run(async () => await this.redis.del(...keys))
  }

  async addToSet (key: string, member: string, ttlSeconds: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlSeconds))
    await this.run(async () => await this.redis.multi().sadd(key, member).expire(key, ttl, 'NX').expire(key, ttl, 'GT').exec())
  }

  async removeFromSet (key: string, member: string): Promise<void> {
    await this.run(async () => await this.redis.srem(key, member))
  }

  async members (key: string): Promise<string[]> {
    return await this.run(async () => await this.redis.smembers(key))
  }

  async ping (): Promise<void> {
    await this.run(async () => await this.redis.ping())
  }

  async close (): Promise<void> {
    this.redis.disconnect()
  }
}
