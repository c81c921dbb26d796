// Security headers on every response (errors too), CORS for the allow-listed origins only, no-store on /auth.
import fp from 'fastify-plugin'
import helmet from 'helmet'
import cors from '@fastify/cors'
import type { IncomingMessage, ServerResponse } from 'node:http'

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

/** Sets the security headers on a raw response; also for replies that bypass the hooks (routing errors). */
export function setSecurityHeaders (request: IncomingMessage, response: ServerResponse): void {
  applyHelmet(request, response, () => {})
}

export interface SecurityHeaderOptions {
  /** Exact origins (scheme://host[:port]) allowed to call with credentials. */
  corsOrigins: string[]
}

/** Security headers, CORS for `corsOrigins` only, HSTS over TLS, no-store on /auth. */
export default fp<SecurityHeaderOptions>(async (app, { corsOrigins }) => {
  // Set on the raw response first, so error replies carry them too; a route may still override one with reply.header.
  app.addHook('onRequest', (request, reply, done) => {
    setSecurityHeaders(request.raw, reply.raw)
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
  app.addHook('onRequest', async (request, reply) => {
    if (request.protocol === 'https') reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
    if (request.url.startsWith('/auth')) reply.header('Cache-Control', 'no-store')
    // Every response varies by Origin, whether or not CORS allowed it, so caches never mix them.
    reply.header('Vary', 'Origin')
  })
}, { name: 'security-headers' })
