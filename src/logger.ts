// Logger options: pino JSON with secret fields censored; requests are logged by path only, never a query string.
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'

/** Fields that could hold a secret, one level down in any logged object (`{ body: { password } }`). */
const SECRET_FIELDS = new Set([
  'password', 'newPassword', 'oldPassword', 'code', 'answer', 'session', 'refreshToken', 'accessToken', 'idToken', 'tokens',
  'secret', 'cookie', 'authorization'
])
const CENSOR = '[redacted]'

/** Data as code logs it: a plain or prototype-less object. Instances (request, reply, errors) go through serializers. */
function isData (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * The logged object with every secret field one level down censored, copied only where one is found (the caller's
 * object is left as it was). It does what pino's wildcard redaction paths (`*.password`) did, for well under a
 * microsecond a line instead of about 12: that redaction ran on every value of every line, the bare route's included.
 */
function censorSecrets (object: Record<string, unknown>): Record<string, unknown> {
  let censored: Record<string, unknown> | undefined
  for (const key in object) {
    const value = object[key]
    if (!isData(value)) continue
    let copy: Record<string, unknown> | undefined
    for (const field in value) {
      if (SECRET_FIELDS.has(field) && value[field] !== undefined) (copy ??= { ...value })[field] = CENSOR
    }
    if (copy !== undefined) (censored ??= { ...object })[key] = copy
  }
  return censored ?? object
}

/** A request as the `req` serializer sees it. */
interface LoggedRequest { method: string, url: string, id: string, routeOptions?: { url?: string } }

/** A path that may name a user: an email address, an escape (which may spell one), or an admin URL in any case. */
const MAY_NAME_A_USER = /[@%]|admin/i

function decoded (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/**
 * The path a request is logged by, never naming a user: a route with parameters by its pattern
 * (`/admin/users/:username`); any other request (one no route matched, a CORS preflight) by its URL's path, with the
 * segment after /admin/users/ (however spelt: case, escapes, doubled slashes) and any segment holding an email address
 * replaced by `:user`.
 */
function loggedPath (req: LoggedRequest): string {
  const route = req.routeOptions?.url
  if (route?.includes(':') === true) return route
  const path = req.url.split('?')[0] ?? ''
  if (!MAY_NAME_A_USER.test(path)) return path
  const segments = path.split('/').filter((segment) => segment !== '')
  const plain = segments.map((segment) => decoded(segment).toLowerCase())
  const adminUsers = plain[0] === 'admin' && plain[1] === 'users'
  return '/' + segments.map((segment, index) => (adminUsers && index === 2) || plain[index]!.includes('@') ? ':user' : segment).join('/')
}

/** The pino options of the app; `stream` lets tests read every line written. */
export function loggerOptions (level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level,
    formatters: { log: censorSecrets },
    // Requests and replies are logged through these, which name what is kept: never a header, a body or a query string.
    serializers: {
      req: (req: LoggedRequest) => ({ id: req.id, method: req.method, path: loggedPath(req) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode })
    },
    ...(stream === undefined ? {} : { stream })
  } as FastifyServerOptions['logger']
}

/** One log line per request, when it completes (Fastify's default writes two): method, path, status, time. */
export class OneLinePerRequest extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) {
      reply.log.error({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request errored')
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
    }
  }
}
