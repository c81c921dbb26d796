// Refuses secrets in query strings (they end up in logs, history and Referer headers), and HTTP/1.1 requests without Host.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The OAuth callback receives its one-time authorization `code` in the query, by design. */
    oauthCallback?: boolean
    /** The route hands its query string to another service unread (the /api proxy). */
    forwardsQuery?: boolean
  }
}

/** Query parameter names that must never carry a value. */
const SECRET_PARAMETERS = /^(password|newpassword|oldpassword|code|otp|answer|token|access_?token|id_?token|refresh_?token|session|secret)$/i

/** The first secret-named parameter in the request's query, unless its route expects it there. */
function secretInQuery (request: FastifyRequest): string | undefined {
  const queryStart = request.url.indexOf('?')
  if (queryStart === -1 || request.routeOptions.config?.forwardsQuery === true) return undefined
  const exempt = request.routeOptions.config?.oauthCallback === true
  for (const name of new URLSearchParams(request.url.slice(queryStart + 1)).keys()) {
    if (SECRET_PARAMETERS.test(name) && !(exempt && name === 'code')) return name
  }
  return undefined
}

/**
 * Refuses with 400 VALIDATION_ERROR: an HTTP/1.1 request without Host (HTTP requires it; Node's own refusal would skip
 * the contract's body and headers), and secret-named query parameters, except where a route says otherwise.
 */
export default fp(async (app) => {
  // Callback-style: an async hook would cost every request its promises.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      done(new AppError('VALIDATION_ERROR', 'An HTTP/1.1 request must carry a Host header.'))
      return
    }
    const name = secretInQuery(request)
    done(name === undefined ? undefined : new AppError('VALIDATION_ERROR', `Do not send "${name}" in the URL; send it in the JSON body.`))
  })
}, { name: 'request-hygiene' })
