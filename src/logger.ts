// Logger options: pino JSON with redaction; requests are logged by path only, so query strings never reach a log.
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'

/** Fields that could hold a secret, wherever they appear in a logged object. */
const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf"]', 'res.headers["set-cookie"]',
  '*.password', '*.newPassword', '*.oldPassword', '*.code', '*.answer', '*.session', '*.refreshToken', '*.accessToken',
  '*.idToken', '*.tokens', '*.secret', '*.cookie', '*.authorization'
]

/** The pino options of the app; `stream` lets tests read every line written. */
export function loggerOptions (level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // Routes with parameters are logged by their pattern, so a username in a URL (/admin/users/:username) is not.
      req: (req: { method: string, url: string, id: string, routeOptions?: { url?: string } }) => ({
        id: req.id,
        method: req.method,
        path: req.routeOptions?.url?.includes(':') === true ? req.routeOptions.url : req.url.split('?')[0]
      }),
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
