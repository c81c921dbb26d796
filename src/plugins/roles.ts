// Route guards: `requireUser` and `requireRole(...roles)`, declared on routes; judged by Cognito groups only.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../errors.js'
import type { Role } from '../role-mapping.js'
import type { User } from '../auth/user.js'
import { andThen, type MaybePromise } from '../maybe-promise.js'

/**
 * A guard as Fastify runs it (preValidation or preHandler). Callback-style, not async: a caller known at once (a
 * token verified lately, a session at hand) is let through without a promise.
 */
export type Guard = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** A guard that authenticates the caller (401 UNAUTHENTICATED), then runs `check` on them. */
function guard (check: (user: User, request: FastifyRequest) => void): Guard {
  return function (request, reply, done) {
    let checked: MaybePromise<void>
    try {
      checked = andThen(request.server.authenticate(request, reply), ({ user }) => { check(user, request) })
    } catch (error) {
      done(error as Error)
      return
    }
    if (checked instanceof Promise) checked.then(() => { done() }, (error: Error) => { done(error) })
    else done()
  }
}

/** Needs any signed-in caller (session cookie or bearer access token). */
export const requireUser: Guard = guard(() => {})

/**
 * Needs a caller holding at least one of `roles`. Roles come from the token's Cognito groups through the configured
 * mapping; roles named in a body, query or header are ignored. A refusal is 403 FORBIDDEN and is audited.
 */
export function requireRole (...roles: Role[]): Guard {
  return guard((user, request) => { checkRoles(request, user, roles) })
}

/** Throws 403 FORBIDDEN, audited, unless `user` holds at least one of `roles`. */
export function checkRoles (request: FastifyRequest, user: User, roles: Role[]): void {
  if (!user.roles.some((role) => roles.includes(role))) {
    request.audit({ event: 'authorization', outcome: 'forbidden', sub: user.sub, path: request.routeOptions.url ?? request.url.split('?')[0], needs: roles })
    throw new AppError('FORBIDDEN')
  }
}
