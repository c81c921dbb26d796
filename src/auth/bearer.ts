// Reads a bearer access token from a request and turns it into an identity; shared by the BFF and the exported guard.
import type { FastifyRequest } from 'fastify'
import { unauthenticated } from '../errors.js'
import type { AccessClaims, TokenVerifier } from './token-verifier.js'
import { andThen, type MaybePromise } from '../maybe-promise.js'

/**
 * The `Authorization: Bearer <token>` value, undefined when absent or of another scheme (a proxy's Basic credentials
 * in front of a staging site, say: the request may still carry a session cookie); a Bearer value without a token, or
 * with a space or tab inside it, is refused. String searches, not a regular expression: a token is about 1 KB and this
 * runs on every bearer request (the verifier refuses any other character the token may hold).
 */
export function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const value = header.trim()
  const gap = value.search(/[ \t]/)
  if ((gap === -1 ? value : value.slice(0, gap)).toLowerCase() !== 'bearer') return undefined
  const token = gap === -1 ? '' : value.slice(gap + 1).trimStart()
  if (token === '' || token.includes(' ') || token.includes('\t')) throw unauthenticated()
  return token
}

/**
 * Verifies the access token (ID tokens are refused), asks `isRevoked`, and returns its claims (the user is
 * `userOf(claims, roleGroups)`). Waits only for what needs waiting for: a token verified lately and known not to be
 * revoked is answered at once, without a promise (the verifier and the revocations answer at once). A refusal is
 * thrown, or rejects, with UNAUTHENTICATED.
 */
export function claimsFromBearer (
  verifier: TokenVerifier, token: string, isRevoked: (claims: AccessClaims) => MaybePromise<boolean> = () => false
): MaybePromise<AccessClaims> {
  return andThen(verifier.verifyAccess(token), (claims) => andThen(isRevoked(claims), (revoked) => {
    if (revoked) throw unauthenticated()
    return claims
  }))
}
