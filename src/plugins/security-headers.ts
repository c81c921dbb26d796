// Security headers on every response (errors too), CORS for the allow-listed origins only, no-store on /auth and /admin.
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import cors from '@fastify/cors'
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'

// Built once: @fastify/helmet rebuilds helmet (and re-parses the CSP) on every request, which cost ~125 µs each.
const applyHelmet = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      objectSrc: ["'none'"]
    }
  },
  referrerPolicy: { policy: 'no-referrer' },
  // HSTS only means something over TLS; it is added below when the request came over https.
  strictTransportSecurity: false,
  crossOriginEmbedderPolicy: false
})

/**
 * The headers helmet sets with the options above, as name and value. They do not depend on the request (no nonces,
 * HSTS apart), so they are worked out once, on a response that is never sent.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = (() => {
  const unsent = new ServerResponse(new IncomingMessage(new Socket()))
  applyHelmet(unsent.req, unsent, () => {})
  return Object.entries(unsent.getHeaders()).map(([name, value]) => [name, String(value)] as const)
})()

/** Sets the security headers on a raw response; also for replies that bypass the hooks (routing errors). */
export function setSecurityHeaders (response: ServerResponse): void {
  for (const [name, value] of SECURITY_HEADERS) response.setHeader(name, value)
}

/** The prefixes whose answers are never stored: /auth (sessions, users, tokens) and /admin (users, their emails). */
const UNSTORED_PREFIXES = ['/auth', '/admin']

/**
 * Whether a request's answer must never be stored (`Cache-Control: no-store`): one of /auth's or /admin's. A routed
 * request is judged by its route, so no spelling of the URL (`/%61uth/me`) escapes; an unmatched one (a 404, a
 * routing error) and a CORS preflight (@fastify/cors's catch-all route) by its URL.
 */
export function isUnstoredRequest (request: FastifyRequest): boolean {
  const route = request.routeOptions.url
  const path = route === undefined || route === '*' ? request.url : route
  return UNSTORED_PREFIXES.some((prefix) => path.startsWith(prefix))
}

export interface SecurityHeaderOptions {
  /** Exact origins (scheme://host[:port]) allowed to call with credentials. */
  corsOrigins: string[]
}

/** Security headers, CORS for `corsOrigins` only, HSTS over TLS, no-store on /auth and /admin. */
export default fp<SecurityHeaderOptions>(async (app, { corsOrigins }) => {
  // Set before @fastify/cors's hook, which answers preflights itself: they carry these too. The helmet headers go on
  // the raw response, so error replies carry them as well; a route may still override one with reply.header.
  app.addHook('onRequest', (request, reply, done) => {
    setSecurityHeaders(reply.raw)
    if (request.protocol === 'https') reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
    if (isUnstoredRequest(request)) reply.header('Cache-Control', 'no-store')
    // Every response varies by Origin, whether or not CORS allowed it, so caches never mix them.
    reply.header('Vary', 'Origin')
    done()
  })
  const allowed = new Set(corsOrigins)
  await app.register(cors, {
    origin: (origin, callback) => { callback(null, origin !== undefined && allowed.has(origin)) },
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-CSRF', 'Authorization'],
    maxAge: 600
  })
}, { name: 'security-headers' })
