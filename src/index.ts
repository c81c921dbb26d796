// The package's exports for other IMS Fastify services: bearer-token authentication and role guards, no BFF needed.
import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import verifier from './plugins/verifier.js'
import audit from './plugins/audit.js'
import errorHandler from './plugins/error-handler.js'
import { bearerToken, claimsFromBearer } from './auth/bearer.js'
import { unauthenticated } from './errors.js'
import { userOf } from './auth/user.js'
import { DEFAULT_ROLE_GROUPS, type RoleGroups } from './role-mapping.js'
import type { Identity } from './plugins/session.js'
import type { AccessClaims } from './auth/token-verifier.js'
import { RedisStore } from './store/redis-store.js'
import { andThen, type MaybePromise } from './maybe-promise.js'
import { Revocations } from './session/revocations.js'

export { requireRole, requireUser } from './plugins/roles.js'
export { ROLES, DEFAULT_ROLE_GROUPS, rolesFromGroups, primaryRole, parseRoleGroups, type Role, type RoleGroups } from './role-mapping.js'
export { AppError, type ErrorCode } from './errors.js'
export type { User } from './auth/user.js'
// Also brings a TypeScript service the request's `identity` (Fastify's type augmentation lives beside it).
export type { Identity } from './plugins/session.js'

/** Options of `imsAuth`. */
export interface ImsAuthOptions {
  userPoolId: string
  clientId: string
  /** A cognito-local endpoint for development; omit for AWS. */
  endpoint?: string
  roleGroups?: RoleGroups
  /** Seconds an access token is still accepted after its `exp` (clock skew): 0 to 60, 5 by default. */
  graceSeconds?: number
  /** A hash key for audit lines (usernames are never logged in clear). */
  auditKey?: string
  /**
   * The adapter's Redis (its REDIS_URL). Given, the service refuses at once the tokens the adapter revoked (sign-outs,
   * resets, role changes, admin sign-outs), answering from the same bounded local view as the adapter (no Redis round
   * trip per request in the common case; 503 when it cannot know). Without it, a token is good until it expires.
   */
  redisUrl?: string
}

/** The longest grace past `exp` the security bar allows (RFC 8725's "small leeway"). */
const MAX_GRACE_SECONDS = 60

/**
 * Bearer-token authentication for any IMS Fastify service: verifies Cognito access tokens (keys loaded before
 * listen), maps groups to roles, answers in the contract's error shape. Use with `preHandler: requireRole('MANAGER')`.
 * It installs the contract's error handler in the scope it is registered in (the whole service at the root; register
 * it inside an encapsulated scope, without fastify-plugin, to keep the service's own error handler elsewhere); 404s
 * stay the service's own.
 */
export const imsAuth = fp<ImsAuthOptions>(async (app, options) => {
  const roleGroups = options.roleGroups ?? DEFAULT_ROLE_GROUPS
  const graceSeconds = options.graceSeconds ?? 5
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw new Error(`imsAuth's graceSeconds must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS}; it is ${String(graceSeconds)}.`)
  }
  await app.register(errorHandler, { notFound: false })
  await app.register(verifier, {
    userPoolId: options.userPoolId,
    clientId: options.clientId,
    endpoint: options.endpoint ?? '',
    graceSeconds,
    jwksTimeoutMs: 3000
  })
  // Without a key of the service's own, a random one: usernames in audit lines cannot be reversed from the client id.
  await app.register(audit, { hashKey: options.auditKey ?? randomBytes(32).toString('hex') })
  let isRevoked: ((claims: AccessClaims) => MaybePromise<boolean>) | undefined
  if (options.redisUrl !== undefined) {
    // The service only reads revocations (a replica and a read-only user will do); how long the adapter keeps them is
    // the adapter's setting.
    const store = new RedisStore(options.redisUrl, { log: app.log, readsOnly: true })
    const revocations = new Revocations(store, 0)
    app.addHook('onReady', async () => { await Promise.all([store.ready(), revocations.ready()]) })
    app.addHook('onClose', async () => { await store.close() })
    isRevoked = (claims) => revocations.isRevoked(claims)
  }
  app.decorateRequest('identity', undefined)
  app.decorate('authenticate', (request: FastifyRequest, _reply: FastifyReply): MaybePromise<Identity> => {
    if (request.identity !== undefined) return request.identity
    const token = bearerToken(request)
    if (token === undefined) throw unauthenticated()
    return andThen(claimsFromBearer(app.verifier, token, isRevoked), (claims) => {
      request.identity = { user: userOf(claims, roleGroups), accessToken: token, via: 'bearer', claims }
      return request.identity
    })
  })
}, { name: 'ims-auth' })
