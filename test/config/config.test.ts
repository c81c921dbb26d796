// Start-up configuration: defaults, env overrides, and refusals that name the setting (bar 37).
import t from 'tap'
import fc from 'fast-check'
import { ConfigError, ConfigSchema, loadConfig } from '../../fastify.config.js'
import { FUZZ_SEED, fuzzRuns } from '../helpers/fuzz.js'

const aws = { COGNITO_USER_POOL_ID: 'eu-west-1_Abc123', COGNITO_CLIENT_ID: 'client', AWS_REGION: 'eu-west-1', SESSION_ENCRYPTION_KEY: 'a'.repeat(64) }

function refusal (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.message
    throw error
  }
  return 'accepted'
}

t.test('no settings at all: local mode with the documented defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.server.port, 3000)
  t.equal(config.server.host, '127.0.0.1')
  t.equal(config.local.cognitoPort, 9229)
  t.equal(config.local.sesPort, 8005)
  t.equal(config.session.mode, 'cookie')
  t.equal(config.session.store, 'memory')
  t.same(config.roles.groups, { ADMIN: ['ADMIN'], MANAGER: ['MANAGER'], LINE_LEADER: ['LINE_LEADER'] })
  t.equal(config.server.trustProxy, false)
  // Cognito lets a hosted-login access token change the password or sign out everywhere only with this scope.
  t.same(config.hostedUi.scopes.split(' '), ['openid', 'email', 'profile', 'aws.cognito.signin.user.admin'])
})

t.test('HOST: every interface by default in an ECS task (outside local mode), loopback elsewhere; HOST always wins', async (t) => {
  const ecs = { ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/task-1' }
  t.equal(loadConfig({ ...aws, ...ecs }).server.host, '0.0.0.0', 'an ECS task')
  t.equal(loadConfig({ ...aws }).server.host, '127.0.0.1', 'not in ECS')
  t.equal(loadConfig({ ...aws, ...ecs, HOST: '10.0.0.5' }).server.host, '10.0.0.5', 'HOST set')
  t.equal(loadConfig({ ...ecs }).server.host, '127.0.0.1', 'local mode stays on loopback')
})

t.test('TRUST_PROXY: false, true, or proxy addresses/CIDRs; anything else stops start-up naming it', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).server.trustProxy, true)
  t.match(refusal({ TRUST_PROXY: '2' }), /^TRUST_PROXY cannot be a hop count \(2\): Fastify trusts no proxy for one/, 'a hop count, which Fastify would silently ignore')
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.10,fd00::/8, loopback' }).server.trustProxy, ['10.0.0.0/8', '192.168.1.10', 'fd00::/8', 'loopback'])
  for (const value of ['yes', 'TRUE', '10.0.0.0/33', '10.0.0.0/8,proxy.internal', '::1/129', ',']) {
    t.match(refusal({ TRUST_PROXY: value }), /^TRUST_PROXY must be false, true, or comma-separated proxy addresses or CIDRs/, value)
  }
  t.match(refusal({ TRUST_PROXY: '10.0.0.0/8,proxy.internal' }), /"proxy\.internal" is none of these/, 'the sentence names the wrong entry')
})

t.test('environment overrides are typed', async (t) => {
  const config = loadConfig({ ...aws, PORT: '8080', SESSION_MODE: 'token', CORS_ORIGINS: 'https://a.example, https://b.example', ROLE_GROUPS: '{"ADMIN":["ims-admins"]}' })
  t.equal(config.server.port, 8080)
  t.equal(config.session.mode, 'token')
  t.same(config.server.corsOrigins, ['https://a.example', 'https://b.example'])
  t.same(loadConfig({ CORS_ORIGINS: 'https://App.Example.com,https://b.example.com:443,http://c.example:8080' }).server.corsOrigins,
    ['https://app.example.com', 'https://b.example.com', 'http://c.example:8080'], 'origins are kept as browsers send them: lower case, no default port')
  t.same(config.roles.groups.ADMIN, ['ims-admins'])
  t.same(config.roles.groups.MANAGER, ['MANAGER'], 'roles left out keep their default')
})

t.test('misconfiguration stops start-up with a sentence naming the setting', async (t) => {
  t.match(refusal({ NODE_ENV: 'production' }), /COGNITO_USER_POOL_ID.*production/, 'local mode in production')
  t.match(refusal({ ...aws, NODE_ENV: 'production', COGNITO_ENDPOINT: 'http://127.0.0.1:9229' }), /COGNITO_ENDPOINT/, 'an emulator endpoint in production')
  t.match(refusal({ ...aws, SESSION_ENCRYPTION_KEY: '' }), /SESSION_ENCRYPTION_KEY must be set/, 'AWS mode without a session key')
  t.match(refusal({ ...aws, SESSION_ENCRYPTION_KEY: 'short' }), /SESSION_ENCRYPTION_KEY is invalid/, 'a malformed session key')
  t.match(refusal({ ...aws, COGNITO_CLIENT_ID: '' }), /COGNITO_CLIENT_ID must be set/)
  t.match(refusal({ COGNITO_USER_POOL_ID: 'eu-west-1_Abc123', COGNITO_CLIENT_ID: 'c', SESSION_ENCRYPTION_KEY: 'a'.repeat(64) }), /AWS_REGION must be set/)
  t.match(refusal({ ...aws, COGNITO_USER_POOL_ID: 'not-a-pool' }), /COGNITO_USER_POOL_ID must look like/)
  t.match(refusal({ PORT: 'eighty' }), /PORT must be a number/)
  t.match(refusal({ PORT: '70000' }), /PORT is invalid/)
  t.match(refusal({ SESSION_MODE: 'jwt' }), /SESSION_MODE is invalid/)
  // A choice among words names the words, as they must be spelt.
  t.match(refusal({ LOG_LEVEL: 'INFO' }), /^LOG_LEVEL is invalid \(it must be one of fatal, error, warn, info, debug, trace, silent\); got "INFO"\.$/)
  t.match(refusal({ SESSION_STORE: 'redis ' }), /^SESSION_STORE is invalid \(it must be one of memory, redis\); got "redis "\.$/)
  t.match(refusal({ ROLE_GROUPS: '{"ADMIN": "ADMIN"}' }), /ROLE_GROUPS\.ADMIN must be a non-empty array/)
  t.match(refusal({ ROLE_GROUPS: '{"OWNER": ["x"]}' }), /ROLE_GROUPS names an unknown role "OWNER"/)
  t.match(refusal({ ROLE_GROUPS: 'nope' }), /ROLE_GROUPS must be JSON/)
  t.match(refusal({ TOKEN_GRACE_SECONDS: '300' }), /TOKEN_GRACE_SECONDS is invalid/, 'grace above 60 s')
  t.match(refusal({ CORS_ORIGINS: 'evil.example' }), /CORS_ORIGINS is invalid/)
  t.match(refusal({ CORS_ORIGINS: 'https://a b.example' }), /^CORS_ORIGINS names "https:\/\/a b.example", which is not an origin/)
  t.match(refusal({ PORT: '0' }), /^PORT is invalid/, 'port 0: the address the hosted login sends browsers back to would be port 0')
  t.match(refusal({ COGNITO_LOCAL_PORT: '0' }), /^COGNITO_LOCAL_PORT is invalid/)
  t.match(refusal({ SES_LOCAL_PORT: '0' }), /^SES_LOCAL_PORT is invalid/)
  t.match(refusal({ HOST: '   ' }), /^HOST is invalid/)
  for (const nodeEnv of ['Production', 'PRODUCTION', 'production ']) {
    t.match(refusal({ NODE_ENV: nodeEnv }), /COGNITO_USER_POOL_ID is not set and NODE_ENV=production/, `NODE_ENV=${JSON.stringify(nodeEnv)} is production too`)
  }
  t.match(refusal({ SESSION_IDLE_SECONDS: '7200', SESSION_ABSOLUTE_SECONDS: '3600' }), /SESSION_ABSOLUTE_SECONDS/)
  t.match(refusal({ COGNITO_ENDPOINT: 'http://127.0.0.1:9229', COGNITO_USER_POOL_ID: 'local_x', COGNITO_CLIENT_ID: 'c', SESSION_STORE: 'redis' }), /SESSION_ENCRYPTION_KEY must be set with SESSION_STORE=redis/, 'a shared store needs a shared key')
})

t.test('settings that would be silently ignored or contradict each other stop start-up, naming the setting', async (t) => {
  // Without a pool id, these would start the embedded emulator instead of the endpoint or client asked for.
  t.match(refusal({ COGNITO_ENDPOINT: 'http://10.0.0.5:9229' }), /^COGNITO_ENDPOINT is set but COGNITO_USER_POOL_ID is not/)
  t.match(refusal({ COGNITO_CLIENT_ID: 'client' }), /^COGNITO_CLIENT_ID is set but COGNITO_USER_POOL_ID is not/)
  for (const url of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis:127.0.0.1']) {
    t.match(refusal({ ...aws, SESSION_STORE: 'redis', REDIS_URL: url }), /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/, url)
  }
  t.match(refusal({ ...aws, SESSION_STORE: 'redis', REDIS_URL: 'http://:hunter2@redis.internal' }), /^REDIS_URL/)
  t.notMatch(refusal({ ...aws, SESSION_STORE: 'redis', REDIS_URL: 'http://:hunter2@redis.internal' }), /hunter2/, 'a password in the URL is not echoed')
  t.equal(loadConfig({ ...aws, SESSION_STORE: 'redis', REDIS_URL: 'rediss://:pw@redis.internal:6380' }).session.redisUrl, 'rediss://:pw@redis.internal:6380')
  // What ioredis would misread (SELECT NaN, a port it cannot parse, a broken %-escape): refused, the password unshown.
  for (const url of ['redis://:hunter2@127.0.0.1:6379/abc', 'redis://:hunter2@127.0.0.1:6379/16', 'redis://:hunter2@127.0.0.1:6379/-1', 'redis://:hunter2@127.0.0.1:notaport', 'redis://:hunter2%zz@127.0.0.1:6379', 'redis:// 127.0.0.1']) {
    const refused = refusal({ ...aws, SESSION_STORE: 'redis', REDIS_URL: url })
    t.match(refused, /^REDIS_URL /, url)
    t.notMatch(refused, /hunter2/, `${url}: the password is not echoed`)
  }
  t.match(refusal({ ...aws, SESSION_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379/abc' }), /^REDIS_URL names a database that is not a whole number from 0 to 15/)
  for (const database of ['', '/', '/0', '/15']) t.doesNotThrow(() => loadConfig({ ...aws, SESSION_STORE: 'redis', REDIS_URL: `redis://127.0.0.1:6379${database}` }), `database "${database}"`)
  // Hosted login ends in a session cookie: with token mode it would be switched off without a word.
  t.match(refusal({ ...aws, SESSION_MODE: 'token', HOSTED_UI_DOMAIN: 'https://ims.auth.eu-west-1.amazoncognito.com', PUBLIC_URL: 'https://ims.example.com' }), /^HOSTED_UI_DOMAIN is set but SESSION_MODE=token/)
  t.equal(loadConfig({ SESSION_MODE: 'token' }).session.mode, 'token', 'token mode without HOSTED_UI_DOMAIN is accepted')
  // The login pages keep their user signed in with the session cookie: in token mode a reload would sign them out.
  t.match(refusal({ ...aws, SESSION_MODE: 'token', SERVE_LOGIN_PAGES: 'true' }), /^SERVE_LOGIN_PAGES=true but SESSION_MODE=token/)
  // Pool ids are <region>_<id>: a client for another region would never find the pool.
  t.match(refusal({ ...aws, AWS_REGION: 'us-east-1' }), /^AWS_REGION is us-east-1 but COGNITO_USER_POOL_ID "eu-west-1_Abc123" is a pool in eu-west-1/)
  t.equal(loadConfig(aws).cognito.region, 'eu-west-1', 'the matching region is accepted')
})

t.test('a refusal never echoes a secret', async (t) => {
  const message = refusal({ ...aws, SESSION_ENCRYPTION_KEY: 'secret-value-that-is-wrong' })
  t.match(message, /SESSION_ENCRYPTION_KEY/)
  t.notOk(message.includes('secret-value-that-is-wrong'))
  // A URL with a password given to the wrong setting: the setting is named, the password masked.
  const misplaced = refusal({ BODY_LIMIT_BYTES: 'rediss://:hunter2@redis.internal:6380' })
  t.match(misplaced, /^BODY_LIMIT_BYTES must be a number; got "rediss:\/\/\*\*\*@redis.internal:6380"/)
  t.notOk(misplaced.includes('hunter2'))
})

/** Every setting the schema reads from the environment, with whether it is a secret. */
function settings (schema: unknown): Array<{ name: string, secret: boolean }> {
  const node = schema as { env?: string, secret?: boolean, properties?: Record<string, unknown> }
  if (node.env !== undefined) return [{ name: node.env, secret: node.secret === true }]
  return Object.values(node.properties ?? {}).flatMap(settings)
}

t.test('bar 37, generated values for any setting: start-up either goes on or stops with a sentence naming a setting, never a secret', async (t) => {
  const all = settings(ConfigSchema)
  t.ok(all.length > 40, `${all.length} settings found in the schema`)
  const value = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.integer().map(String),
    fc.double().map(String),
    fc.constantFrom('', ' ', 'true', 'false', '0', '-1', '1e3', '0x10', 'null', '[]', '{}', '{"ADMIN":[]}', 'http://127.0.0.1:9229', 'https://ims.example.com',
      'redis://127.0.0.1:6379', 'rediss://:pw-secret-9@host', 'a'.repeat(64), 'local_x', 'eu-west-1_Abc123', '10.0.0.0/8,loopback', '__proto__', 'constructor')
  )
  const bases: Array<Record<string, string>> = [
    {},
    aws,
    { COGNITO_ENDPOINT: 'http://127.0.0.1:9229', COGNITO_USER_POOL_ID: 'local_x', COGNITO_CLIENT_ID: 'c' }
  ]
  const runs = fuzzRuns(400)
  fc.assert(fc.property(fc.constantFrom(...bases), fc.dictionary(fc.constantFrom(...all.map((s) => s.name)), value, { minKeys: 1, maxKeys: 3 }), (base, changes) => {
    const env = { ...base, ...changes }
    const message = refusal(env)
    if (message === 'accepted') return
    if (!all.some(({ name }) => message.includes(name) && name in env) && !/NODE_ENV|COGNITO_USER_POOL_ID/.test(message)) {
      throw new Error(`${JSON.stringify(changes)}: the refusal names no setting that was set: ${message}`)
    }
    // A secret's value may be shown only as another setting's, which the generator may have given the same value; one
    // shorter than 8 characters may be a word the sentence uses anyway ("false" in TRUST_PROXY's).
    const shownValues = all.filter(({ secret }) => !secret).map(({ name }) => env[name]).filter((sent) => sent !== undefined)
    for (const { name, secret } of all) {
      const sent = env[name]
      if (secret && sent !== undefined && sent.length >= 8 && message.includes(sent) && !shownValues.some((shown) => shown.includes(sent))) {
        throw new Error(`${name}'s value is echoed: ${message}`)
      }
    }
    if (message.includes('pw-secret-9')) throw new Error(`a password in a URL is echoed: ${message}`)
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} generated environments, each started or refused with a sentence naming a setting`)
})

t.test('COGNITO_USER_CONTEXT: off by default; on only with a client secret, else start-up names both settings', async (t) => {
  t.equal(loadConfig({ ...aws }).cognito.userContext, 'false')
  t.match(refusal({ ...aws, COGNITO_USER_CONTEXT: 'true' }), /^COGNITO_USER_CONTEXT=true needs COGNITO_CLIENT_SECRET/)
  t.equal(loadConfig({ ...aws, COGNITO_USER_CONTEXT: 'true', COGNITO_CLIENT_SECRET: 's3cret' }).cognito.userContext, 'true')
  t.match(refusal({ ...aws, COGNITO_USER_CONTEXT: 'yes' }), /^COGNITO_USER_CONTEXT is invalid/)
})

t.test('AWS mode: an app client id or secret Cognito could never accept (a whole Secrets Manager JSON, a line break) stops start-up, the secret unshown', async (t) => {
  const secret = 'k3v9q8n2m5x7c1z4b6l0p2o8i7u6y5t4r3e2w1q9a8s7d6f5g4h'
  t.equal(loadConfig({ ...aws, COGNITO_CLIENT_SECRET: secret }).cognito.clientSecret, secret, 'a secret as Cognito generates it')
  for (const wrong of [`{"COGNITO_CLIENT_SECRET":"${secret}"}`, `${secret}\n`, ` ${secret}`]) {
    const refused = refusal({ ...aws, COGNITO_CLIENT_SECRET: wrong })
    t.match(refused, /^COGNITO_CLIENT_SECRET /, JSON.stringify(wrong))
    t.notOk(refused.includes(secret), 'the secret is not echoed')
  }
  t.match(refusal({ ...aws, COGNITO_CLIENT_ID: ' client' }), /^COGNITO_CLIENT_ID /)
  t.match(refusal({ ...aws, COGNITO_CLIENT_ID: '{"COGNITO_CLIENT_ID":"client"}' }), /^COGNITO_CLIENT_ID /)
})

t.test('AWS mode: a whole Secrets Manager JSON given as COGNITO_CLIENT_ID (a valueFrom without its key) is refused without echoing the secrets it holds', async (t) => {
  const secret = 'k3v9q8n2m5x7c1z4b6l0p2o8i7u6y5t4r3e2w1q9a8s7d6f5g4h'
  const whole = JSON.stringify({ COGNITO_CLIENT_ID: '1example23456789', COGNITO_CLIENT_SECRET: secret })
  for (const env of [{ COGNITO_CLIENT_ID: whole }, { COGNITO_CLIENT_ID: whole, COGNITO_CLIENT_SECRET: whole }] as Array<Record<string, string>>) {
    const refused = refusal({ ...aws, ...env })
    t.match(refused, /^COGNITO_CLIENT_ID /, 'naming the setting')
    t.notOk(refused.includes(secret), 'the client secret inside it is not echoed')
  }
})
