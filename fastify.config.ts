// The one typed configuration: a TypeBox schema with defaults, read from the environment and validated at start-up.
import { isIP } from 'node:net'
import { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DEFAULT_ROLE_GROUPS, ROLES, parseRoleGroups } from './src/role-mapping.js'
import { DEFAULT_API_ROLE_RULES, parseApiRoleRules } from './src/proxy/rules.js'

/**
 * The OAuth scopes hosted login asks for by default. Cognito accepts a hosted-login access token for the user's own
 * account operations (ChangePassword, GlobalSignOut) only with `aws.cognito.signin.user.admin`.
 */
export const HOSTED_UI_DEFAULT_SCOPES = 'openid email profile aws.cognito.signin.user.admin'

/** Every leaf names the environment variable that overrides it (`env`); the type is derived from this schema. */
export const ConfigSchema = Type.Object({
  nodeEnv: Type.String({ env: 'NODE_ENV', default: 'development' }),
  server: Type.Object({
    port: Type.Integer({ env: 'PORT', default: 3000, minimum: 1, maximum: 65535 }),
    host: Type.String({ env: 'HOST', default: '127.0.0.1', pattern: '^[^\\s/]+$' }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { env: 'LOG_LEVEL', default: 'info' }),
    /** `false`, `true` (the peer is the one proxy in front: src/app.ts), or comma-separated addresses/CIDRs of the proxies whose X-Forwarded-For is trusted. */
    trustProxy: Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })],
      { env: 'TRUST_PROXY', default: false }),
    bodyLimitBytes: Type.Integer({ env: 'BODY_LIMIT_BYTES', default: 65536, minimum: 1024, maximum: 10485760 }),
    /**
     * How long an idle keep-alive connection is kept open. Longer than the load balancer's idle timeout (an ALB's is 60 s
     * by default, at most 4000 s), so that the load balancer, not this server, closes idle connections: else it may send
     * a request on one just closed here, and answer the client 502.
     */
    keepAliveSeconds: Type.Integer({ env: 'KEEP_ALIVE_TIMEOUT_SECONDS', default: 72, minimum: 1, maximum: 4100 }),
    corsOrigins: Type.Array(Type.String({ pattern: '^https?://[^/]+$' }), { env: 'CORS_ORIGINS', default: [] })
  }),
  cognito: Type.Object({
    region: Type.String({ env: 'AWS_REGION', default: 'local' }),
    userPoolId: Type.String({ env: 'COGNITO_USER_POOL_ID', default: '' }),
    clientId: Type.String({ env: 'COGNITO_CLIENT_ID', default: '' }),
    clientSecret: Type.String({ env: 'COGNITO_CLIENT_SECRET', default: '', secret: true }),
    /** A Cognito-compatible endpoint (cognito-local) instead of AWS's; never in production. */
    endpoint: Type.String({ env: 'COGNITO_ENDPOINT', default: '', pattern: '^(https?://[^\\s]+[^/\\s])?$' }),
    /**
     * Each Cognito call's deadline, and a request's for Cognito in all (see src/cognito/budget.ts). 3.5 s: a request
     * that must end a user's sessions after a call ran out of time still waits up to 1 s for its revocation mark's
     * second (src/session/revocations.ts), and answers within 5 s all the same (bar 39).
     */
    timeoutMs: Type.Integer({ env: 'COGNITO_TIMEOUT_MS', default: 3500, minimum: 100, maximum: 30000 }),
    jwksTimeoutMs: Type.Integer({ env: 'JWKS_TIMEOUT_MS', default: 3000, minimum: 100, maximum: 30000 }),
    tokenGraceSeconds: Type.Integer({ env: 'TOKEN_GRACE_SECONDS', default: 5, minimum: 0, maximum: 60 }),
    /**
     * The app client's refresh-token validity (Cognito's default, 30 days; at most 10 years): a sign-out keeps the
     * sign-in's origin_jti revoked that long, since every token refreshed from it carries the same origin_jti.
     */
    refreshTokenDays: Type.Integer({ env: 'REFRESH_TOKEN_VALIDITY_DAYS', default: 30, minimum: 1, maximum: 3650 }),
    /**
     * `true`: each call a user's request makes (sign-in, challenge, reset, sign-up) tells Cognito that user's IP address
     * (UserContextData), so threat protection judges the user's address, not the adapter's. Needs a client secret and
     * the app client's EnablePropagateAdditionalUserContextData.
     */
    userContext: Type.Union([Type.Literal('true'), Type.Literal('false')], { env: 'COGNITO_USER_CONTEXT', default: 'false' })
  }),
  local: Type.Object({
    cognitoPort: Type.Integer({ env: 'COGNITO_LOCAL_PORT', default: 9229, minimum: 1, maximum: 65535 }),
    sesPort: Type.Integer({ env: 'SES_LOCAL_PORT', default: 8005, minimum: 1, maximum: 65535 }),
    demoPassword: Type.String({ env: 'IMS_DEMO_PASSWORD', default: 'Ims-Demo-2026!', minLength: 8 }),
    dataDir: Type.String({ env: 'LOCAL_DATA_DIR', default: '.local', minLength: 1 })
  }),
  hostedUi: Type.Object({
    /** The pool's domain (`https://<prefix>.auth.<region>.amazoncognito.com`); local mode: the emulator. Unset elsewhere: no hosted login. */
    domain: Type.String({ env: 'HOSTED_UI_DOMAIN', default: '', pattern: '^(https?://[^/\\s?#]+)?$' }),
    /** The adapter's own origin as browsers reach it (redirect_uri is `<PUBLIC_URL>/auth/callback`); default `http://HOST:PORT`. */
    publicUrl: Type.String({ env: 'PUBLIC_URL', default: '', pattern: '^(https?://[^/\\s?#]+)?$' }),
    /** Where the pool's `/logout` sends the browser afterwards (must be in the app client's sign-out URLs); default `<PUBLIC_URL>/`. */
    logoutUri: Type.String({ env: 'HOSTED_UI_LOGOUT_URI', default: '', pattern: '^(https?://[^\\s]+)?$' }),
    /** OAuth scopes asked of the pool, space-separated. */
    scopes: Type.String({ env: 'HOSTED_UI_SCOPES', default: HOSTED_UI_DEFAULT_SCOPES, pattern: '\\bopenid\\b' }),
    /** How long a started hosted login may take before its callback is refused. */
    transactionSeconds: Type.Integer({ env: 'HOSTED_UI_TRANSACTION_SECONDS', default: 600, minimum: 60, maximum: 3600 })
  }),
  pages: Type.Object({
    /** The built-in login pages at `/`: `auto` serves them in local mode with cookie sessions only. */
    serve: Type.Union([Type.Literal('auto'), Type.Literal('true'), Type.Literal('false')], { env: 'SERVE_LOGIN_PAGES', default: 'auto' })
  }),
  session: Type.Object({
    mode: Type.Union([Type.Literal('cookie'), Type.Literal('token')], { env: 'SESSION_MODE', default: 'cookie' }),
    store: Type.Union([Type.Literal('memory'), Type.Literal('redis')], { env: 'SESSION_STORE', default: 'memory' }),
    redisUrl: Type.String({ env: 'REDIS_URL', default: 'redis://127.0.0.1:6379' }),
    /** 64 hex characters (256 bits); encrypts what the store keeps. */
    encryptionKey: Type.String({ env: 'SESSION_ENCRYPTION_KEY', default: '', pattern: '^([0-9a-fA-F]{64})?$', secret: true }),
    idleSeconds: Type.Integer({ env: 'SESSION_IDLE_SECONDS', default: 3600, minimum: 60 }),
    absoluteSeconds: Type.Integer({ env: 'SESSION_ABSOLUTE_SECONDS', default: 43200, minimum: 300 }),
    refreshSkewSeconds: Type.Integer({ env: 'SESSION_REFRESH_SKEW_SECONDS', default: 120, minimum: 0, maximum: 3000 }),
    challengeSeconds: Type.Integer({ env: 'CHALLENGE_SECONDS', default: 180, minimum: 30, maximum: 900 }),
    /** Sessions one account keeps at once; a sign-in beyond them ends the account's oldest (the store stays bounded). */
    maxPerUser: Type.Integer({ env: 'SESSION_MAX_PER_USER', default: 50, minimum: 1, maximum: 1000 })
  }),
  /** Throttling of /auth (src/plugins/rate-limit.ts); counters live where sessions do (memory or Redis). */
  throttle: Type.Object({
    /** Per client IP: failed sign-ins, wrong codes and wrong passwords, plus every code-sending or sign-up request. */
    ipLimit: Type.Integer({ env: 'AUTH_IP_LIMIT', default: 30, minimum: 1 }),
    ipWindowSeconds: Type.Integer({ env: 'AUTH_IP_WINDOW_SECONDS', default: 60, minimum: 1 }),
    /** Per normalised username (or signed-in user): failed passwords, and separately wrong codes, before 429. */
    failureLimit: Type.Integer({ env: 'AUTH_FAILURE_LIMIT', default: 5, minimum: 1 }),
    failureWindowSeconds: Type.Integer({ env: 'AUTH_FAILURE_WINDOW_SECONDS', default: 900, minimum: 1 }),
    /** Per normalised username: forgot-password and resend-code requests that send a code; later ones send nothing. */
    codeSendLimit: Type.Integer({ env: 'CODE_SEND_LIMIT', default: 3, minimum: 1 }),
    codeSendWindowSeconds: Type.Integer({ env: 'CODE_SEND_WINDOW_SECONDS', default: 3600, minimum: 1 }),
    /** forgot-password and resend-code answer after this fixed time, whatever happened (no user enumeration by timing). */
    uniformResponseMs: Type.Integer({ env: 'UNIFORM_RESPONSE_MS', default: 150, minimum: 0, maximum: 5000 })
  }),
  roles: Type.Object({
    groups: Type.Object({
      ADMIN: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
      MANAGER: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
      LINE_LEADER: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })
    }, { env: 'ROLE_GROUPS', default: DEFAULT_ROLE_GROUPS })
  }),
  api: Type.Object({
    /** The IMS backend behind `/api/*`, as an origin (`http://ims-api:8080`); unset: `/api/*` answers 404. */
    upstreamUrl: Type.String({ env: 'API_UPSTREAM_URL', default: '', pattern: '^(https?://[^/\\s?#@]+/?)?$' }),
    /** How long the upstream may take to connect and send its response headers; then 504 GATEWAY_TIMEOUT. */
    timeoutMs: Type.Integer({ env: 'API_TIMEOUT_MS', default: 30000, minimum: 100, maximum: 600000 }),
    /** How long a body (either way) may stall between two chunks before it is cut, SSE included. */
    idleTimeoutMs: Type.Integer({ env: 'API_IDLE_TIMEOUT_MS', default: 300000, minimum: 1000, maximum: 3600000 }),
    /** Path prefix to allowed roles, longest prefix wins; JSON laid over the contract's defaults. */
    roleRules: Type.Record(Type.String({ pattern: '^/api' }), Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), { minItems: 1 }),
      { env: 'API_ROLE_RULES', default: DEFAULT_API_ROLE_RULES })
  })
})

export type Config = Static<typeof ConfigSchema>

/** How the server finds Cognito: the embedded emulator, an explicit endpoint, or AWS. */
export type CognitoMode = 'local' | 'endpoint' | 'aws'

/**
 * A start-up refusal: its message is one sentence naming the setting. A value it quotes may be a URL with credentials
 * given to the wrong setting (`rediss://:password@host` as BODY_LIMIT_BYTES): those are masked, as `//***@`.
 */
export class ConfigError extends Error {
  override name = 'ConfigError'

  constructor (message: string) {
    super(message.replace(/\/\/[^/\s"@]*@/g, '//***@'))
  }
}

type Env = Record<string, string | undefined>

/** Named address ranges that proxy-addr (Fastify's trust check) knows besides addresses and CIDRs. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/** An address or CIDR (`10.0.0.0/8`, `fd00::/8`) that proxy-addr accepts, or a named range. */
function isProxyAddress (entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true
  const [address = '', prefix, ...rest] = entry.split('/')
  const family = isIP(address)
  // proxy-addr has no use for a zone id (`fe80::1%eth0`) and refuses a prefix of 0.
  if (family === 0 || address.includes('%') || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128)
}

/**
 * `TRUST_PROXY` as Fastify takes it: false, true, or a list of proxy addresses/CIDRs. Not a hop count: Fastify 5
 * trusts no proxy for one (a hop count cannot tell a proxy from a client that sends enough X-Forwarded-For entries).
 */
function parseTrustProxy (raw: string): boolean | string[] {
  if (raw === 'false') return false
  if (raw === 'true') return true
  if (/^\d+$/.test(raw)) {
    throw new ConfigError(`TRUST_PROXY cannot be a hop count (${raw}): Fastify trusts no proxy for one. List the proxies' addresses or CIDRs (for example the load balancer's subnets) instead.`)
  }
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const wrong = entries.find((entry) => !isProxyAddress(entry))
  if (entries.length === 0 || wrong !== undefined) {
    throw new ConfigError(`TRUST_PROXY must be false, true, or comma-separated proxy addresses or CIDRs (or loopback, linklocal, uniquelocal); "${wrong ?? raw}" is none of these.`)
  }
  return entries
}

function parseEnvValue (schema: TSchema, raw: string, env: string): unknown {
  if (env === 'ROLE_GROUPS') {
    try {
      return parseRoleGroups(raw, env)
    } catch (error) {
      throw new ConfigError((error as Error).message)
    }
  }
  if (env === 'TRUST_PROXY') return parseTrustProxy(raw)
  if (env === 'API_ROLE_RULES') {
    try {
      return parseApiRoleRules(raw, env)
    } catch (error) {
      throw new ConfigError((error as Error).message)
    }
  }
  switch (schema.type) {
    case 'integer':
    case 'number': {
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(`${env} must be a number; got "${raw}".`)
      return Number(raw)
    }
    case 'array':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '')
    default:
      return raw
  }
}

/** Walks the schema: each leaf takes its environment variable when set, else its default. */
function readFromEnv (schema: TObject, env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, child] of Object.entries(schema.properties) as Array<[string, TSchema]>) {
    const envName = child.env as string | undefined
    if (envName === undefined && child.type === 'object') {
      out[key] = readFromEnv(child as TObject, env)
      continue
    }
    const raw = envName === undefined ? undefined : env[envName]
    out[key] = raw === undefined || raw === '' ? structuredClone(child.default) : parseEnvValue(child, raw, envName!)
  }
  return out
}

/** Finds the schema leaf (which names its environment variable) behind a JSON pointer such as `/server/port`. */
function leafAt (path: string): TSchema {
  let schema: TSchema = ConfigSchema
  for (const part of path.split('/').filter(Boolean)) {
    if (schema.env !== undefined) break
    const next: TSchema | undefined = schema.properties?.[part] ?? schema.items
    if (next === undefined) break
    schema = next
  }
  return schema
}

/** The mode implied by the settings: no pool id means the embedded emulator. */
export function cognitoMode (config: Config): CognitoMode {
  if (config.cognito.userPoolId === '') return 'local'
  return config.cognito.endpoint === '' ? 'aws' : 'endpoint'
}

/**
 * Builds the configuration from `env` (normally `process.env`) and validates it.
 * Throws a ConfigError whose message names the offending variable.
 */
export function loadConfig (env: Env): Config {
  const candidate = readFromEnv(ConfigSchema, env)
  const firstError = Value.Errors(ConfigSchema, candidate).First()
  if (firstError !== undefined) {
    const leaf = leafAt(firstError.path)
    const name = (leaf.env as string | undefined) ?? firstError.path
    const shown = leaf.secret === true ? 'a value that is not shown' : firstError.value === undefined ? 'nothing' : JSON.stringify(firstError.value)
    // A choice among words (LOG_LEVEL, SESSION_STORE, ...) names them; TypeBox would say only "expected union value".
    const words = (leaf.anyOf as TSchema[] | undefined)?.map((option) => option.const as unknown)
    const why = words !== undefined && words.every((word) => typeof word === 'string') ? `it must be one of ${words.join(', ')}` : firstError.message.toLowerCase()
    throw new ConfigError(`${name} is invalid (${why}); got ${shown}.`)
  }
  const config = candidate as Config
  // An ECS task (its agent sets these) must be reachable from its load balancer: there HOST defaults to every
  // interface. Local mode stays on loopback wherever it runs.
  const inEcsTask = (env.ECS_CONTAINER_METADATA_URI_V4 ?? '') !== '' || (env.ECS_CONTAINER_METADATA_URI ?? '') !== ''
  if ((env.HOST ?? '') === '' && inEcsTask && cognitoMode(config) !== 'local') config.server.host = '0.0.0.0'
  checkModeRules(config, env)
  return config
}

function checkModeRules (config: Config, env: Env): void {
  // `Production` or `production ` is meant as production too: a typo must not open local mode or an emulator endpoint.
  const production = config.nodeEnv.trim().toLowerCase() === 'production'
  const mode = cognitoMode(config)
  if (mode === 'local' && production) {
    throw new ConfigError('COGNITO_USER_POOL_ID is not set and NODE_ENV=production: local mode (the embedded Cognito emulator) never runs in production; set COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID and AWS_REGION.')
  }
  if (config.cognito.endpoint !== '' && production) {
    throw new ConfigError('COGNITO_ENDPOINT is set and NODE_ENV=production: a Cognito emulator endpoint is refused in production.')
  }
  if (mode === 'local') {
    // Without a pool id these would be ignored and the embedded emulator started instead.
    const stray = ['COGNITO_ENDPOINT', 'COGNITO_CLIENT_ID'].find((name) => (env[name] ?? '') !== '')
    if (stray !== undefined) throw new ConfigError(`${stray} is set but COGNITO_USER_POOL_ID is not: set COGNITO_USER_POOL_ID too (or unset ${stray} for local mode).`)
    checkLocalPortsDistinct(config)
  }
  if (mode !== 'local') {
    if (config.cognito.clientId === '') throw new ConfigError('COGNITO_CLIENT_ID must be set when COGNITO_USER_POOL_ID is set.')
    if (mode === 'aws' && (env.AWS_REGION ?? '') === '') throw new ConfigError('AWS_REGION must be set when COGNITO_USER_POOL_ID is set.')
    if (mode === 'aws' && !/^[\w-]+_[0-9a-zA-Z]+$/.test(config.cognito.userPoolId)) {
      throw new ConfigError(`COGNITO_USER_POOL_ID must look like "<region>_<id>"; got "${config.cognito.userPoolId}".`)
    }
    // Cognito's own patterns: anything else (a whole Secrets Manager JSON, a line break) would make every sign-in fail
    // as a wrong password (SECRET_HASH) or an unknown client, with nothing to tell the operator why.
    if (mode === 'aws' && !/^[\w+]{1,128}$/.test(config.cognito.clientId)) {
      // Not echoed: a whole Secrets Manager JSON given here holds the client secret too.
      throw new ConfigError('COGNITO_CLIENT_ID must be an app client id (up to 128 letters, digits, _ and +, nothing around it: with a Secrets Manager JSON secret, name its key in the task definition\'s valueFrom); the value given is not shown, as it may hold a secret.')
    }
    if (mode === 'aws' && config.cognito.clientSecret !== '' && !/^[\w+]{1,64}$/.test(config.cognito.clientSecret)) {
      throw new ConfigError('COGNITO_CLIENT_SECRET must be the app client\'s secret as Cognito gives it (up to 64 letters, digits, _ and +, nothing around it: with a Secrets Manager JSON secret, name its key in the task definition\'s valueFrom); the value given is not shown.')
    }
    const poolRegion = config.cognito.userPoolId.slice(0, config.cognito.userPoolId.lastIndexOf('_'))
    if (mode === 'aws' && poolRegion !== config.cognito.region) {
      throw new ConfigError(`AWS_REGION is ${config.cognito.region} but COGNITO_USER_POOL_ID "${config.cognito.userPoolId}" is a pool in ${poolRegion}: set AWS_REGION to the pool's region.`)
    }
    if (mode === 'aws' && config.session.encryptionKey === '') {
      throw new ConfigError('SESSION_ENCRYPTION_KEY must be set (64 hex characters) in AWS mode; instances that share a session store share this key.')
    }
    if (mode === 'aws' && config.hostedUi.domain !== '') {
      if (!config.hostedUi.domain.startsWith('https://')) throw new ConfigError(`HOSTED_UI_DOMAIN must be an https:// URL in AWS mode; got "${config.hostedUi.domain}".`)
      if (!config.hostedUi.publicUrl.startsWith('https://')) throw new ConfigError('PUBLIC_URL must be set to the adapter\'s https:// origin when HOSTED_UI_DOMAIN is set in AWS mode (the redirect URI is <PUBLIC_URL>/auth/callback).')
    }
  }
  if (config.cognito.userContext === 'true' && config.cognito.clientSecret === '') {
    throw new ConfigError('COGNITO_USER_CONTEXT=true needs COGNITO_CLIENT_SECRET: Cognito takes a user\'s IP address only from an app client with a secret (and EnablePropagateAdditionalUserContextData).')
  }
  if (config.hostedUi.domain !== '' && config.session.mode === 'token') {
    throw new ConfigError('HOSTED_UI_DOMAIN is set but SESSION_MODE=token: hosted login ends in a session cookie, so it needs SESSION_MODE=cookie; unset HOSTED_UI_DOMAIN or use cookie mode.')
  }
  if (config.pages.serve === 'true' && config.session.mode === 'token') {
    throw new ConfigError('SERVE_LOGIN_PAGES=true but SESSION_MODE=token: the login pages keep their user signed in with the session cookie, so they need SESSION_MODE=cookie; unset SERVE_LOGIN_PAGES or use cookie mode.')
  }
  checkRedisUrl(config.session.redisUrl)
  config.server.corsOrigins = config.server.corsOrigins.map(browserOrigin)
  if (config.session.store === 'redis' && config.session.encryptionKey === '' && mode !== 'local') {
    throw new ConfigError('SESSION_ENCRYPTION_KEY must be set with SESSION_STORE=redis: instances sharing the store must share the key (64 hex characters).')
  }
  if (config.session.absoluteSeconds < config.session.idleSeconds) {
    throw new ConfigError('SESSION_ABSOLUTE_SECONDS must not be shorter than SESSION_IDLE_SECONDS.')
  }
}

/** Local mode listens on PORT, COGNITO_LOCAL_PORT and SES_LOCAL_PORT at once: two of them on one port cannot both start. */
function checkLocalPortsDistinct (config: Config): void {
  const ports: Array<[string, number]> = [['PORT', config.server.port], ['COGNITO_LOCAL_PORT', config.local.cognitoPort], ['SES_LOCAL_PORT', config.local.sesPort]]
  for (const [i, [name, port]] of ports.entries()) {
    const other = ports.slice(i + 1).find(([, otherPort]) => otherPort === port)
    if (other !== undefined) throw new ConfigError(`${name} and ${other[0]} are both ${port}: local mode listens on each of them, so give them different ports.`)
  }
}

/** Redis databases that ElastiCache and Redis's default configuration have (SELECT 0 to 15). */
const REDIS_DATABASES = 16

/**
 * Refuses a REDIS_URL that ioredis would misread: not a redis:// or rediss:// URL, a password or username with a broken
 * %-escape, or a database other than a whole number from 0 to 15. The value is never repeated: it may carry a password.
 */
function checkRedisUrl (value: string): void {
  if (!/^rediss?:\/\//.test(value)) throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL (the value given is not shown).')
  let url: URL
  try {
    url = new URL(value)
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL such as rediss://user:password@host:6379/0; it could not be read as one (the value given is not shown).')
  }
  const database = url.pathname.replace(/^\//, '')
  if (database !== '' && !(/^\d{1,2}$/.test(database) && Number(database) < REDIS_DATABASES)) {
    throw new ConfigError(`REDIS_URL names a database that is not a whole number from 0 to ${REDIS_DATABASES - 1} (or none, for 0); the value given is not shown.`)
  }
}

/**
 * A CORS_ORIGINS entry as browsers send it in Origin (lower case, without its scheme's default port), so that it can
 * match; an entry that is no origin is refused by name.
 */
function browserOrigin (entry: string): string {
  try {
    return new URL(entry).origin
  } catch {
    throw new ConfigError(`CORS_ORIGINS names ${JSON.stringify(entry)}, which is not an origin such as https://ims.example.com.`)
  }
}
