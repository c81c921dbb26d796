// POST /auth/sign-in and POST /auth/challenge: username and password, then any challenge Cognito asks for.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AppError, unauthenticated } from '../../errors.js'
import { CHALLENGES } from '../../cognito/auth.js'
import { PRE_AUTH_COOKIE, COOKIE_OPTIONS } from '../../plugins/session.js'
import { PasswordSchema, UsernameSchema, errorResponses } from '../schemas.js'
import { SignInResponse, answerOutcome } from './outcome.js'

/** Challenges answered with a one-time code, which must not be accepted twice. */
const CODE_CHALLENGES = new Set(['SOFTWARE_TOKEN_MFA', 'SMS_MFA', 'EMAIL_OTP', 'MFA_SETUP'])

/** Wrong answers to one challenge before the flow must restart. */
const MAX_CHALLENGE_ATTEMPTS = 5

const SignInBody = Type.Object({ username: UsernameSchema, password: PasswordSchema }, { additionalProperties: false })
const ChallengeBody = Type.Object({
  challenge: Type.Union(CHALLENGES.map((c) => Type.Literal(c))),
  answer: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  newPassword: Type.Optional(PasswordSchema),
  /** Token mode: the handle returned with the challenge. */
  session: Type.Optional(Type.String({ maxLength: 128 }))
}, { additionalProperties: false })

/** POST /auth/sign-in and POST /auth/challenge. */
const signIn: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/sign-in', {
    config: { createsSession: true },
    schema: { tags: ['auth'], body: SignInBody, response: { 200: SignInResponse, ...errorResponses } }
  }, async (request, reply) => {
    const username = request.body.username.trim()
    await app.throttle.forAccount(request, username, 'sign-in')
    return await app.throttle.attempt(request, ['ip', 'password'], 'sign-in', async (failed) => {
      // A session the browser already had ends here: sign-in always issues a fresh id.
      await app.endCookieSession(request)
      try {
        const outcome = await app.cognito.auth.signIn(username, request.body.password, request.ip)
        const answer = await answerOutcome(app, request, reply, outcome)
        request.audit({ event: 'sign-in', outcome: answer.status === 'SIGNED_IN' ? 'success' : 'challenge', username, ...('user' in answer ? { sub: answer.user.sub } : {}) })
        return answer
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_CREDENTIALS') await failed()
        request.audit({ event: 'sign-in', outcome: error instanceof AppError ? error.code : 'INTERNAL', username })
        throw error
      }
    })
  })

  app.post('/challenge', {
    config: { createsSession: true },
    schema: { tags: ['auth'], body: ChallengeBody, response: { 200: SignInResponse, ...errorResponses } }
  }, async (request, reply) => {
    return await app.throttle.attempt(request, ['ip'], 'challenge', async (failedFromIp) => {
      const handle = app.sessionMode === 'cookie' ? request.cookies[PRE_AUTH_COOKIE] : request.body.session
      const pending = await app.sessions.takeChallenge(handle)
      if (handle === undefined || pending === undefined || pending.challenge !== request.body.challenge) {
        reply.clearCookie(PRE_AUTH_COOKIE, COOKIE_OPTIONS)
        request.audit({ event: 'challenge', outcome: 'no-pending-challenge' })
        throw unauthenticated('This sign-in step has expired or does not exist. Sign in again.')
      }
      // Wrong codes count against the user as well, in the account's one budget (Throttle.accountName: the challenge may
      // carry Cognito's username rather than the email typed): signing in again gives a new challenge, not new guesses.
      await app.throttle.forAccount(request, pending.username, 'challenge')
      const userCounters = CODE_CHALLENGES.has(pending.challenge) ? ['code' as const] : []
      return await app.throttle.attempt(request, userCounters, 'challenge', async (failedForUser) => {
        try {
          // A new password meets the pool's rules before Cognito sees it (the emulator checks none).
          if (request.body.newPassword !== undefined) await app.cognito.recovery.checkPassword(request.body.newPassword)
          if (request.body.answer !== undefined && CODE_CHALLENGES.has(pending.challenge) && !await app.sessions.claimCode(pending.username, request.body.answer)) {
            throw new AppError('INVALID_CODE')
          }
          const outcome = await app.cognito.auth.respond(pending, request.body, request.ip)
          const answer = await answerOutcome(app, request, reply, outcome)
          request.audit({ event: 'challenge', challenge: pending.challenge, outcome: answer.status === 'SIGNED_IN' ? 'success' : 'challenge', username: pending.username })
          return answer
        } catch (error) {
          const code = error instanceof AppError ? error.code : 'INTERNAL'
          // How long until the client and the account may guess again, once this guess is counted (0: at once).
          const locked = code === 'INVALID_CODE' ? Math.max(await failedFromIp(), await failedForUser()) : 0
          request.audit({ event: 'challenge', challenge: pending.challenge, outcome: code, username: pending.username })
          const retryable = code === 'INVALID_CODE' || code === 'INVALID_PASSWORD' || code === 'VALIDATION_ERROR'
          if (!retryable) throw error
          if (pending.attempts + 1 >= MAX_CHALLENGE_ATTEMPTS) {
            reply.clearCookie(PRE_AUTH_COOKIE, COOKIE_OPTIONS)
            // Signing in again starts a new challenge, but its code is refused while the account's budget is spent.
            throw new AppError('TOO_MANY_REQUESTS', 'Too many wrong answers. Sign in again.').retryAfter(Math.max(1, locked))
          }
          // The same step may be tried again with the same handle, until the time it was first given.
          await app.sessions.saveChallenge(pending, { attempts: pending.attempts + 1, id: handle, expiresAt: pending.expiresAt })
          throw error
        }
      })
    })
  })
}

export default signIn
