// Turns a Cognito sign-in outcome into the contract's answer: a session (or tokens), or a pending challenge.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { AuthOutcome } from '../../cognito/auth.js'
import { CHALLENGES } from '../../cognito/auth.js'
import { COOKIE_OPTIONS, PRE_AUTH_COOKIE } from '../../plugins/session.js'
import { TokensSchema, UserSchema } from '../schemas.js'

/** What sign-in and challenge answers return. */
export const SignInResponse = Type.Union([
  Type.Object({ status: Type.Literal('SIGNED_IN'), user: Type.Ref(UserSchema), tokens: Type.Optional(TokensSchema) }),
  Type.Object({
    status: Type.Literal('CHALLENGE'),
    challenge: Type.Union(CHALLENGES.map((c) => Type.Literal(c))),
    /** Token mode only: the opaque handle that /auth/challenge takes back. */
    session: Type.Optional(Type.String()),
    destination: Type.Optional(Type.String()),
    options: Type.Optional(Type.Array(Type.String())),
    secretCode: Type.Optional(Type.String())
  })
])

/** Answers with a signed-in user or the next challenge; a challenge's Cognito session stays on the server. */
export async function answerOutcome (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, outcome: AuthOutcome) {
  if (outcome.kind === 'tokens') {
    if (request.cookies[PRE_AUTH_COOKIE] !== undefined) reply.clearCookie(PRE_AUTH_COOKIE, COOKIE_OPTIONS)
    const { user, tokens } = await app.startSession(reply, outcome)
    return { status: 'SIGNED_IN' as const, user, ...(tokens === undefined ? {} : { tokens }) }
  }
  const handle = await app.sessions.saveChallenge(outcome.pending)
  if (app.sessionMode === 'cookie') reply.setCookie(PRE_AUTH_COOKIE, handle, { ...COOKIE_OPTIONS, maxAge: app.sessions.limits.challengeSeconds })
  return {
    status: 'CHALLENGE' as const,
    challenge: outcome.pending.challenge,
    ...(app.sessionMode === 'token' ? { session: handle } : {}),
    ...outcome.pending.details
  }
}
