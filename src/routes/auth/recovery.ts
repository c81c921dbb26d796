// POST /auth/forgot-password, /auth/resend-code, /auth/verify-otp and /auth/change-password: recovery without enumeration.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { AppError, UnsupportedByEmulatorError } from '../../errors.js'
import { requireUser } from '../../plugins/roles.js'
import { COOKIE_OPTIONS, SESSION_COOKIE } from '../../plugins/session.js'
import { PendingEndings } from '../../session/pending-endings.js'
import type { CognitoBudget } from '../../cognito/budget.js'
import { PasswordSchema, UsernameSchema, errorResponses } from '../schemas.js'

/** A confirmation or reset code as typed; Cognito judges it. */
export const CodeSchema = Type.String({ minLength: 1, maxLength: 64 })

const UsernameBody = Type.Object({ username: UsernameSchema }, { additionalProperties: false })
const VerifyOtpBody = Type.Object({ username: UsernameSchema, code: CodeSchema, newPassword: PasswordSchema }, { additionalProperties: false })
const ChangePasswordBody = Type.Object({ oldPassword: PasswordSchema, newPassword: PasswordSchema }, { additionalProperties: false })
const CodeSent = Type.Object({ status: Type.Literal('CODE_SENT') })

/** Cognito's answers that say a password call was refused, so the password is unchanged. */
const REFUSALS = new Set(['INVALID_CODE', 'INVALID_PASSWORD', 'INVALID_CREDENTIALS', 'VALIDATION_ERROR', 'TOO_MANY_REQUESTS'])

/**
 * True when a failed password call may still have changed the password (no answer in time, an outage, an error of
 * ours): the user's sessions then end as after a success, since one of them may be the reason for the change.
 */
function mayHaveTakenEffect (error: unknown): boolean {
  return !(error instanceof AppError && REFUSALS.has(error.code))
}

/** The audit outcome of a failure: its contract code, or what the emulator could not do. */
export function outcomeOf (error: unknown): string {
  if (error instanceof AppError) return error.code
  return error instanceof UnsupportedByEmulatorError ? 'UNSUPPORTED_BY_EMULATOR' : 'INTERNAL'
}

/**
 * The uniform answer of the code-sending routes: counts the request per IP, starts sendCounted (the send budget, then
 * `send`) without waiting for it, and answers 202 CODE_SENT after the configured fixed time. Neither Cognito's
 * outcome (unknown, unconfirmed or disabled user, Cognito throttling) nor the send budget can change the answer or its
 * timing; only the per-IP limit, which knows no account, can turn it into 429.
 */
async function answerUniformly (app: FastifyInstance, request: FastifyRequest, typed: string, event: string,
  pending: Set<Promise<void>>, send: (username: string) => Promise<void>): Promise<{ status: 'CODE_SENT' }> {
  const answerAt = sleep(app.throttle.uniformResponseMs)
  await app.throttle.charge(request, ['ip'], event)
  const username = typed.trim()
  const sending = sendCounted(app, request, username, send).then(
    (sent) => { request.audit({ event, outcome: sent ? 'sent' : 'suppressed-limit', username }) },
    (error: unknown) => { request.audit({ event, outcome: `not-sent:${outcomeOf(error)}`, username }) }
  ).finally(() => pending.delete(sending))
  pending.add(sending)
  await answerAt
  return { status: 'CODE_SENT' as const }
}

/**
 * Counts the send against the account's budget, under the one name its counters use whichever of its names was typed
 * (a name other than an email is looked up, after the answer), and sends unless the budget is spent; true when it sent.
 */
async function sendCounted (app: FastifyInstance, request: FastifyRequest, username: string, send: (username: string) => Promise<void>): Promise<boolean> {
  request.throttleUser = await app.throttle.accountName(username)
  if (await app.throttle.count(request, ['send'])) return false
  await send(username)
  return true
}

/** POST /auth/forgot-password, /auth/resend-code, /auth/verify-otp and /auth/change-password. */
const recovery: FastifyPluginAsyncTypebox = async (app) => {
  /** Code sends still running after their answer; closing waits for them (each is bounded by the Cognito timeout). */
  const pending = new Set<Promise<void>>()
  /** Users whose sessions must end after a password change, retried here while the store fails. */
  const endings = new PendingEndings(async (sub, budget) => { await app.endUserSessions(sub, budget) }, app.log)
  app.addHook('onClose', async () => {
    await Promise.allSettled([...pending])
    await endings.close()
  })

  /**
   * After a new password is in force: every session of the user ends (now, or once a failing store is back; see
   * PendingEndings), and Cognito revokes the refresh tokens it issued, where the pool can, whether or not the store could.
   * Both at once (Cognito's AdminUserGlobalSignOut needs no token of the user), waiting on Cognito within the request's
   * `budget`.
   */
  async function endSignIns (sub: string | undefined, username: string, budget: CognitoBudget): Promise<{ sessionsEnded: boolean, cognitoGlobalSignOut: boolean }> {
    const [sessionsEnded, cognitoGlobalSignOut] = await Promise.all([
      sub === undefined || endings.end(sub, budget),
      budget.within(app.cognito.admin.globalSignOut(username).catch(() => false), () => false)
    ])
    return { sessionsEnded, cognitoGlobalSignOut }
  }

  app.post('/forgot-password', {
    schema: { tags: ['auth'], body: UsernameBody, response: { 202: CodeSent, ...errorResponses } }
  }, async (request, reply) => {
    reply.code(202)
    return await answerUniformly(app, request, request.body.username, 'forgot-password', pending, async (username) => { await app.cognito.recovery.forgotPassword(username, request.ip) })
  })

  app.post('/resend-code', {
    schema: { tags: ['auth'], body: UsernameBody, response: { 202: CodeSent, ...errorResponses } }
  }, async (request, reply) => {
    reply.code(202)
    return await answerUniformly(app, request, request.body.username, 'resend-code', pending, async (username) => { await app.cognito.recovery.resendCode(username, request.ip) })
  })

  app.post('/verify-otp', {
    schema: { tags: ['auth'], body: VerifyOtpBody, response: { 200: Type.Object({ status: Type.Literal('PASSWORD_RESET') }), ...errorResponses } }
  }, async (request) => {
    const username = request.body.username.trim()
    const budget = app.cognito.gateway.budget()
    await app.throttle.forAccount(request, username, 'password-reset')
    return await app.throttle.attempt(request, ['ip', 'code'], 'password-reset', async (failed) => {
      await app.cognito.recovery.checkPassword(request.body.newPassword)
      // The user's sub is read first: once the password has changed, nothing may stop their sessions from ending.
      const sub = (await app.cognito.gateway.account(username))?.sub
      try {
        await app.cognito.recovery.confirmForgotPassword(username, request.body.code, request.body.newPassword, request.ip)
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_CODE') await failed()
        if (mayHaveTakenEffect(error)) {
          // The reset may have gone through, and a reset is often made because someone else holds a session: the
          // user's sessions end as after a success. Asking Cognito instead (a sign-in with the new password) would hand
          // guessers an oracle against the account while Cognito is slow. The attempt counts as a guess, so a guesser
          // can sign a user out this way only a few times per window, and only while Cognito answers late. The
          // sessions end first: counting the guess needs the store too.
          if (sub !== undefined) await endings.end(sub, budget)
          await failed()
        }
        request.audit({ event: 'password-reset', outcome: outcomeOf(error), username })
        throw error
      }
      // Every session of the user ends, and the refresh tokens Cognito issued to clients that hold their own (token
      // mode, other apps) are revoked where the pool can; the reset itself signs nobody in. A store failing right now
      // stops neither: the sessions end once it is back (PendingEndings), and Cognito is asked all the same.
      const ended = await endSignIns(sub, username, budget)
      request.audit({ event: 'password-reset', outcome: 'success', username, ...ended, ...(sub === undefined ? {} : { sub }) })
      // 200 even when the sessions' ending is still pending: the new password is in force and the code used up, so a
      // 503 would send the user to retry into INVALID_CODE, which ends nothing. The ending no longer depends on the
      // user: it is late, not skipped (retried here, logged, audited as sessionsEnded: false). Until then the older
      // sessions work only while the store still reads but refuses writes (an unreachable store serves none), and on
      // a real pool their refresh tokens are already revoked.
      return { status: 'PASSWORD_RESET' as const }
    })
  })

  app.post('/change-password', {
    preHandler: requireUser,
    schema: { tags: ['auth'], security: [{ session: [] }, { bearer: [] }], body: ChangePasswordBody, response: { 204: Type.Null({ description: 'No content' }), ...errorResponses } }
  }, async (request, reply) => {
    const identity = request.identity!
    const sub = identity.user.sub
    const budget = app.cognito.gateway.budget()
    // Wrong current passwords count in the account's one budget, with wrong passwords at sign-in: a guess is a guess.
    await app.throttle.forAccount(request, identity.user.username, 'password-change')
    return await app.throttle.attempt(request, ['ip', 'password'], 'password-change', async (failed) => {
      await app.cognito.recovery.checkPassword(request.body.newPassword)
      try {
        await app.cognito.recovery.changePassword(identity.accessToken, request.body.oldPassword, request.body.newPassword)
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_CREDENTIALS') await failed()
        if (mayHaveTakenEffect(error)) await endings.end(sub, budget)
        request.audit({ event: 'password-change', outcome: outcomeOf(error), sub })
        throw error
      }
      // As for a reset, before this browser signs in again, which Cognito's global sign-out would end too.
      const { sessionsEnded, cognitoGlobalSignOut } = await endSignIns(sub, identity.user.username, budget)
      // The browser that changed the password keeps a session: a fresh one, signed in with the new password. The
      // password has changed whatever happens here, so a sign-in that fails only leaves the browser signed out. While
      // the ending is pending none is started: the store cannot keep it now, and the ending would end it once back.
      let kept = false
      if (identity.session !== undefined) {
        // Not once the budget is spent: the tokens would come too late to keep.
        if (sessionsEnded && !budget.spent) {
          // Admitted (the emulator's check that the account is enabled) within the budget too.
          const signingIn = app.cognito.auth.signIn(identity.session.record.username, request.body.newPassword, request.ip)
            .then(async (outcome) => { if (outcome.kind === 'tokens') await outcome.admitted; return outcome })
            .catch(() => undefined)
          const outcome = await budget.within(signingIn, () => {
            // Too late to keep: tokens Cognito issues after the answer are revoked, so none outlives it unheld.
            void signingIn.then(async (late) => { if (late?.kind === 'tokens' && late.tokens.refreshToken !== undefined) await app.cognito.auth.revoke(late.tokens.refreshToken) })
            return undefined
          })
          if (outcome?.kind === 'tokens') kept = await app.startSession(reply, outcome).then(() => true, () => false)
        }
        if (!kept) reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS)
      }
      request.audit({ event: 'password-change', outcome: 'success', sub, keptSession: kept, sessionsEnded, cognitoGlobalSignOut })
      // 204 even when the ending is still pending, for the reasons verify-otp gives: a retry could only be refused
      // (INVALID_CREDENTIALS, the old password no longer works) and would end nothing.
      return await reply.code(204).send(null)
    })
  })
}

export default recovery
