// The IMS API behind the adapter: /api/* judged by role rules, then streamed to API_UPSTREAM_URL as the signed-in user.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { PassThrough, type Readable } from 'node:stream'
import replyFrom from '@fastify/reply-from'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { AppError } from '../errors.js'
import { requireRole } from './roles.js'
import type { Identity } from './session.js'
import { normaliseApiPath, type ApiPath } from '../proxy/path.js'
import { rolesForPath, type ApiRoleRules } from '../proxy/rules.js'

export interface ProxyOptions {
  /** The upstream origin; '' registers no route, so /api/* answers 404 NOT_FOUND. */
  upstreamUrl: string
  /** Connect and response-header deadline: past it, 504 GATEWAY_TIMEOUT. */
  timeoutMs: number
  /** Longest pause inside a streamed body, either way. */
  idleTimeoutMs: number
  roleRules: ApiRoleRules
}

/** OPTIONS is left to the CORS preflight handler; CONNECT and TRACE are never proxied. */
const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']

/** Request headers that are the adapter's business or hop-by-hop; never forwarded as the browser sent them. */
const DROPPED_REQUEST_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'x-csrf', 'forwarded', 'x-request-id', 'x-real-ip',
  'expect', 'upgrade', 'te', 'keep-alive', 'proxy-connection', 'http2-settings'
])

/** Response headers the adapter owns on its origin (cookies, CORS) or that are hop-by-hop. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'set-cookie', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'x-powered-by'
])

/** Headers for the upstream: the browser's own, less credentials and X-IMS-*, plus who is calling. */
function upstreamHeaders (headers: IncomingHttpHeaders, identity: Identity, request: FastifyRequest): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    // Names with "_" are dropped too: some servers read X_IMS_ROLES as X-IMS-Roles.
    if (DROPPED_REQUEST_HEADERS.has(name) || name.includes('_') || name.startsWith('x-ims-') || name.startsWith('x-forwarded-')) continue
    out[name] = value
  }
  out.authorization = `Bearer ${identity.accessToken}`
  out['x-ims-user-sub'] = identity.user.sub
  out['x-ims-roles'] = identity.user.roles.join(',')
  out['x-forwarded-for'] = request.ip
  out['x-forwarded-proto'] = request.protocol
  out['x-forwarded-host'] = request.host
  out['x-request-id'] = request.id
  return out
}

/** The upstream's response headers, less cookies, CORS and any header the adapter already set (security headers win). */
function downstreamHeaders (headers: IncomingHttpHeaders, reply: FastifyReply): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (DROPPED_RESPONSE_HEADERS.has(name) || name.startsWith('access-control-')) continue
    if (name === 'vary') {
      out.vary = [reply.getHeader('vary'), value].filter((v) => v !== undefined).join(', ')
      continue
    }
    if (reply.hasHeader(name)) continue
    out[name] = value
  }
  return out
}

/** A failed upstream call as reply-from reports it: its own code and the network error behind it. */
type UpstreamFailure = Error & { code?: string, cause?: unknown }

/** What a failed upstream call becomes: a timeout is 504, anything else 502; its own message is never shown. */
function gatewayError (error: UpstreamFailure): AppError {
  const codes = [error.code, (error.cause as { code?: string } | undefined)?.code]
  const timedOut = codes.some((code) => code !== undefined && /TIMEOUT/.test(code))
  return new AppError(timedOut ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY')
}

/** Logs of a failed upstream call carry its kind and code only: no stack, no upstream host. */
function upstreamErrorSerializer (error: UpstreamFailure): Record<string, unknown> {
  // Not under "code": the logger redacts every "code" field (one-time codes).
  return { type: error.name, reason: error.code ?? (error.cause as { code?: string } | undefined)?.code }
}

/**
 * The request body as a stream of its own: when the upstream fails, the HTTP client destroys the stream it was given,
 * and that must not be the caller's connection, which still gets its 502. A caller who goes away ends it too.
 */
function detachedBody (payload: IncomingMessage): Readable {
  const body = new PassThrough()
  payload.pipe(body)
  payload.once('close', () => { if (!payload.complete) body.destroy(new Error('the caller went away mid-body')) })
  return body
}

/** Registers `/api` and `/api/*`: judged by role, then streamed to the upstream with the caller's token. */
const proxy: FastifyPluginAsync<ProxyOptions> = async (app, options) => {
  if (options.upstreamUrl === '') {
    app.log.warn('API_UPSTREAM_URL is not set: /api/* answers 404 NOT_FOUND')
    return
  }
  // Bodies pass through unparsed and unbuffered, whatever their type or size.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, detachedBody(payload as IncomingMessage)) })
  await app.register(replyFrom, {
    base: options.upstreamUrl,
    undici: {
      connections: 128,
      pipelining: 1,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      connect: { timeout: Math.min(options.timeoutMs, 10_000) }
    },
    disableRequestLogging: true,
    destroyAgent: true
  })

  const paths = new WeakMap<FastifyRequest, ApiPath>()

  /** Who is calling (401 first, so a stranger learns nothing about paths), then whether their roles may use this path. */
  async function judge (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    await app.authenticate(request, reply)
    const rawPath = request.raw.url?.split('?')[0] ?? '/'
    const path = normaliseApiPath(rawPath)
    paths.set(request, path)
    await requireRole(...rolesForPath(options.roleRules, path.judged)).call(app, request, reply)
  }

  async function forward (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const url = request.raw.url ?? ''
    const queryAt = url.indexOf('?')
    const identity = request.identity!
    return reply.from(paths.get(request)!.forward + (queryAt === -1 ? '' : url.slice(queryAt)), {
      rewriteRequestHeaders: (_request, headers) => upstreamHeaders(headers as IncomingHttpHeaders, identity, request),
      rewriteHeaders: (headers) => downstreamHeaders(headers as IncomingHttpHeaders, reply),
      onError: (failed, { error }) => { failed.send(gatewayError(error)) },
      // An upstream 503 is the upstream's answer to give, not something to retry behind the caller's back.
      retryDelay: () => null
    })
  }

  for (const url of ['/api', '/api/*']) {
    app.route({
      method: METHODS,
      url,
      // The IMS backend's own query parameters (a part `code`, say) are its business, not secrets of the adapter.
      config: { forwardsQuery: true },
      preHandler: judge,
      handler: forward,
      logSerializers: { err: upstreamErrorSerializer },
      schema: { hide: true }
    })
  }
}

export default proxy
