// The Redis store's channel: MULTI/SET/PUBLISH on the shared connection, a second connection SUBSCRIBEd, heartbeats on it.
import { randomUUID } from 'node:crypto'
import { setImmediate as afterPendingIo } from 'node:timers/promises'
import { ReplyError, type Redis } from 'ioredis'
import { ConfigError } from '../../fastify.config.js'
import { upstreamUnavailable } from '../errors.js'
import type { ChannelRecord, StoreChannel } from './channel.js'
import { execAll, faultOf, PERMISSION_REFUSAL, type RefusalLog } from './redis-faults.js'

/** SET a number unless the key already holds one at least as large (KEYS[1]; ARGV: value, seconds). */
const SET_IF_GREATER = `local current = tonumber(redis.call('GET', KEYS[1])) if current == nil or current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1`

/** How often the subscription is asked to answer a PING. */
const HEARTBEAT_MS = 500
/** A subscription whose last answered PING was sent longer ago than this is not trusted to be complete. */
const STALE_MS = 2000
/** How long `publish` waits for its own message to come back. */
const ECHO_DEADLINE_MS = 250

/**
 * Why `live` is enough to trust the local view (see src/session/revocations.ts for how it is used):
 * Redis writes a PUBLISH into the output buffer of every subscribed connection before it answers the publisher, and a
 * connection delivers in order. So once a PING sent at time T on the subscriber connection is answered, every message
 * published before T has been handled here. `live` holds while such a T is under STALE_MS old and the connection has
 * not closed since it subscribed; a lost or stuck connection therefore stops being trusted within STALE_MS, and a new
 * subscription starts a new `generation` (messages published in between were missed).
 */
export class RedisChannel implements StoreChannel {
  private readonly subscriber: Redis
  private readonly handlers: Array<(message: string) => void> = []
  private readonly resubscribedHandlers: Array<() => void> = []
  private readonly instance = randomUUID()
  private sequence = 0
  private readonly echoes = new Map<number, () => void>()
  private readonly waiters = new Set<() => void>()
  private subscribed = false
  /** The server refused SUBSCRIBE to REDIS_URL's user (NOPERM). */
  private forbidden = false
  private subscribing = false
  /** When (performance.now(): a clock set back or forward moves nothing here) the last answer's request was sent. */
  private heardAt = 0
  private generations = 0
  private readonly heartbeat: NodeJS.Timeout

  /**
   * @param publisher the store's connection (fail-fast options); a second connection is made from it to subscribe.
   * @param refusals where publishes the server refused are logged
   */
  constructor (private readonly publisher: Redis, readonly name: string, private readonly refusals: RefusalLog) {
    this.subscriber = publisher.duplicate({ autoResubscribe: false, enableOfflineQueue: false, connectionName: 'ims-channel' })
    this.subscriber.on('error', () => {})
    this.subscriber.on('ready', () => { void this.subscribe() })
    this.subscriber.on('close', () => { this.subscribed = false })
    this.subscriber.on('message', (channel: string, raw: string) => { if (channel === this.name) this.receive(raw) })
    this.heartbeat = setInterval(() => { void this.beat() }, HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  get live (): boolean {
    return this.subscribed && performance.now() - this.heardAt < STALE_MS
  }

  get generation (): number { return this.generations }

  private async subscribe (): Promise<void> {
    if (this.subscribing || this.subscribed) return
    this.subscribing = true
    const sentAt = performance.now()
    try {
      await this.subscriber.subscribe(this.name)
      this.generations++
      this.heardAt = sentAt
      this.subscribed = true
      for (const wake of this.waiters) wake()
      if (this.generations > 1) {
        for (const handler of this.resubscribedHandlers) {
          try { handler() } catch { /* one failing handler never stops the others */ }
        }
      }
    } catch (error) {
      // The heartbeat tries again while the connection is up; a reconnection ('ready') does too. A user who may not
      // subscribe never will: start-up waiting for the channel is told so.
      this.refusals.note(error)
      if (error instanceof ReplyError && faultOf(error as Error) === 'NOPERM') {
        this.forbidden = true
        for (const wake of this.waiters) wake()
      }
    } finally {
      this.subscribing = false
    }
  }

  private async beat (): Promise<void> {
    if (!this.subscribed) {
      if (this.subscriber.status === 'ready') await this.subscribe()
      return
    }
    const sentAt = performance.now()
    try {
      await this.subscriber.ping()
      if (this.subscribed) this.heardAt = Math.max(this.heardAt, sentAt)
    } catch {
      // Unanswered: `live` turns false once the last answer is STALE_MS old.
    }
  }

  private receive (raw: string): void {
    const first = raw.indexOf(':')
    const second = raw.indexOf(':', first + 1)
    if (first < 0 || second < 0) return
    const message = raw.slice(second + 1)
    for (const handler of this.handlers) {
      try { handler(message) } catch { /* one bad message never stops the others */ }
    }
    if (raw.slice(0, first) === this.instance) {
      const sequence = Number(raw.slice(first + 1, second))
      this.echoes.get(sequence)?.()
    }
  }

  async publish (message: string, record?: ChannelRecord): Promise<void> {
    const sequence = ++this.sequence
    let timer: NodeJS.Timeout | undefined
    const echoed = this.live
      ? new Promise<void>((resolve) => {
        this.echoes.set(sequence, resolve)
        timer = setTimeout(resolve, ECHO_DEADLINE_MS)
      })
      : undefined
    try {
      const multi = this.publisher.multi()
      const ttl = record === undefined ? 0 : Math.max(1, Math.ceil(record.ttlSeconds))
      if (record?.increasing === true) multi.eval(SET_IF_GREATER, 1, record.key, JSON.stringify(record.value), ttl)
      else if (record !== undefined) multi.set(record.key, JSON.stringify(record.value), 'EX', ttl)
      multi.publish(this.name, `${this.instance}:${sequence}:${message}`)
      await execAll(multi)
      await echoed
      // Redis wrote the message to every subscriber at once: other connections of this process whose copy has arrived
      // with the echo handle it before the caller goes on (two instances in one process, as tests run them).
      if (echoed !== undefined) await afterPendingIo()
    } catch (error) {
      this.refusals.note(error)
      throw upstreamUnavailable(2)
    } finally {
      clearTimeout(timer)
      this.echoes.delete(sequence)
    }
  }

  /** Subscribes again on a new connection (the server behind the store's name changed): a new generation. */
  resubscribe (): void {
    this.subscribed = false
    // Every command in flight may be refused at once: one new connection is enough.
    if (this.subscriber.status !== 'reconnecting') this.subscriber.disconnect(true)
  }

  onMessage (handler: (message: string) => void): void {
    this.handlers.push(handler)
  }

  onResubscribed (handler: () => void): void {
    this.resubscribedHandlers.push(handler)
  }

  /** Rejects with a ConfigError when REDIS_URL's user may not subscribe. */
  async whenLive (timeoutMs: number): Promise<boolean> {
    if (this.live) return true
    if (this.forbidden) throw new ConfigError(PERMISSION_REFUSAL)
    return await new Promise<boolean>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(done)
        if (this.forbidden) reject(new ConfigError(PERMISSION_REFUSAL))
        else resolve(this.live)
      }
      const timer = setTimeout(done, timeoutMs)
      this.waiters.add(done)
    })
  }

  async close (): Promise<void> {
    clearInterval(this.heartbeat)
    for (const resolve of this.echoes.values()) resolve()
    for (const wake of this.waiters) wake()
    this.subscribed = false
    this.subscriber.disconnect()
  }
}
