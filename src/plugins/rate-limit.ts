// Throttling of /auth on @fastify/rate-limit: per client IP and per normalised username, counted in the shared store.
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import rateLimit, { type CreateRateLimitOptions } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError, upstreamUnavailable } from '../errors.js'
import { RedisStore } from '../store/redis-store.js'
import type { SharedStore } from '../store/shared-store.js'
import { hashUsername } from './audit.js'

/**
 * The counters:
 * - `ip`: per client IP (as `trustProxy` resolves it): failed sign-ins, wrong codes, wrong current passwords, and
 *   every request that sends a code or signs up;
 * - `password`: failed passwords per account, at sign-in and as the current password at change-password;
 * - `code`: wrong codes per normalised username (verify-otp, confirm-sign-up) or per user a challenge was issued to;
 * - `send`: code-sending requests per normalised username (forgot-password, resend-code); beyond it nothing is sent.
 * An account's failures and sends count under one name, whichever of its names was typed (see Throttle.accountName),
 * so naming it another way gets no fresh budget, and attempts in flight under each of its names count together.
 */
export type Counter = 'ip' | 'password' | 'code' | 'send'

export interface ThrottleOptions {
  ipLimit: number
  ipWindowSeconds: number
  failureLimit: number
  failureWindowSeconds: number
  codeSendLimit: number
  codeSendWindowSeconds: number
  uniformResponseMs: number
  /** Keys usernames in counters (never stored in clear). */
  hashKey: string
}

/**
 * The name throttle counters keep the account `username` names under (CognitoGateway.account), or undefined for an
 * unknown user; throws when Cognito cannot say.
 */
export type AccountLookup = (username: string) => Promise<string | undefined>

type Limiter = ReturnType<FastifyInstance['createRateLimit']>
type LimiterStatus = Awaited<ReturnType<Limiter>>
/** A counter's status where the counter limits the request (its key is not allow-listed). */
type Limiting = Extract<LimiterStatus, { isAllowed: false }>

/**
 * How long an admitted attempt may keep its place among those in flight: longer than any attempt's Cognito calls; it
 * only matters when an instance stops in the middle of one.
 */
const ATTEMPT_SECONDS = 60

/**
 * Keys each counter keeps in the memory store (the least recently used goes first): a flood of failures for other
 * usernames must not wipe one user's count, and @fastify/rate-limit's default, 5,000 per counter, was flooded in
 * seconds from one IP. About 10 MB per counter when full; Redis keeps counters by expiry instead.
 */
const MEMORY_KEYS_PER_COUNTER = 50_000

/** The wait asked of an attempt refused because others still in flight would use the limit up. */
const IN_FLIGHT_RETRY_SECONDS = 1

/** An email address, once normalised as counters normalise names (NFKC makes a fullwidth ＠ an @). */
const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+$/

/** Whether `name` (trimmed) is an email address: then it is the name its account is counted under, with no lookup. */
function isEmailAddress (name: string): boolean {
  return EMAIL_ADDRESS.test(name.normalize('NFKC'))
}

/** Guards and counts attempts; one instance per app, its counters shared by every instance on the same store. */
export class Throttle {
  constructor (private readonly limiters: Record<Counter, Limiter>, private readonly store: SharedStore, readonly uniformResponseMs: number, private readonly lookup: AccountLookup) {}

  private async status (counter: Counter, request: FastifyRequest, increment: boolean): Promise<LimiterStatus> {
    try {
      return await this.limiters[counter](request, { increment })
    } catch {
      // The store (Redis) is unreachable: fail closed, as the session routes do.
      throw upstreamUnavailable(2)
    }
  }

  /** 429 TOO_MANY_REQUESTS with Retry-After, audited under `event` with the counter that ran out. */
  private refusal (request: FastifyRequest, counter: Counter, event: string, retryAfterSeconds: number): AppError {
    const username = (request.body as { username?: unknown } | undefined)?.username
    request.audit({
      event,
      outcome: 'TOO_MANY_REQUESTS',
      limit: counter,
      ...(request.identity === undefined ? {} : { sub: request.identity.user.sub }),
      ...(typeof username === 'string' ? { username } : {})
    })
    return new AppError('TOO_MANY_REQUESTS').retryAfter(retryAfterSeconds)
  }

  /**
   * Reads `counters` (at once: one round trip to a remote store, not one per counter) and refuses the request (429,
   * audited under `event`) when one of them is used up, the one used up for longest deciding: Retry-After then outlasts
   * every limit that refuses it, so a retry it asked for is not refused by another. Returns those that limit it (an
   * allow-listed key, none is configured, is never limited).
   */
  private async unspent (request: FastifyRequest, counters: readonly Counter[], event: string): Promise<Array<{ counter: Counter, status: Limiting }>> {
    const statuses = await Promise.all(counters.map(async (counter) => await this.status(counter, request, false)))
    const limited = statuses.flatMap((status, i) => status.isAllowed ? [] : [{ counter: counters[i]!, status }])
    const spent = limited.filter(({ status }) => status.remaining === 0).sort((x, y) => y.status.ttlInSeconds - x.status.ttlInSeconds)[0]
    if (spent !== undefined) throw this.refusal(request, spent.counter, event, spent.status.ttlInSeconds)
    return limited
  }

  /**
   * The one name an account's counters are kept under, whichever of its names `typed` is, so that its names share one
   * count and one set of attempts in flight on every instance. An email address is that name itself: nothing is asked,
   * so a sign-in by email costs Cognito no call. Any other name (the Cognito username, which is the sub in an email
   * pool, or another alias) is looked up: the account's email, or its Username when it has none; a name Cognito does
   * not know is kept as typed. Whether Cognito is asked thus depends on the form of the name alone, never on whether the
   * account exists. Throws, as the gateway translates it, when Cognito cannot say.
   */
  async accountName (typed: string): Promise<string> {
    const name = typed.trim()
    return isEmailAddress(name) ? name : (await this.lookup(name)) ?? name
  }

  /**
   * Makes the account `typed` names the one whose counters `request` feeds (see accountName). A client its IP limit
   * already refuses gets 429 (audited under `event`) before a name is looked up, so refused requests cost Cognito nothing;
   * a lookup Cognito cannot answer fails the request as Cognito's own calls do, audited under `event`.
   */
  async forAccount (request: FastifyRequest, typed: string, event: string): Promise<void> {
    if (!isEmailAddress(typed.trim())) await this.unspent(request, ['ip'], event)
    try {
      request.throttleUser = await this.accountName(typed)
    } catch (error) {
      request.audit({ event, outcome: error instanceof AppError ? error.code : 'INTERNAL', username: typed })
      throw error
    }
  }

  /**
   * Runs `attempt`, whose failure counts against `counters` (a password, a code) once it calls `failed`, unless the
   * failures counted so far plus the attempts still in flight, on every instance, would use a limit up: then 429
   * (audited under `event`). Attempts sent at once thus cannot all pass before the first failure is counted. Per-account
   * counters count under the name forAccount gave (else the signed-in user's). `failed` answers how long (seconds)
   * until `counters` allow another attempt: 0 while none of them is used up.
   */
  async attempt<T> (request: FastifyRequest, counters: readonly Counter[], event: string, attempt: (failed: () => Promise<number>) => Promise<T>): Promise<T> {
    const id = randomUUID()
    const held: string[] = []
    try {
      // Every counter is read, then every place taken, at once: one round trip to a remote store for each step.
      const limited = await this.unspent(request, counters, event)
      held.push(...limited.map(({ status }) => `throttle-in-flight:${status.key}`))
      const inFlight = await Promise.all(held.map(async (key) => await this.store.addToSet(key, id, ATTEMPT_SECONDS)))
      const crowded = limited.find(({ status }, i) => inFlight[i]! > status.remaining)
      if (crowded !== undefined) throw this.refusal(request, crowded.counter, event, IN_FLIGHT_RETRY_SECONDS)
      return await attempt(async () => {
        const statuses = await this.counted(request, counters)
        return Math.max(0, ...statuses.map((status) => status.isAllowed || status.remaining > 0 ? 0 : status.ttlInSeconds))
      })
    } finally {
      // A place that cannot be given up now (the store is down) lapses by itself after ATTEMPT_SECONDS.
      await Promise.all(held.map(async (key) => { await this.store.removeFromSet(key, id) })).catch(() => {})
    }
  }

  /** Counts this request against `counters` at once, and refuses it (429, audited under `event`) beyond a limit. */
  async charge (request: FastifyRequest, counters: readonly Counter[], event: string): Promise<void> {
    for (const counter of counters) {
      const status = await this.status(counter, request, true)
      if (!status.isAllowed && status.isExceeded) throw this.refusal(request, counter, event, status.ttlInSeconds)
    }
  }

  /** Counts one attempt against each of `counters`; true when one of them is now beyond its limit. */
  async count (request: FastifyRequest, counters: readonly Counter[]): Promise<boolean> {
    return (await this.counted(request, counters)).some((status) => !status.isAllowed && status.isExceeded)
  }

  /** Counts one attempt against each of `counters` (at once), and answers their statuses. */
  private async counted (request: FastifyRequest, counters: readonly Counter[]): Promise<LimiterStatus[]> {
    return await Promise.all(counters.map(async (counter) => await this.status(counter, request, true)))
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    throttle: Throttle
  }
  interface FastifyRequest {
    /**
     * The name of the account whose per-account counters this request feeds (Throttle.forAccount; a challenge answer:
     * the user the challenge was issued to); when unset, the signed-in user's.
     */
    throttleUser?: string
  }
}

/** Whose counter a request feeds: the account a route named (normalised, keyed hash), else the signed-in user. */
function subject (request: FastifyRequest, hashKey: string): string {
  if (request.throttleUser !== undefined) return `user:${hashUsername(hashKey, request.throttleUser)}`
  return `sub:${request.identity?.user.sub ?? ''}`
}

/** Decorates `app.throttle`: the four counters on @fastify/rate-limit, in the app's shared store. */
export default fp<ThrottleOptions>(async (app, options) => {
  // Counters live in the SharedStore's Redis when there is one, so every instance counts together.
  await app.register(rateLimit, {
    global: false,
    nameSpace: 'rate-limit:',
    ...(app.store instanceof RedisStore ? { redis: app.store.redis } : {})
  })
  // Each limiter gets its own memory store (LocalStore.child), sized by its own `cache`, which the typings omit.
  const limiter = (settings: CreateRateLimitOptions): Limiter => app.createRateLimit({ ...settings, cache: MEMORY_KEYS_PER_COUNTER } as CreateRateLimitOptions)
  const failures = { max: options.failureLimit, timeWindow: options.failureWindowSeconds * 1000 }
  const limiters: Record<Counter, Limiter> = {
    ip: limiter({ max: options.ipLimit, timeWindow: options.ipWindowSeconds * 1000, keyGenerator: (request) => `ip:${rateLimit.normalizeIP(request.ip)}` }),
    password: limiter({ ...failures, keyGenerator: (request) => `password:${subject(request, options.hashKey)}` }),
    code: limiter({ ...failures, keyGenerator: (request) => `code:${subject(request, options.hashKey)}` }),
    send: limiter({ max: options.codeSendLimit, timeWindow: options.codeSendWindowSeconds * 1000, keyGenerator: (request) => `send:${subject(request, options.hashKey)}` })
  }
  const lookup: AccountLookup = async (username) => (await app.cognito.gateway.account(username))?.name
  app.decorate('throttle', new Throttle(limiters, app.store, options.uniformResponseMs, lookup))
  // The limiters use the Redis connection directly: let it connect before the first request (a failure shows as 503 then).
  app.addHook('onReady', async () => { await app.store.ready() })
}, { name: 'rate-limit', dependencies: ['cognito', 'session', 'audit'] })
