// GET /auth/me, POST /auth/refresh and POST /auth/sign-out: the life of a signed-in session.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from '@sinclair/typebox'
import { AppError, unauthenticated } from '../../errors.js'
import { COOKIE_OPTIONS, SESSION_COOKIE } from '../../plugins/session.js'
import { requireUser } from '../../plugins/roles.js'
import { TokensSchema, UserSchema, errorResponses } from '../schemas.js'
import { BoundedView } from '../../session/bounded-view.js'
import type { User } from '../../auth/user.js'

const RefreshBody = Type.Object({
  refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
  /** Token mode with a confidential client: the Cognito username the SECRET_HASH is computed over. */
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 128 }))
}, { additionalProperties: false })

const SignOutBody = Type.Object({
  global: Type.Optional(Type.Boolean()),
  refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'Token mode: the refresh token of the sign-in to end; with it the sign-out ends that sign-in even after its access tokens have expired.' }))
}, { additionalProperties: false })

/** How long the email Cognito gave for a bearer caller is reused (access tokens carry none). */
const EMAIL_TTL_MS = 10 * 60_000

/** What /auth/me answered a bearer caller, per user: the user object it was built from, and until when it holds. */
interface BearerAnswer { user: User, answer: User, until: number }

/** GET /auth/me, POST /auth/refresh and POST /auth/sign-out. */
const session: FastifyPluginAsyncTypebox = async (app) => {
  const bearerAnswers = new BoundedView<BearerAnswer>(10_000)

  /** The JSON of each answer, per user object: those are never changed (see src/auth/user.ts), so it is worked out once. */
  const answers = new WeakMap<User, string>()
  function answer (reply: FastifyReply, user: User): void {
    let json = answers.get(user)
    if (json === undefined) {
      json = reply.serialize(user) as string
      answers.set(user, json)
    }
    reply.type('application/json; charset=utf-8').send(json)
  }

  app.get('/me', {
    preHandler: requireUser,
    schema: { tags: ['auth'], security: [{ session: [] }, { bearer: [] }], response: { 200: Type.Ref(UserSchema), ...errorResponses } }
  }, (request, reply) => {
    // Not async: the common answers are at hand, and a handler's promise would cost every call.
    const identity = request.identity!
    if (identity.via === 'session' || identity.user.email !== null) return answer(reply, identity.user)
    // A repeated bearer token yields the same user object (see src/auth/user.ts), so its answer is reused as is.
    const known = bearerAnswers.get(identity.user.sub, Date.now())
    if (known?.user === identity.user) return answer(reply, known.answer)
    const remember = (email: string | null): void => {
      const user = { ...identity.user, email }
      bearerAnswers.set(identity.user.sub, { user: identity.user, answer: user, until: known?.until ?? Date.now() + EMAIL_TTL_MS })
      answer(reply, user)
    }
    if (known !== undefined) return remember(known.answer.email)
    return app.cognito.auth.email(identity.accessToken).then(remember)
  })

  app.post('/refresh', {
    schema: {
      tags: ['auth'],
      body: Type.Union([RefreshBody, Type.Null()]),
      response: { 200: Type.Object({ status: Type.Literal('REFRESHED'), expiresIn: Type.Integer(), tokens: Type.Optional(TokensSchema) }), ...errorResponses }
    }
  }, async (request, reply) => {
    if (app.sessionMode === 'token') {
      const refreshToken = request.body?.refreshToken
      if (refreshToken === undefined) throw new AppError('VALIDATION_ERROR', 'Send {"refreshToken"} to refresh in token mode.')
      try {
        const tokens = await app.refreshTokens(refreshToken, request.body?.username ?? '')
        return { status: 'REFRESHED' as const, expiresIn: tokens.expiresIn, tokens }
      } catch (error) {
        request.audit({ event: 'refresh', outcome: error instanceof AppError ? error.code : 'INTERNAL' })
        throw error
      }
    }
    const current = await app.findSession(request.cookies[SESSION_COOKIE])
    if (current === undefined) throw unauthenticated()
    let rotated
    try {
      rotated = await app.renewSession(current)
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'INTERNAL'
      request.audit({ event: 'refresh', outcome: code, sub: current.record.sub })
      // Only a rejected refresh token or a session ended meanwhile ends it; a passing failure keeps it.
      if (code === 'UNAUTHENTICATED') await app.forgetCookie(request, reply)
      throw error
    }
    reply.setCookie(SESSION_COOKIE, rotated.id, COOKIE_OPTIONS)
    return { status: 'REFRESHED' as const, expiresIn: Math.max(0, Math.round((rotated.record.accessExpiresAt - Date.now()) / 1000)) }
  })

  app.post('/sign-out', {
    schema: { tags: ['auth'], body: Type.Union([SignOutBody, Type.Null()]), response: { 204: Type.Null({ description: 'Signed out.' }), ...errorResponses } }
  }, async (request, reply) => {
    const global = request.body?.global === true
    // Cognito's revocations are waited for within one budget, whatever their number (bar 39: an answer within 5 s).
    const budget = app.cognito.gateway.budget()
    let identity
    try {
      identity = await app.authenticate(request, reply, { refresh: false })
    } catch (error) {
      // Signing out twice, or with a dead session, is harmless.
      if (!(error instanceof AppError) || error.code !== 'UNAUTHENTICATED') throw error
    }
    if (identity === undefined) {
      // A refresh in another tab may have moved this browser's session to a new id: that one ends too.
      const cookie = request.cookies[SESSION_COOKIE]
      if (cookie !== undefined) await app.endMovedSession(cookie, budget)
      if (request.body?.refreshToken !== undefined) await app.endRefreshToken(request.body.refreshToken, budget)
      reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS)
      return await reply.code(204).send(null)
    }
    const { user, accessToken } = identity
    // Every session first (this one among them), so that a failure leaves this one alive for the retry to find.
    if (global) {
      // Cognito's GlobalSignOut needs a live access token: the request's revocations at Cognito, which would kill it
      // there, leave only once it has settled (CognitoBudget.first), even when the answer does not wait for it.
      const cognitoSignOut = budget.first(app.cognito.auth.globalSignOut(accessToken).catch(() => false), () => false)
      await app.endUserSessions(user.sub, budget)
      await cognitoSignOut
    }
    await app.endSession(request, identity, budget)
    if (request.body?.refreshToken !== undefined) await app.endRefreshToken(request.body.refreshToken, budget)
    // Only once the sign-out is recorded: a failure (503) leaves the browser its cookie to try again with.
    reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS)
    request.audit({ event: 'sign-out', outcome: 'success', sub: user.sub, global })
    return await reply.code(204).send(null)
  })
}

export default session
