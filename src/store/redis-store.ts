// The SharedStore on Redis (ioredis): several instances pointed at one Redis behave as one; failures become 503.
import { randomUUID } from 'node:crypto'
import { Redis, ReplyError, type ChainableCommander } from 'ioredis'
import { ConfigError } from '../../fastify.config.js'
import { upstreamUnavailable } from '../errors.js'
import type { SharedStore } from './shared-store.js'
import type { StoreChannel } from './channel.js'
import { RedisChannel } from './redis-channel.js'
import { execAll, faultOf, PERMISSION_REFUSAL, RefusalLog, type StoreLog } from './redis-faults.js'

/** Keeps every key of the adapter under one prefix so a shared Redis stays tidy. */
const KEY_PREFIX = 'ims:'

/** SET if the key still holds exactly the JSON it was read with (KEYS[1]; ARGV: expected, value, seconds). */
const REPLACE_IF_UNCHANGED = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end return 0`

/** A TTL as Redis's EX takes it: whole seconds, at least one. */
function wholeSeconds (ttlSeconds: number): number {
  return Math.max(1, Math.ceil(ttlSeconds))
}

/**
 * Appends to `transaction` the commands of addToSet: lapsed members pruned, `member` added (scored by when it lapses),
 * the set counted (the third of these commands' results), its expiry kept past its last member's.
 */
function addingToSet (transaction: ChainableCommander, key: string, member: string, ttlSeconds: number): ChainableCommander {
  const now = Date.now()
  const ttlMs = Math.max(1000, Math.ceil(ttlSeconds * 1000))
  return transaction.zremrangebyscore(key, '-inf', now).zadd(key, now + ttlMs, member).zcard(key).pexpire(key, ttlMs, 'NX').pexpire(key, ttlMs, 'GT')
}

/** DEL if the key still holds exactly this JSON (KEYS[1]; ARGV: value). */
const DELETE_IF_HOLDS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/**
 * Why a Redis Cluster is refused: the change channel's reasoning (src/store/redis-channel.ts) needs every message to
 * pass through one server in the order written, which a cluster's pub/sub, relayed between its nodes, does not give;
 * and a cluster refuses commands that span keys of several slots, as ending a user's sessions does.
 */
const CLUSTER_REFUSAL = 'REDIS_URL points at a Redis Cluster (cluster mode enabled, as ElastiCache Serverless always is); ' +
  'the session store needs a single primary: a standalone Redis or Valkey, or ElastiCache with cluster mode disabled ' +
  '(replicas for failover are fine), since revocations must reach every instance through one server in the order written.'

/**
 * Why a server that evicts keys when full is refused: every key of the store has a time to live, so any eviction policy
 * but noeviction may drop a revocation, and a signed-out token would work again. A full noeviction server refuses
 * writes instead, which the adapter answers with 503.
 */
function evictionRefusal (policy: string): string {
  return `REDIS_URL's server evicts keys when its memory is full (maxmemory-policy ${policy}), so it could drop a revocation ` +
    'and a signed-out token would work again; set maxmemory-policy to noeviction (on ElastiCache, in the parameter group), ' +
    'and a full store then answers 503 instead.'
}

/**
 * The TLS verification failures of a server's certificate (Node's codes): the chain or the name cannot be trusted, which
 * no retry changes.
 */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED', 'INVALID_CA', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID'
])

/**
 * The sentence that stops start-up for a connection fault that lies in REDIS_URL or the server's certificate, not in
 * the network: retrying would only fail the same way. Undefined for any other fault.
 */
function misconfiguration (fault: string): string | undefined {
  if (fault === 'WRONGPASS' || fault === 'NOAUTH') {
    return `REDIS_URL's server refused to let this instance in (${fault}): give it the username and password it expects ` +
      '(on ElastiCache, the AUTH token), as rediss://user:password@host:port or rediss://:password@host:port.'
  }
  if (UNTRUSTED_CERTIFICATE.has(fault)) {
    return `REDIS_URL's server presented a TLS certificate this process does not trust (${fault}): ElastiCache's are ` +
      'trusted as they are; for a server with a certificate of your own, give its CA certificate in NODE_EXTRA_CA_CERTS, ' +
      'and name the server in REDIS_URL as its certificate does.'
  }
  return undefined
}

/** Why a replica is refused: it refuses every write (a reader endpoint given where the primary's belongs). */
const REPLICA_REFUSAL = 'REDIS_URL points at a replica, which refuses every write: give the primary\'s address ' +
  '(on ElastiCache, the primary endpoint, not the reader endpoint).'

/** The oldest server the store runs on: PEXPIRE's NX and GT options (sets whose members lapse) came with Redis 7.0. */
const MIN_MAJOR_VERSION = 7

/** How long the first commands wait for the first connection; after it, commands never wait for a connection. */
const FIRST_CONNECT_MS = 1500

/**
 * How long a replica may go without hearing from its primary before a reading service stops trusting it: a primary
 * sends its replicas something at least every 10 s (repl-ping-replica-period), and each write at once. Past that, the
 * replica may lack revocations, and its subscribers their messages, however promptly it answers.
 */
const REPLICA_SILENCE_SECONDS = 12
/** What INFO replication says on a replica (Redis says slave, and may say replica). */
const REPLICA_ROLE = /^role:(slave|replica)\b/m
/** How often a reading service asks its server whether it is a replica, and how lately it heard from its primary. */
const REPLICA_CHECK_MS = 1000

/** A Redis-backed SharedStore that fails fast (no offline queue) and reconnects by itself. */
export class RedisStore implements SharedStore {
  readonly redis: Redis
  private readonly channels = new Map<string, RedisChannel>()
  /** Settles on the first connection, the first failure, or FIRST_CONNECT_MS: start-up must not answer 503. */
  private firstConnect: Promise<void> | undefined
  /** The one check of the server `ready` makes. */
  private serverCheck: Promise<void> | undefined
  /** Why the connection is down (see faultOf), or undefined while it is up. */
  private fault: string | undefined
  /** Whether the connection has been ready since it last failed (logged changes are between the two). */
  private up = false

  /** Commands the server refused, logged. */
  private readonly refusals: RefusalLog

  private readonly log: StoreLog | undefined
  /** Only reads and subscribes (a service that checks revocations): a replica, and a user who may not write, will do. */
  private readonly readsOnly: boolean
  /** The server is a replica that has not heard from its primary lately (see REPLICA_SILENCE_SECONDS): commands answer 503. */
  private replicaBehind = false
  /** Asks a reading service's server, now and then, whether it is such a replica. */
  private readonly replicaCheck: NodeJS.Timeout | undefined

  /**
   * @param options.log where changes of the connection and refused commands are told (the app's logger); nowhere when absent
   * @param options.readsOnly the store is only read and listened to (see `readsOnly`)
   */
  constructor (url: string, options: { log?: StoreLog, readsOnly?: boolean } = {}) {
    this.log = options.log
    this.readsOnly = options.readsOnly ?? false
    this.refusals = new RefusalLog(options.log)
    this.redis = new Redis(url, {
      keyPrefix: KEY_PREFIX,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: 1000,
      // A connection whose node vanished without closing it (no FIN, no RST) is dropped and made anew once a reply is
      // this late; commandTimeout alone fails the command but keeps the dead socket for good.
      socketTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      // A failover that demotes the primary in place (as ElastiCache's does) leaves connections to it open, refusing
      // writes with READONLY: the connection is made again, through REDIS_URL's name, which leads to the new primary,
      // and the change channel's subscription moves with it. The refused command answers 503 once.
      reconnectOnError: (error) => {
        if (!error.message.startsWith('READONLY')) return false
        for (const channel of this.channels.values()) channel.resubscribe()
        return 1
      },
      lazyConnect: false,
      // Commands issued in the same tick share one write and one read: fewer syscalls per request under load.
      enableAutoPipelining: true
    })
    // Connection errors answer 503 (no crash), show in /health/ready, and are logged once per change, with their cause.
    this.redis.on('error', (error) => { this.failed(faultOf(error)) })
    this.redis.on('ready', () => {
      if (!this.up && this.fault !== undefined) this.log?.info({ store: 'redis' }, 'Redis store available again')
      this.up = true
      this.fault = undefined
    })
    this.firstConnect = new Promise<void>((resolve) => {
      const timer = setTimeout(settle, FIRST_CONNECT_MS)
      function settle (): void { clearTimeout(timer); resolve() }
      this.redis.once('ready', settle)
      this.redis.once('error', settle)
    }).then(() => { this.firstConnect = undefined })
    if (this.readsOnly) {
      this.replicaCheck = setInterval(() => { void this.checkReplica() }, REPLICA_CHECK_MS)
      this.replicaCheck.unref()
    }
  }

  /**
   * Notes whether the server is a replica cut off from its primary (the link down, or silent too long), and logs each
   * change. Once it is, the channels subscribe anew: what the local views knew to be clear is dropped, since messages
   * may be missed meanwhile. A server that does not answer INFO (a user denied it) is not known to be behind.
   */
  private async checkReplica (): Promise<void> {
    const info = await this.redis.info('replication').catch(() => undefined)
    if (info === undefined) return
    const silentFor = Number(/^master_last_io_seconds_ago:(-?\d+)/m.exec(info)?.[1] ?? 0)
    const behind = REPLICA_ROLE.test(info) && (!/^master_link_status:up/m.test(info) || silentFor < 0 || silentFor > REPLICA_SILENCE_SECONDS)
    if (behind === this.replicaBehind) return
    this.replicaBehind = behind
    if (!behind) {
      this.log?.info({ store: 'redis' }, 'Redis replica hears from its primary again')
      return
    }
    this.log?.warn({ store: 'redis', fault: 'REPLICA_BEHIND' }, 'Redis replica no longer hears from its primary: what needs it answers 503 until it catches up')
    for (const channel of this.channels.values()) channel.resubscribe()
  }

  /** Notes why the connection failed; tells the log when the store has just become unusable, or fails for a new cause. */
  private failed (fault: string): void {
    if (this.up || fault !== this.fault) this.log?.warn({ store: 'redis', fault }, 'Redis store unavailable: what needs it answers 503 until it returns')
    this.up = false
    this.fault = fault
  }

  private async run<T> (command: () => Promise<T>): Promise<T> {
    if (this.firstConnect !== undefined) await this.firstConnect
    if (this.replicaBehind) throw upstreamUnavailable(2)
    try {
      return await command()
    } catch (error) {
      this.refusals.note(error)
      throw upstreamUnavailable(2)
    }
  }

  async get<T> (key: string): Promise<T | undefined> {
    const raw = await this.run(async () => await this.redis.get(key))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async set (key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.run(async () => await this.redis.set(key, JSON.stringify(value), 'EX', wholeSeconds(ttlSeconds)))
  }

  async setIfAbsent (key: string, value: unknown, ttlSeconds: number): Promise<boolean> {
    const answer = await this.run(async () => await this.redis.set(key, JSON.stringify(value), 'EX', wholeSeconds(ttlSeconds), 'NX'))
    return answer === 'OK'
  }

  async replace (key: string, value: unknown, ttlSeconds: number): Promise<boolean> {
    const answer = await this.run(async () => await this.redis.set(key, JSON.stringify(value), 'EX', wholeSeconds(ttlSeconds), 'XX'))
    return answer === 'OK'
  }

  /** `expected` came from `get` (JSON.parse of what a set wrote with JSON.stringify), so it stringifies back the same. */
  async replaceIfUnchanged (key: string, expected: unknown, value: unknown, ttlSeconds: number): Promise<boolean> {
    const answer = await this.run(async () => await this.redis.eval(REPLACE_IF_UNCHANGED, 1, key, JSON.stringify(expected), JSON.stringify(value), wholeSeconds(ttlSeconds)))
    return answer === 1
  }

  async deleteIfHolds (key: string, value: string): Promise<boolean> {
    const answer = await this.run(async () => await this.redis.eval(DELETE_IF_HOLDS, 1, key, JSON.stringify(value)))
    return answer === 1
  }

  async take<T> (key: string): Promise<T | undefined> {
    const raw = await this.run(async () => await this.redis.getdel(key))
    return raw === null ? undefined : JSON.parse(raw) as T
  }

  async delete (...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.run(async () => await this.redis.del(...keys))
  }

  /** A sorted set scored by the time each member lapses: pruned, added to and counted in one transaction. */
  async addToSet (key: string, member: string, ttlSeconds: number): Promise<number> {
    return await this.run(async () => {
      const results = await execAll(addingToSet(this.redis.multi(), key, member, ttlSeconds))
      return Number(results[2]![1])
    })
  }

  /** The SET and the set's commands in one transaction: Redis runs them in turn, and no one sees the member first. */
  async setThenAddToSet (key: string, value: unknown, ttlSeconds: number, setKey: string, member: string, memberTtlSeconds: number): Promise<number> {
    return await this.run(async () => {
      const results = await execAll(addingToSet(this.redis.multi().set(key, JSON.stringify(value), 'EX', wholeSeconds(ttlSeconds)), setKey, member, memberTtlSeconds))
      return Number(results[3]![1])
    })
  }

  async removeFromSet (key: string, member: string): Promise<void> {
    await this.run(async () => await this.redis.zrem(key, member))
  }

  async members (key: string): Promise<string[]> {
    return await this.run(async () => await this.redis.zrangebyscore(key, `(${Date.now()}`, '+inf'))
  }

  async ping (): Promise<void> {
    await this.run(async () => await this.redis.ping())
  }

  async ready (): Promise<void> {
    this.serverCheck ??= this.checkServer()
    await this.serverCheck
  }

  /**
   * Asks the server, once, whether it can hold the store: Redis 7 or later (Valkey says so too), not a cluster node, no
   * eviction when full, a primary, and every command the store uses allowed. A server that does not answer yet is given
   * the benefit, unless it refused the credentials or its certificate is not trusted.
   */
  private async checkServer (): Promise<void> {
    if (this.firstConnect !== undefined) await this.firstConnect
    // Not through `run`: INFO may be denied to an ACL user (ElastiCache's "-@dangerous"), which is no refusal here.
    const info = await this.redis.info().catch(() => '')
    const refusal = info === '' && this.fault !== undefined ? misconfiguration(this.fault) : undefined
    if (refusal !== undefined) throw new ConfigError(refusal)
    const version = /^redis_version:(\d+)\S*/m.exec(info)
    if (version !== null && Number(version[1]) < MIN_MAJOR_VERSION) {
      throw new ConfigError(`REDIS_URL's server runs Redis ${version[0].slice('redis_version:'.length)}; the session store needs Redis ${MIN_MAJOR_VERSION}.0 or later, or Valkey (it uses PEXPIRE's NX and GT options).`)
    }
    if (/^cluster_enabled:1/m.test(info)) throw new ConfigError(CLUSTER_REFUSAL)
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? 'noeviction'
    const limit = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0)
    if (limit > 0 && policy !== 'noeviction') throw new ConfigError(evictionRefusal(policy))
    if (!this.readsOnly && REPLICA_ROLE.test(info)) throw new ConfigError(REPLICA_REFUSAL)
    await this.probeCommands()
  }

  /**
   * Runs each command the store uses once, on a key of its own, in one transaction: a user whose ACL forbids one of them
   * (NOPERM), or a replica that did not say so in INFO (READONLY), is refused here instead of answering 503 to the routes
   * that need it. Pub/sub is tried by the channels as they subscribe. Any other failure is no refusal.
   */
  private async probeCommands (): Promise<void> {
    const key = `probe:${randomUUID()}`
    try {
      if (this.readsOnly) await this.redis.get(key)
      else {
        await execAll(this.redis.multi().set(key, '1', 'EX', 5).get(key).getdel(key).eval('return 1', 0)
          .zadd(key, 1, 'member').zremrangebyscore(key, '-inf', 0).zcard(key).zrangebyscore(key, '(0', '+inf')
          .zrem(key, 'member').pexpire(key, 5000, 'NX').del(key))
      }
    } catch (error) {
      const fault = error instanceof ReplyError ? faultOf(error as Error) : undefined
      if (fault === 'NOPERM') throw new ConfigError(PERMISSION_REFUSAL)
      if (fault === 'READONLY') throw new ConfigError(REPLICA_REFUSAL)
    }
  }

  /** A broadcast to every instance on this Redis: PUBLISH, and a second connection that SUBSCRIBEs. */
  channel (name: string): StoreChannel {
    let channel = this.channels.get(name)
    if (channel === undefined) {
      channel = new RedisChannel(this.redis, KEY_PREFIX + name, this.refusals)
      this.channels.set(name, channel)
    }
    return channel
  }

  async close (): Promise<void> {
    clearInterval(this.replicaCheck)
    await Promise.all([...this.channels.values()].map(async (channel) => { await channel.close() }))
    this.redis.disconnect()
  }
}
