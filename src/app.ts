// The app as a plugin: registers the plugins, then the routes. Tests build exactly what the server runs.
import { randomBytes, randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { cognitoMode, type Config } from '../fastify.config.js'
import { loggerOptions, OneLinePerRequest } from './logger.js'
import type { SharedStore } from './store/shared-store.js'
import { createStore } from './store/index.js'
import { subkey } from './session/keys.js'
import errorHandler, { clientErrorHandler, connectRefusal, sendError, toAppError } from './plugins/error-handler.js'
import securityHeaders, { setSecurityHeaders } from './plugins/security-headers.js'
import requestHygiene from './plugins/request-hygiene.js'
import jsonBody from './plugins/json-body.js'
import closing from './plugins/closing.js'
import docs from './plugins/docs.js'
import cognito from './plugins/cognito.js'
import verifier from './plugins/verifier.js'
import audit from './plugins/audit.js'
import session from './plugins/session.js'
import rateLimit from './plugins/rate-limit.js'
import { ErrorSchema, MAX_USERNAME_LENGTH, UserSchema } from './routes/schemas.js'
import authConfig from './routes/auth/config.js'
import signIn from './routes/auth/sign-in.js'
import sessionRoutes from './routes/auth/session.js'
import recoveryRoutes from './routes/auth/recovery.js'
import signUpRoutes from './routes/auth/sign-up.js'
import health from './routes/health/index.js'
import adminUsers from './routes/admin/users.js'
import proxy from './plugins/proxy.js'
import hostedRoutes from './routes/auth/hosted.js'
import pages from './plugins/pages.js'
import { HostedUi, hostedUiSettings } from './cognito/hosted-ui.js'
import { rolesForPath } from './proxy/rules.js'

/** What the shell (or a test) may hand the app besides its configuration. */
export interface AppDependencies {
  /** Where sessions, challenges and revocations live; by default the one the configuration names. */
  store?: SharedStore
  /** Where log lines go (tests read them); by default stdout. */
  logStream?: NodeJS.WritableStream
  /** Set by the shell when it started the embedded emulator itself (the pool settings then point at it). */
  localMode?: boolean
}

/**
 * `TRUST_PROXY=true`: the peer is the one proxy in front (a load balancer) and only what it says is believed: the last
 * X-Forwarded-For entry, which it appended, not the ones before it, which the client sent. Fastify's own `true` takes
 * the first entry, so behind an ALB (which appends) every client could name its own address.
 */
const nearestProxyOnly = (_address: string, hop: number): boolean => hop === 0

/**
 * Whether the built-in login pages are served at `/`. They sign in with the session cookie, which token mode has none of
 * (fastify.config.ts refuses SERVE_LOGIN_PAGES=true there); `auto` serves them in local mode only.
 */
export function servesLoginPages (config: Config, localMode: boolean): boolean {
  return config.pages.serve === 'true' || (config.pages.serve === 'auto' && localMode && config.session.mode === 'cookie')
}

/** A request's id: also for requests that never reach Fastify (refused by Node's parser, CONNECT). */
const newRequestId = (): string => randomUUID()

/** Fastify's own options for this app. */
export function serverOptions (config: Config, deps: AppDependencies = {}): FastifyHttpOptions<Server> {
  return {
    logger: loggerOptions(config.server.logLevel, deps.logStream),
    logController: new OneLinePerRequest(),
    genReqId: newRequestId,
    requestIdHeader: false,
    // While closing, src/plugins/closing.ts answers in the contract's shape instead of Fastify's bare 503.
    return503OnClosing: false,
    trustProxy: config.server.trustProxy === true ? nearestProxyOnly : config.server.trustProxy,
    bodyLimit: config.server.bodyLimitBytes,
    keepAliveTimeout: config.server.keepAliveSeconds * 1000,
    // Every username, email or sub the admin routes take can be named in their path (the router counts decoded characters).
    routerOptions: { maxParamLength: MAX_USERNAME_LENGTH },
    // Oversized headers (a 64 KB token) reach the app and get a 401 instead of Node's bare 431; an HTTP/1.1 request
    // without Host reaches it too, for the contract's 400 (src/plugins/request-hygiene.ts) instead of Node's bare one.
    http: { maxHeaderSize: 128 * 1024, requireHostHeader: false },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } },
    // Errors raised while routing (a malformed URL escape, an over-long path parameter) get the contract's body too.
    frameworkErrors: (error, request, reply) => {
      setSecurityHeaders(reply.raw)
      sendError(request, reply, toAppError(error))
    },
    // So do requests Node's HTTP parser refuses (raw bytes in the request line, a header block over maxHeaderSize).
    clientErrorHandler: clientErrorHandler(newRequestId)
  }
}

/** Builds the whole app for `config`, ready to `listen` or `inject`. */
export async function buildApp (config: Config, deps: AppDependencies = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, deps)).withTypeProvider<TypeBoxTypeProvider>()
  if (config.cognito.userPoolId === '') throw new Error('buildApp needs a resolved user pool; start the local stack first.')
  const mode = deps.localMode === true ? 'local' : cognitoMode(config)
  // An ephemeral key is allowed outside AWS mode (fastify.config.ts refuses a missing key there).
  const encryptionKeyHex = config.session.encryptionKey !== '' ? config.session.encryptionKey : randomBytes(32).toString('hex')

  // An Expect other than 100-continue is ignored (RFC 9110 allows it), not answered with Node's bare 417.
  app.server.on('checkExpectation', app.routing)
  app.server.on('connect', connectRefusal(app, newRequestId))
  await app.register(jsonBody)
  app.addSchema(UserSchema)
  app.addSchema(ErrorSchema)
  await app.register(errorHandler)
  await app.register(securityHeaders, { corsOrigins: config.server.corsOrigins })
  await app.register(closing)
  await app.register(requestHygiene)
  await app.register(docs)
  await app.register(cognito, { ...config.cognito, roleGroups: config.roles.groups })
  await app.register(verifier, {
    userPoolId: config.cognito.userPoolId,
    clientId: config.cognito.clientId,
    endpoint: config.cognito.endpoint,
    graceSeconds: config.cognito.tokenGraceSeconds,
    jwksTimeoutMs: config.cognito.jwksTimeoutMs
  })
  const usernameHashKey = subkey(encryptionKeyHex, 'username hash')
  await app.register(audit, { hashKey: usernameHashKey })
  await app.register(session, {
    mode: config.session.mode,
    store: deps.store ?? createStore(config, app.log),
    encryptionKeyHex,
    refreshSkewSeconds: config.session.refreshSkewSeconds,
    idleSeconds: config.session.idleSeconds,
    absoluteSeconds: config.session.absoluteSeconds,
    challengeSeconds: config.session.challengeSeconds,
    maxPerUser: config.session.maxPerUser,
    signInSeconds: config.cognito.refreshTokenDays * 86_400,
    roleGroups: config.roles.groups
  })
  await app.register(rateLimit, { ...config.throttle, hashKey: usernameHashKey })
  const hostedUiConfig = hostedUiSettings(config, mode === 'local')
  const hostedUi = hostedUiConfig === undefined ? undefined : new HostedUi(hostedUiConfig)
  const pagesServed = servesLoginPages(config, mode === 'local')

  await app.register(async (auth) => {
    await auth.register(authConfig, {
      publicConfig: {
        mode,
        region: config.cognito.region,
        userPoolId: config.cognito.userPoolId,
        clientId: config.cognito.clientId,
        sessionMode: config.session.mode,
        hostedUi: hostedUi === undefined ? null : { loginUrl: '/auth/login' }
      }
    })
    if (hostedUi !== undefined) await auth.register(hostedRoutes, { hostedUi, encryptionKeyHex, pagesServed })
    await auth.register(signIn)
    await auth.register(sessionRoutes)
    await auth.register(recoveryRoutes)
    await auth.register(signUpRoutes)
  }, { prefix: '/auth' })
  await app.register(health, { prefix: '/health' })
  await app.register(adminUsers, { prefix: '/admin' })
  await app.register(proxy, config.api)
  if (pagesServed) {
    await app.register(pages, { areas: ['/api/admin', '/api/planning', '/api/shop-floor'].map((path) => ({ path, roles: rolesForPath(config.api.roleRules, path) })) })
  }
  return app
}
