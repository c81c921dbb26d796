// Route guards: `requireUser` and `requireRole(...roles)`, declared on routes; judged by Cognito groups only.
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { AppError } from '../errors.js'
import type { Role } from '../role-mapping.js'

/** Needs any signed-in caller (session cookie or bearer access token). */
export const requireUser: preHandlerAsyncHookHandler = async function (request: FastifyRequest, reply: FastifyReply) {
  await request.server.authenticate(request, reply)
}

/**
 * Needs a caller holding at least one of `roles`. Roles come from the token's Cognito groups through the configured
 * mapping; roles named in a body, query or header are ignored. A refusal is 403 FORBIDDEN and is audited.
 */
export function requireRole (...roles: Role[]): preHandlerAsyncHookHandler {
  return async function (request: FastifyRequest, reply: FastifyReply) {
    const { user } = await request.server.authenticate(request, reply)
    if (!user.roles.some((role) => roles.includes(role))) {
      request.audit({ event: 'authorization', outcome: 'forbidden', sub: user.sub, path: request.routeOptions.url ?? request.url.split('?')[0], needs: roles })
      throw new AppError('FORBIDDEN')
    }
  }
}
