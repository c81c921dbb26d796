// Reads a bearer access token from a request and turns it into an identity; shared by the BFF and the exported guard.
import type { FastifyRequest } from 'fastify'
import { unauthenticated } from '../errors.js'
import type { RoleGroups } from '../role-mapping.js'
import type { AccessClaims, TokenVerifier } from './token-verifier.js'
import { toUser, type User } from './user.js'

/** The `Authorization: Bearer <token>` value, undefined when absent; any other Authorization scheme is refused. */
export function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (match === null) throw unauthenticated()
  return match[1]
}

/** Verifies the access token (ID tokens are refused), asks `isRevoked`, and returns the user it names. */
export async function userFromBearer (
  verifier: TokenVerifier, token: string, roleGroups: RoleGroups, isRevoked: (claims: AccessClaims) => boolean | Promise<boolean> = () => false
): Promise<User> {
  const claims = await verifier.verifyAccess(token)
  if (await isRevoked(claims)) throw unauthenticated()
  return toUser({ ...claims, email: null }, roleGroups)
}
