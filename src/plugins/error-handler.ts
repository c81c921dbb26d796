// The one place errors become HTTP: the contract's body, the right status, Retry-After; nothing internal leaks.
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, UnsupportedByEmulatorError, type ErrorCode } from '../errors.js'

/** Fastify's own error codes, as the contract names them. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_ERROR',
  FST_ERR_VALIDATION: 'VALIDATION_ERROR',
  FST_ERR_BAD_URL: 'NOT_FOUND',
  FST_ERR_NOT_FOUND: 'NOT_FOUND'
}

/** Turns anything thrown into an AppError; unknown errors become INTERNAL. */
export function toAppError (error: unknown): AppError {
  if (error instanceof AppError) return error
  if (error instanceof UnsupportedByEmulatorError) return new AppError('INTERNAL', 'This operation is not available on the local Cognito emulator.')
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    return new AppError('VALIDATION_ERROR', `The request is not valid: ${fastifyError.message}.`)
  }
  const code = FASTIFY_CODES[fastifyError.code ?? '']
  if (code !== undefined) return new AppError(code, code === 'VALIDATION_ERROR' ? 'The request body is not valid JSON.' : undefined)
  if (fastifyError.statusCode === 429) return new AppError('TOO_MANY_REQUESTS')
  // JSON.parse errors and prototype-poisoning refusals from the body parser.
  if (fastifyError.statusCode === 400) return new AppError('VALIDATION_ERROR', 'The request body is not valid JSON.')
  return new AppError('INTERNAL')
}

/** Sends the contract's error body. */
export function sendError (request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  const retryAfter = error.retryAfterSeconds ?? (error.code === 'TOO_MANY_REQUESTS' || error.code === 'UPSTREAM_UNAVAILABLE' ? 5 : undefined)
  if (retryAfter !== undefined) reply.header('Retry-After', String(retryAfter))
  // Also on replies that bypass the hooks (routing errors).
  if (request.url.startsWith('/auth')) reply.header('Cache-Control', 'no-store')
  return reply.code(error.statusCode).type('application/json').send({
    error: error.code,
    message: error.message,
    requestId: request.id,
    ...error.extra
  })
}

/** Installs the one error handler and the 404 handler (the contract's body) in the scope it is registered in. */
export default fp(async (app) => {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error)
    if (appError.code === 'INTERNAL') {
      // Only our own description of the failure is logged: no stack, no AWS names, no secrets.
      request.log.error({ failure: error instanceof Error ? error.constructor.name : typeof error, code: (error as FastifyError).code }, 'request failed')
    } else if (appError.statusCode >= 500) {
      request.log.warn({ code: appError.code }, 'upstream failure')
    }
    return sendError(request, reply, appError)
  })
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new AppError('NOT_FOUND')))
}, { name: 'error-handler' })
