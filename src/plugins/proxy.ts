// The IMS API behind the adapter: /api/* judged by role rules, then streamed to API_UPSTREAM_URL as the signed-in user.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { PassThrough } from 'node:stream'
import replyFrom from '@fastify/reply-from'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { Agent } from 'undici'
import { AppError } from '../errors.js'
import { checkRoles } from './roles.js'
import type { Identity } from './session.js'
import { responseDeadline } from '../proxy/deadline.js'
import { InFlightCalls } from '../proxy/in-flight.js'
import { normaliseApiPath, type ApiPath } from '../proxy/path.js'
import { rolesForPath, type ApiRoleRules } from '../proxy/rules.js'

export interface ProxyOptions {
  /** The upstream origin; '' registers no route, so /api/* answers 404 NOT_FOUND. */
  upstreamUrl: string
  /** Deadline for the upstream's response headers, counted from the call (connecting included): past it, 504 GATEWAY_TIMEOUT. */
  timeoutMs: number
  /** Longest pause inside a streamed body, either way: a caller's upload or the upstream's response that stops is cut off. */
  idleTimeoutMs: number
  roleRules: ApiRoleRules
}

/** OPTIONS is left to the CORS preflight handler; CONNECT and TRACE are never proxied. */
const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']

/**
 * Request headers that are the adapter's business, hop-by-hop, that claim a client address or identity which only the
 * adapter may state (the CDN and load-balancer spellings of X-Forwarded-For, ALB's X-Amzn-OIDC-*), or that make some
 * servers route to another path or method than the one judged (X-Original-URL, X-HTTP-Method-Override and kin); never
 * forwarded as the browser sent them.
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'x-csrf', 'forwarded', 'x-request-id',
  'x-real-ip', 'true-client-ip', 'x-client-ip', 'client-ip', 'cf-connecting-ip', 'fastly-client-ip',
  'x-cluster-client-ip', 'x-original-forwarded-for', 'x-envoy-external-address',
  'expect', 'upgrade', 'te', 'keep-alive', 'proxy-connection', 'http2-settings',
  'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override'
])

/** Request header families dropped as above: the adapter states who calls (X-IMS-*, X-Forwarded-*), and ALB's OIDC claims. */
const DROPPED_REQUEST_PREFIXES = ['x-ims-', 'x-forwarded-', 'x-amzn-oidc-']

/**
 * Response headers the adapter owns on its origin (cookies, site data, CORS), or that are hop-by-hop or meant for a
 * proxy (Proxy-Authenticate), not for the browser.
 */
const DROPPED_RESPONSE_HEADERS = new Set([
  'set-cookie', 'clear-site-data', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer',
  'proxy-authenticate', 'proxy-authentication-info', 'x-powered-by'
])

/** A base no header value can name: a reference resolved against it keeps this host only if it names none of its own. */
const RELATIVE_BASE = 'http://relative.invalid'

/** Headers for the upstream: the browser's own, less credentials and X-IMS-*, plus who is calling. */
function upstreamHeaders (headers: IncomingHttpHeaders, identity: Identity, request: FastifyRequest): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    // Names with "_" are dropped too: some servers read X_IMS_ROLES as X-IMS-Roles.
    if (DROPPED_REQUEST_HEADERS.has(name) || name.includes('_') || DROPPED_REQUEST_PREFIXES.some((prefix) => name.startsWith(prefix))) continue
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

/**
 * A Location or Content-Location as the browser should see it. One naming the upstream's own host loses its origin: the
 * upstream serves the very paths the browser calls under /api (a path is forwarded unchanged), so the rest is the
 * browser's URL on the adapter, as if the upstream had answered with the relative form, and no internal host leaks.
 * Relative values (the browser resolves them against the /api URL it called) and other hosts are kept as they are.
 */
function browserLocation (value: string, upstreamHost: string): string {
  // Parsed as a browser would, so scheme-relative ("//host/…", "/\host/…") values are read as naming a host too.
  if (!URL.canParse(value, RELATIVE_BASE)) return value
  const url = new URL(value, RELATIVE_BASE)
  return url.host === upstreamHost ? `${url.pathname}${url.search}${url.hash}` : value
}

/**
 * The upstream's response headers, less those the adapter owns, hop-by-hop ones (the fixed list and any the upstream
 * names in its own Connection header, RFC 9110 7.6.1) and any header the adapter already set (security headers win).
 */
function downstreamHeaders (headers: IncomingHttpHeaders, reply: FastifyReply, upstreamHost: string): IncomingHttpHeaders {
  const named = new Set([headers.connection ?? []].flat().join(',').split(',').map((token) => token.trim().toLowerCase()))
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (DROPPED_RESPONSE_HEADERS.has(name) || named.has(name) || name.startsWith('access-control-')) continue
    if (name === 'vary') {
      out.vary = [reply.getHeader('vary'), value].filter((v) => v !== undefined).join(', ')
      continue
    }
    if (reply.hasHeader(name)) continue
    const located = (name === 'location' || name === 'content-location') && typeof value === 'string'
    out[name] = located ? browserLocation(value, upstreamHost) : value
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
function detachedBody (payload: IncomingMessage): PassThrough {
  const body = new PassThrough()
  payload.pipe(body)
  // Destroyed without an error: until forward() hands the stream over nothing listens for one, and an unheard 'error'
  // would end the process while the request is still being judged. The HTTP client reads a body that closes before
  // its end as an aborted request all the same.
  payload.once('close', () => { if (!payload.complete) body.destroy() })
  return body
}

/**
 * Cuts off an upload whose caller sends nothing for `idleTimeoutMs` while it is forwarded (the HTTP client's timeouts
 * do not cover a caller who stops sending): the caller loses its connection, as with Fastify's connectionTimeout,
 * since there is nothing honest to answer, and the upstream connection is freed. An upstream that stops reading the
 * body is not the caller's fault; the response deadline ends that wait with a 504.
 */
function cutOffWhenIdle (request: FastifyRequest, body: PassThrough, idleTimeoutMs: number): void {
  const payload = request.raw
  if (payload.complete || body.destroyed) return
  const timer = setTimeout(() => {
    // A full buffer: the caller is waiting for the upstream, not the other way round.
    if (body.writableNeedDrain) {
      timer.refresh()
      return
    }
    request.log.info('the caller sent no part of its upload for API_IDLE_TIMEOUT_MS: its connection is closed')
    payload.destroy()
  }, idleTimeoutMs)
  const restart = (): void => { timer.refresh() }
  const stop = (): void => {
    clearTimeout(timer)
    payload.off('data', restart)
  }
  payload.on('data', restart)
  payload.once('end', stop)
  body.once('close', stop)
}

/**
 * Where reply-from sends a normalised path: the base (origin plus directory) and the last segment, relative to it.
 * reply-from refuses a source whose decoded text holds "/.." or "../", as a segment named "..hidden" does; the path has
 * been normalised and judged already, so only its last segment goes through that check.
 */
function upstreamTarget (origin: string, path: string): { base: string, source: string } {
  const lastSlash = path.lastIndexOf('/')
  const last = path.slice(lastSlash + 1)
  // "." stands for an empty last segment (reply-from reads '' as "the request's own path"); "./" keeps a segment such
  // as "c:x" from reading as a URL scheme.
  const source = last === '' ? '.' : /^[a-z][a-z\d+.-]*:/i.test(last) ? `./${last}` : last
  return { base: origin.replace(/\/$/, '') + path.slice(0, lastSlash + 1), source }
}

/** Registers `/api` and `/api/*`: judged by role, then streamed to the upstream with the caller's token. */
const proxy: FastifyPluginAsync<ProxyOptions> = async (app, options) => {
  if (options.upstreamUrl === '') {
    app.log.warn('API_UPSTREAM_URL is not set: /api/* answers 404 NOT_FOUND')
    return
  }
  const upstreamHost = new URL(options.upstreamUrl).host
  // Bodies pass through unparsed and unbuffered, whatever their type or size.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, detachedBody(payload as IncomingMessage)) })
  await app.register(replyFrom, {
    base: options.upstreamUrl,
    // No cap on upstream connections (`connections: null`: undici opens another whenever every open one is busy).
    // A connection carries one request at a time, so under a cap one user's long responses (SSE, downloads) could hold
    // every connection while everyone else's requests waited in undici's queue. Uncapped, a request waits only for its
    // own connection, and the adapter holds no more of them than it has /api requests in flight (idle ones close after
    // undici's keep-alive timeout); a limit on callers belongs where callers are counted, not in a queue here.
    // One deadline for the response headers, counted from the call (responseDeadline): undici's headersTimeout starts
    // only once a connection is found, so the wait for one counts too. Once an upload is under way, headersTimeout
    // (the same deadline) takes over, since it does not count the time the caller takes to send the body.
    // The agent is built here, not from options by reply-from, whose defaults skip TLS certificate checks.
    undici: new Agent({ connections: null, pipelining: 1, headersTimeout: options.timeoutMs, bodyTimeout: options.idleTimeoutMs })
      .compose(responseDeadline(options.timeoutMs)),
    disableRequestLogging: true,
    destroyAgent: true
  })

  const paths = new WeakMap<FastifyRequest, ApiPath>()
  const inFlight = new InFlightCalls((claims) => app.revocations.isRevoked(claims))
  app.revocations.onRevoked((revocation) => { inFlight.revoked(revocation) })
  app.revocations.onMissed(() => { inFlight.judgeAll() })

  /**
   * Holds the call, while it is under way, by the token it was authorised with: when that token is revoked (a sign-out,
   * an admin's action, a password change, on any instance), the caller's connection is closed, which ends the upstream
   * request too (its response stream, or the upload forwarded to it). Once headers are sent there is no honest status
   * to send; before, an answer would race the upstream's, so the connection closes all the same.
   */
  function holdWhileUnderWay (request: FastifyRequest, reply: FastifyReply, identity: Identity): void {
    const response = reply.raw
    if (identity.claims === undefined || response.closed) return
    const release = inFlight.add({
      claims: identity.claims,
      viaSession: identity.via === 'session',
      cut: () => {
        if (response.closed) return
        request.log.info({ via: identity.via }, 'the authorisation of this /api call was revoked: its connection is closed')
        response.destroy()
      }
    })
    response.once('close', release)
  }

  /** Who is calling (401 first, so a stranger learns nothing about paths), then whether their roles may use this path. */
  async function judge (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { user } = await app.authenticate(request, reply)
    const rawPath = request.raw.url?.split('?')[0] ?? '/'
    const path = normaliseApiPath(rawPath)
    paths.set(request, path)
    checkRoles(request, user, rolesForPath(options.roleRules, path.judged))
  }

  async function forward (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const url = request.raw.url ?? ''
    const queryAt = url.indexOf('?')
    const identity = request.identity!
    const { base, source } = upstreamTarget(options.upstreamUrl, paths.get(request)!.forward)
    reply.from(source, {
      getUpstream: () => base,
      // The query goes up as the caller sent it: it is the upstream's to read, and decoding it here could only fail.
      queryString: () => (queryAt === -1 ? '' : url.slice(queryAt + 1)),
      rewriteRequestHeaders: (_request, headers) => upstreamHeaders(headers as IncomingHttpHeaders, identity, request),
      rewriteHeaders: (headers) => downstreamHeaders(headers as IncomingHttpHeaders, reply, upstreamHost),
      onError: (failed, { error }) => {
        // A caller who left (or whose upload stalled, or whose call was revoked) aborted the call itself: no upstream
        // failure, and nobody to answer.
        if (request.raw.aborted) return
        failed.send(gatewayError(error))
      },
      // An upstream 503 is the upstream's answer to give, not something to retry behind the caller's back.
      retryDelay: () => null
    })
    if (request.body instanceof PassThrough) cutOffWhenIdle(request, request.body, options.idleTimeoutMs)
    holdWhileUnderWay(request, reply, identity)
    return reply
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
