// The one place errors become HTTP: the contract's body, the right status, Retry-After; nothing internal leaks.
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, UnsupportedByEmulatorError, type ErrorCode } from '../errors.js'
import { isUnstoredRequest, SECURITY_HEADERS } from './security-headers.js'
import { ownEntry } from '../own-entry.js'

const NOT_JSON = 'The request body is not valid JSON.'

/** Fastify's own error codes, as the contract names them, with a sentence where the code's default says too little. */
const FASTIFY_ERRORS: Record<string, { code: ErrorCode, message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'VALIDATION_ERROR', message: 'The request body does not match its Content-Length.' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE' },
  // An empty body, JSON that does not parse, or a __proto__/constructor key (refused by the parser).
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'VALIDATION_ERROR', message: NOT_JSON },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'VALIDATION_ERROR', message: NOT_JSON },
  FST_ERR_VALIDATION: { code: 'VALIDATION_ERROR' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'VALIDATION_ERROR', message: 'A part of the URL path is too long.' },
  FST_ERR_BAD_URL: { code: 'NOT_FOUND' },
  FST_ERR_NOT_FOUND: { code: 'NOT_FOUND' }
}

/** The contract's generic code for each client-error status it has one for. */
const STATUS_CODE: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS'
}

/** Turns anything thrown into an AppError; client errors (4xx) keep a 4xx answer; unknown errors become INTERNAL. */
export function toAppError (error: unknown): AppError {
  if (error instanceof AppError) return error
  if (error instanceof UnsupportedByEmulatorError) return new AppError('INTERNAL', 'This operation is not available on the local Cognito emulator.')
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    return new AppError('VALIDATION_ERROR', `The request is not valid: ${fastifyError.message}.`)
  }
  const known = ownEntry(FASTIFY_ERRORS, fastifyError.code ?? '')
  if (known !== undefined) return new AppError(known.code, known.message)
  const status = fastifyError.statusCode
  // Any other client error (a request stream that broke off, a plugin's refusal): the contract's code for its status,
  // or, for a status the contract has no code for (@fastify/static's 412 and 416), 400 with the status's reason.
  if (status !== undefined && status >= 400 && status < 500) {
    const code = STATUS_CODE[status]
    return code === undefined ? new AppError('VALIDATION_ERROR', `The request cannot be answered as sent (${STATUS_CODES[status] ?? status}).`) : new AppError(code)
  }
  return new AppError('INTERNAL')
}

/** The contract's error body. */
function errorBody (error: AppError, requestId: string): Record<string, unknown> {
  return { error: error.code, message: error.message, requestId, ...error.extra }
}

/** Sends the contract's error body. */
export function sendError (request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  const retryAfter = error.retryAfterSeconds ?? (error.code === 'TOO_MANY_REQUESTS' || error.code === 'UPSTREAM_UNAVAILABLE' ? 5 : undefined)
  if (retryAfter !== undefined) reply.header('Retry-After', String(retryAfter))
  // Also on replies that bypass the hooks (routing errors).
  if (isUnstoredRequest(request)) reply.header('Cache-Control', 'no-store')
  return reply.code(error.statusCode).type('application/json').send(errorBody(error, request.id))
}

/**
 * What a request Node's HTTP parser refused becomes. The contract pairs each code with one status, so a header block
 * over the limit is 400 VALIDATION_ERROR saying so (431 is a refinement of 400 that the contract has no code for),
 * and a request that did not arrive in time is 400 too (no 408 code either); chunk extensions over Node's limit
 * are a body too large, 413.
 */
function parserErrorToAppError (error: ConnectionError): AppError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': return new AppError('VALIDATION_ERROR', 'The request headers are too large.')
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return new AppError('PAYLOAD_TOO_LARGE')
    case 'ERR_HTTP_REQUEST_TIMEOUT': return new AppError('VALIDATION_ERROR', 'The request did not arrive in time.')
    default: return new AppError('VALIDATION_ERROR', 'The request is not valid HTTP.')
  }
}

/**
 * Writes the contract's error answer straight to a socket no reply owns (the security headers, no-store, and
 * `Connection: close`), then closes it. As Node's own handler: never into a response already under way on it.
 */
function answerOnSocket (socket: Socket, appError: AppError, requestId: string): void {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage
  if (socket.writable && inFlight?.headersSent !== true) {
    const body = JSON.stringify(errorBody(appError, requestId))
    const headers: Array<readonly [string, string]> = [
      ...SECURITY_HEADERS,
      ['Cache-Control', 'no-store'],
      ['Content-Type', 'application/json; charset=utf-8'],
      ['Content-Length', String(Buffer.byteLength(body))],
      ['Connection', 'close']
    ]
    socket.write(`HTTP/1.1 ${appError.statusCode} ${STATUS_CODES[appError.statusCode]}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`)
  }
  socket.destroy()
}

/**
 * Fastify's `clientErrorHandler`: answers a request Node's HTTP parser refused (it never reaches Fastify) with the
 * contract's body, a fresh request id (also logged) and the security headers, written straight to the socket.
 */
export function clientErrorHandler (newRequestId: () => string): (this: FastifyInstance, error: ConnectionError, socket: Socket) => void {
  return function answerClientError (error, socket) {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const appError = parserErrorToAppError(error)
    const requestId = newRequestId()
    // The parser error only: its raw packet may hold a cookie or a token.
    this.log.info({ reqId: requestId, parserError: error.code, res: { statusCode: appError.statusCode } }, 'request refused by the HTTP parser')
    answerOnSocket(socket, appError, requestId)
  }
}

/**
 * The HTTP server's `connect` listener: Node hands CONNECT requests to it instead of Fastify, and closes the socket
 * unanswered when no one listens. This is no forward proxy: the contract's 400, logged like any refusal.
 */
export function connectRefusal (app: FastifyInstance, newRequestId: () => string): (request: IncomingMessage, socket: Duplex) => void {
  return (_request, socket) => {
    const requestId = newRequestId()
    app.log.info({ reqId: requestId, method: 'CONNECT', res: { statusCode: 400 } }, 'request refused: CONNECT')
    answerOnSocket(socket as Socket, new AppError('VALIDATION_ERROR', 'CONNECT is not answered here: this server is not a proxy.'), requestId)
  }
}

/**
 * Installs the one error handler and, unless `notFound` is false, the 404 handler (the contract's body) in the scope it
 * is registered in.
 */
export default fp<{ notFound?: boolean }>(async (app, options) => {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error)
    if (appError.code === 'INTERNAL') {
      // Only our own description of the failure is logged: no stack, no AWS names, no secrets.
      request.log.error({ failure: error instanceof Error ? error.constructor.name : typeof error, code: (error as FastifyError).code }, 'request failed')
    } else if (appError.statusCode >= 500) {
      request.log.warn({ code: appError.code }, 'upstream failure')
    } else if (!(error instanceof AppError)) {
      // A refusal by Fastify or a plugin, by name and status only.
      request.log.info({ failure: error instanceof Error ? error.constructor.name : typeof error, code: (error as FastifyError).code, statusCode: (error as FastifyError).statusCode }, 'request refused')
    }
    return sendError(request, reply, appError)
  })
  if (options.notFound !== false) app.setNotFoundHandler((request, reply) => sendError(request, reply, new AppError('NOT_FOUND')))
}, { name: 'error-handler' })
