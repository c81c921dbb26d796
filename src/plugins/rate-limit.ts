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
 * - `password`: failed passwords per normalised username (sign-in) or per signed-in user (change-password);
 * - `code`: wrong codes per normalised username (verify-otp, confirm-sign-up) or per user a challenge was issued to;
 * - `send`: code-sending requests per normalised username (forgot-password, resend-code); beyond it nothing is sent.
 * An account's failures and sends count under each of its names (its email, its Cognito username; see countNames),
 * so naming it another way gets no fresh budget.
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

type Limiter = ReturnType<FastifyInstance['createRateLimit']>
type LimiterStatus = Awaited<ReturnType<Limiter>>

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

/** Guards and counts attempts; one instance per app, its counters shared by every instance on the same store. */
export class Throttle {
  constructor (private readonly limiters: Record<Counter, Limiter>, private readonly store: SharedStore, readonly uniformResponseMs: number, private readonly hashKey: string) {}

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
   * Runs `attempt`, whose failure counts against `counters` (a password, a code) once it calls `failed` (under the
   * account's other `names` too, see countNames), unless the failures counted so far plus the attempts still in
   * flight, on every instance, would use a limit up: then 429 (audited under `event`). Attempts sent at once thus
   * cannot all pass before the first failure is counted.
   */
  async attempt<T> (request: FastifyRequest, counters: readonly Counter[], event: string, attempt: (failed: (names?: readonly string[]) => Promise<void>) => Promise<T>): Promise<T> {
    const id = randomUUID()
    const held: string[] = []
    try {
      // Every counter is read, then every place taken, at once: one round trip to a remote store for each step, not
      // one per counter. The first counter in order that refuses decides the answer.
      const statuses = await Promise.all(counters.map(async (counter) => await this.status(counter, request, false)))
      // An allow-listed key (none is configured) is never limited.
      const limited = statuses.flatMap((status, i) => status.isAllowed ? [] : [{ counter: counters[i]!, status }])
      const spent = limited.find(({ status }) => status.remaining === 0)
      if (spent !== undefined) throw this.refusal(request, spent.counter, event, spent.status.ttlInSeconds)
      held.push(...limited.map(({ status }) => `throttle-in-flight:${status.key}`))
      const inFlight = await Promise.all(held.map(async (key) => await this.store.addToSet(key, id, ATTEMPT_SECONDS)))
      const crowded = limited.find(({ status }, i) => inFlight[i]! > status.remaining)
      if (crowded !== undefined) throw this.refusal(request, crowded.counter, event, IN_FLIGHT_RETRY_SECONDS)
      return await attempt(async (names = []) => {
        await this.count(request, counters)
        await this.countNames(request, counters, names)
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
    const statuses = await Promise.all(counters.map(async (counter) => await this.status(counter, request, true)))
    return statuses.some((status) => !status.isAllowed && status.isExceeded)
  }

  /**
   * Counts the attempt the request made (already counted under the name it gave) under the account's other `names`
   * as well (CognitoGateway.accountNames): each name's count is then the account's, whichever name was typed. The
   * client IP is not counted again.
   */
  async countNames (request: FastifyRequest, counters: readonly Counter[], names: readonly string[]): Promise<void> {
    const own = subject(request, this.hashKey)
    const others = new Map<string, FastifyRequest>()
    for (const name of names) {
      const named = Object.create(request, { throttleUser: { value: name } }) as FastifyRequest
      const key = subject(named, this.hashKey)
      if (key !== own) others.set(key, named)
    }
    const perName = counters.filter((counter) => counter !== 'ip')
    await Promise.all([...others.values()].map(async (named) => await this.count(named, perName)))
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    throttle: Throttle
  }
  interface FastifyRequest {
    /** Whose attempt this is when the request does not say (a challenge answer: the user the challenge was issued to). */
    throttleUser?: string
  }
}

/**
 * Whose counter a request feeds: the user a route named, else the signed-in user, else the username in the body
 * (normalised, keyed hash).
 */
function subject (request: FastifyRequest, hashKey: string): string {
  if (request.throttleUser !== undefined) return `user:${hashUsername(hashKey, request.throttleUser)}`
  const sub = request.identity?.user.sub
  if (sub !== undefined) return `sub:${sub}`
  const username = (request.body as { username?: unknown } | undefined)?.username
  return typeof username === 'string' ? `user:${hashUsername(hashKey, username)}` : 'user:'
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
  app.decorate('throttle', new Throttle(limiters, app.store, options.uniformResponseMs, options.hashKey))
  // The limiters use the Redis connection directly: let it connect before the first request (a failure shows as 503 then).
  app.addHook('onReady', async () => { await app.store.ready() })
}, { name: 'rate-limit', dependencies: ['session', 'audit'] })
