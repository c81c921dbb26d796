// POST /auth/sign-up and POST /auth/confirm-sign-up: self sign-up (where the pool allows it) and its confirmation code.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AppError } from '../../errors.js'
import { PasswordSchema, UsernameSchema, errorResponses } from '../schemas.js'
import { requestedLanguage } from './language.js'
import { CodeSchema, outcomeOf } from './recovery.js'

const SignUpBody = Type.Object({
  username: UsernameSchema,
  password: PasswordSchema,
  email: Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' })
}, { additionalProperties: false })
const ConfirmBody = Type.Object({ username: UsernameSchema, code: CodeSchema }, { additionalProperties: false })

/** POST /auth/sign-up and POST /auth/confirm-sign-up. */
const signUp: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/sign-up', {
    schema: { tags: ['auth'], body: SignUpBody, response: { 202: Type.Object({ status: Type.Literal('CONFIRMATION_REQUIRED') }), ...errorResponses } }
  }, async (request, reply) => {
    const username = request.body.username.trim()
    await app.throttle.charge(request, ['ip'], 'sign-up')
    try {
      await app.cognito.recovery.checkPassword(request.body.password)
      // The language the user asked for (Accept-Language) becomes their locale: their emails come in it.
      await app.cognito.recovery.signUp(username, request.body.password, request.body.email.trim(), request.ip, requestedLanguage(request.headers))
    } catch (error) {
      request.audit({ event: 'sign-up', outcome: outcomeOf(error), username })
      throw error
    }
    request.audit({ event: 'sign-up', outcome: 'success', username })
    return await reply.code(202).send({ status: 'CONFIRMATION_REQUIRED' as const })
  })

  app.post('/confirm-sign-up', {
    schema: { tags: ['auth'], body: ConfirmBody, response: { 200: Type.Object({ status: Type.Literal('CONFIRMED') }), ...errorResponses } }
  }, async (request) => {
    const username = request.body.username.trim()
    await app.throttle.forAccount(request, username, 'confirm-sign-up')
    return await app.throttle.attempt(request, ['ip', 'code'], 'confirm-sign-up', async (failed) => {
      try {
        await app.cognito.recovery.confirmSignUp(username, request.body.code, request.ip)
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_CODE') await failed()
        request.audit({ event: 'confirm-sign-up', outcome: outcomeOf(error), username })
        throw error
      }
      request.audit({ event: 'confirm-sign-up', outcome: 'success', username })
      return { status: 'CONFIRMED' as const }
    })
  })
}

export default signUp
