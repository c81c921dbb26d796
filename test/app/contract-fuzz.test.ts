// Generated bad input on every JSON route (bars 32, 34): whatever the body, type or string, the answer is the contract's.
import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp } from '../helpers/app.js'
import { ERROR_STATUS } from '../../src/errors.js'
import { FUZZ_SEED, fuzzRuns } from '../helpers/fuzz.js'

/** Generated cases per route; each is one request, and some of them reach cognito-local. */
const RUNS = fuzzRuns(100)

let emulator: Emulator
let app: FastifyInstance
let adminCookie: string
let userCookie: string
let accessToken: string
const logs = new LogCapture()
/** Every password, code or token value the generated requests sent (long enough to be told apart), and every other value. */
const secretsSent = new Set<string>()
const othersSent = new Set<string>()
const SECRET_FIELDS = new Set(['password', 'newPassword', 'oldPassword', 'code', 'answer', 'refreshToken', 'session'])

t.before(async () => {
  emulator = await startEmulator()
  // Generous per-IP limit and no uniform delay: the generated requests should reach the routes' own checks and Cognito.
  app = await testApp(emulator, { AUTH_IP_LIMIT: '100000', UNIFORM_RESPONSE_MS: '0' }, { logStream: logs })
  adminCookie = (await signIn(app, await emulator.user(['ADMIN']), TEST_PASSWORD)).cookie
  userCookie = (await signIn(app, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)).cookie
  if (adminCookie === '' || userCookie === '') throw new Error('sign-in failed')
  accessToken = (await cognitoTokens(app, await emulator.user(['MANAGER']), TEST_PASSWORD)).accessToken
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

/** Strings that have broken parsers, loggers and SDKs before: control characters, lone surrogates, long runs, markup. */
const awkwardString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '', ' ', '\u0000', '\r\nX-Injected: 1', '\ud800', '\udfff', 'a\u202eb', '../../etc/passwd', '<script>alert(1)</script>',
    '%00', '__proto__', 'constructor', 'ADMIN', 'admin@ims.local', 'x'.repeat(300), '\u00e9'.repeat(129), '1e309', 'null'
  )
)

/** Any JSON value a client could send in a field: nested, empty, huge numbers, wrong types. */
const fieldValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    awkwardString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(awkwardString, tie('value'), { maxKeys: 3 })
  )
})).value

const nonEmpty = awkwardString.filter((value) => value.length > 0)

/** A value of the type a field expects, so the request passes the schema and reaches the route's own checks and Cognito. */
function wellTyped (field: string): fc.Arbitrary<unknown> {
  if (field === 'global') return fc.boolean()
  if (field === 'roles') return fc.array(fc.oneof(fc.constantFrom('ADMIN', 'MANAGER', 'LINE_LEADER'), awkwardString), { maxLength: 4 })
  if (field === 'challenge') return fc.oneof(fc.constantFrom('NEW_PASSWORD_REQUIRED', 'SOFTWARE_TOKEN_MFA', 'SMS_MFA', 'EMAIL_OTP', 'SELECT_MFA_TYPE', 'MFA_SETUP'), awkwardString)
  if (field === 'username' || field === 'email') return fc.oneof(fc.emailAddress(), nonEmpty)
  // Passwords that meet the pool's rules around an awkward middle, so some reach Cognito.
  if (field.toLowerCase().endsWith('password')) return fc.oneof(nonEmpty, awkwardString.map((middle) => `Aa1!${middle}passw0rd`))
  if (field === 'code') return fc.oneof(fc.stringMatching(/^[0-9]{6}$/), nonEmpty)
  return nonEmpty
}

/**
 * A body for a route with `fields`: every field of the right type (awkward values), those fields with any JSON (some
 * missing, some extra), raw bytes in a body, any JSON at all, or text that is not JSON.
 */
function body (fields: string[]): fc.Arbitrary<string | Buffer> {
  const named = fc.record(Object.fromEntries(fields.map((field) => [field, fieldValue])), { requiredKeys: [] })
  const typed = fc.record(Object.fromEntries(fields.map((field) => [field, wellTyped(field)])))
  return fc.oneof(
    { arbitrary: typed.map((value) => JSON.stringify(value)), weight: 3 },
    { arbitrary: named.map((value) => JSON.stringify(value)), weight: 1 },
    // Raw bytes (invalid UTF-8 among them) somewhere in a well-typed body: inside a string, or breaking the JSON.
    fc.tuple(typed, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 6 })).map(([value, at, bytes]) => {
      const text = Buffer.from(JSON.stringify(value))
      const cut = at % (text.length + 1)
      return Buffer.concat([text.subarray(0, cut), bytes, text.subarray(cut)])
    }),
    fc.tuple(named, fc.dictionary(awkwardString, fieldValue, { maxKeys: 2 })).map(([value, extra]) => JSON.stringify({ ...extra, ...value })),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc.string({ unit: 'binary', maxLength: 60 })
  )
}

const contentType = fc.constantFrom<string | undefined>(
  'application/json', 'application/json', 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON',
  'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', undefined
)

/** A path segment from an awkward string, as a client would encode it. */
const pathSegment = awkwardString.map((value) => {
  try {
    return encodeURIComponent(value)
  } catch {
    return '%ED%A0%80' // a lone surrogate cannot be encoded; send its UTF-8 bytes as some clients do
  }
})

/** Every AWS exception name ends so; none may reach a response. */
const AWS_EXCEPTION = /[A-Z][A-Za-z]+Exception/

/**
 * What is wrong with an answer, or null: it must never be a 500, and every error must be the contract's body with the
 * status its code names, no stack trace and no AWS exception name.
 */
function contractBreach (response: LightMyRequestResponse): string | null {
  if (response.statusCode < 400) return null
  let error: { error?: unknown, message?: unknown, requestId?: unknown }
  try {
    error = response.json()
  } catch {
    return `the error body is not JSON: ${response.body.slice(0, 200)}`
  }
  const status = ERROR_STATUS[error.error as keyof typeof ERROR_STATUS] as number | undefined
  if (response.statusCode === 500 || status !== response.statusCode) return `${response.statusCode} ${response.body.slice(0, 300)}`
  if (typeof error.message !== 'string' || typeof error.requestId !== 'string') return `not the contract's body: ${response.body.slice(0, 300)}`
  if (response.body.includes(' at ') || AWS_EXCEPTION.test(response.body)) return `internals in the body: ${response.body.slice(0, 300)}`
  return null
}

/** Fails the property (fast-check then shrinks the case and reports it) when the answer breaks the contract. */
function expectContract (response: LightMyRequestResponse, request: string): void {
  const breach = contractBreach(response)
  if (breach !== null) throw new Error(`${request}: ${breach}`)
}

/** Files the string values of a JSON body as secrets (passwords, codes, tokens) or not, for the log search at the end. */
function remember (payload: string | Buffer): void {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload.toString())
  } catch {
    return
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return
  for (const [field, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') continue
    if (SECRET_FIELDS.has(field) && value.length >= 10) secretsSent.add(value)
    else othersSent.add(value)
  }
}

interface JsonRoute { method: 'POST' | 'PUT', url: string, fields: string[], cookie?: () => string, pathParameter?: boolean }

const routes: JsonRoute[] = [
  { method: 'POST', url: '/auth/sign-in', fields: ['username', 'password'] },
  { method: 'POST', url: '/auth/challenge', fields: ['challenge', 'answer', 'newPassword', 'session'] },
  { method: 'POST', url: '/auth/refresh', fields: ['refreshToken', 'username'] },
  { method: 'POST', url: '/auth/sign-out', fields: ['global', 'refreshToken'] },
  { method: 'POST', url: '/auth/forgot-password', fields: ['username'] },
  { method: 'POST', url: '/auth/resend-code', fields: ['username'] },
  { method: 'POST', url: '/auth/verify-otp', fields: ['username', 'code', 'newPassword'] },
  { method: 'POST', url: '/auth/sign-up', fields: ['username', 'password', 'email'] },
  { method: 'POST', url: '/auth/confirm-sign-up', fields: ['username', 'code'] },
  { method: 'POST', url: '/auth/change-password', fields: ['oldPassword', 'newPassword'], cookie: () => userCookie },
  { method: 'POST', url: '/admin/users', fields: ['email', 'roles'], cookie: () => adminCookie },
  { method: 'PUT', url: '/admin/users/:username/roles', fields: ['roles'], cookie: () => adminCookie, pathParameter: true },
  { method: 'POST', url: '/admin/users/:username/disable', fields: [], cookie: () => adminCookie, pathParameter: true },
  { method: 'POST', url: '/admin/users/:username/enable', fields: [], cookie: () => adminCookie, pathParameter: true },
  { method: 'POST', url: '/admin/users/:username/sign-out', fields: [], cookie: () => adminCookie, pathParameter: true }
]

for (const route of routes) {
  t.test(`bars 32 and 34: ${route.method} ${route.url} answers generated bad input in the contract's shape, never 500`, async (t) => {
    await fc.assert(fc.asyncProperty(body(route.fields), contentType, pathSegment, async (payload, type, segment) => {
      const url = route.pathParameter === true ? route.url.replace(':username', segment) : route.url
      const headers: Record<string, string> = { ...CSRF }
      if (type !== undefined) headers['content-type'] = type
      if (route.cookie !== undefined) headers.cookie = route.cookie()
      remember(payload)
      expectContract(await app.inject({ method: route.method, url, headers, payload }), `${route.method} ${url}`)
    }), { numRuns: RUNS, seed: FUZZ_SEED })
    t.pass(`${RUNS} generated requests, each answered in the contract's shape`)
  })
}

t.test('bars 32 and 34: generated query strings on the GET routes that read them', async (t) => {
  const query = fc.dictionary(fc.constantFrom('role', 'limit', 'cursor', 'returnTo', 'code', 'state', 'x'), awkwardString, { maxKeys: 4 })
  const paths = fc.constantFrom('/admin/users', '/auth/login', '/auth/callback', '/auth/me', '/auth/config')
  await fc.assert(fc.asyncProperty(paths, query, async (path, values) => {
    const search = Object.entries(values).map(([key, value]) => `${key}=${encodeURIComponent(value.replace(/[\ud800-\udfff]/g, '?'))}`).join('&')
    expectContract(await app.inject({ method: 'GET', url: `${path}?${search}`, headers: { cookie: adminCookie, accept: 'application/json' } }), `GET ${path}`)
  }), { numRuns: RUNS * 2, seed: FUZZ_SEED })
  t.pass(`${RUNS * 2} generated requests, each answered in the contract's shape`)
})

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Copies of a credential that differ from it: one character swapped for one of `swaps`, cut short, or lengthened by up
 * to `tailLength` characters of `tail`.
 */
function changedCopies (original: string, swaps: string[], tail: string[], tailLength: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(fc.nat(original.length - 1), fc.constantFrom(...swaps)).map(([at, char]) => original.slice(0, at) + char + original.slice(at + 1)),
    fc.nat(original.length - 1).map((length) => original.slice(0, length)),
    fc.string({ unit: fc.constantFrom(...tail), minLength: 1, maxLength: tailLength }).map((extra) => original + extra)
  ).filter((copy) => copy !== original)
}

t.test('bars 1 and 9: a valid access token changed in any one character, cut short or lengthened is refused with 401', async (t) => {
  const me = async (token: string): Promise<LightMyRequestResponse> => await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } })
  t.equal((await me(accessToken)).statusCode, 200, 'the token itself is accepted (and now cached)')
  const signatureBytes = (token: string): Buffer => Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')
  const changed = changedCopies(accessToken, [...BASE64URL, '.', '=', ' ', '%'], [...BASE64URL, '.'], 8)
  await fc.assert(fc.asyncProperty(changed, async (token) => {
    const response = await me(token)
    // The signature's last character carries bits base64url ignores: a change there that leaves the signature's bytes
    // as they were is the same signature, and acceptable.
    const sameSignature = token.split('.').length === 3 && token.slice(0, token.lastIndexOf('.')) === accessToken.slice(0, accessToken.lastIndexOf('.')) && signatureBytes(token).equals(signatureBytes(accessToken))
    if (sameSignature) return
    expectContract(response, 'GET /auth/me with a changed token')
    if (response.statusCode !== 401) throw new Error(`a changed token got ${response.statusCode}: ${token}`)
  }), { numRuns: RUNS * 3, seed: FUZZ_SEED })
  t.pass(`${RUNS * 3} changed tokens, each refused`)
})

t.test('bar 26: a session cookie changed in any one character, cut, lengthened, repeated or joined by odd cookies is refused with 401', async (t) => {
  const id = userCookie.slice(userCookie.indexOf('=') + 1)
  const name = userCookie.slice(0, userCookie.indexOf('='))
  const otherCookie = fc.tuple(awkwardString, awkwardString).map(([key, value]) => `${key.replace(/[=;,\s]/g, '')}=${value.replace(/[;,\s]/g, '')}`)
  const changedId = changedCopies(id, [...BASE64URL, '%', '"'], [...BASE64URL], 4)
  const header = fc.tuple(changedId, fc.array(otherCookie, { maxLength: 3 }), fc.boolean()).map(([value, others, twice]) =>
    [...others, `${name}=${value}`, ...(twice ? [`${name}=${value}`] : [])].join('; '))
  const runs = RUNS * 2
  await fc.assert(fc.asyncProperty(header, async (cookie) => {
    const response = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
    expectContract(response, 'GET /auth/me with a changed cookie')
    if (response.statusCode !== 401) throw new Error(`a changed session cookie got ${response.statusCode}: ${cookie}`)
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} changed cookies, each refused`)
})

t.test('bar 35: no password, code or token any generated request sent is in the logs, raw or JSON-escaped', async (t) => {
  t.ok(secretsSent.size > 50, `${secretsSent.size} distinct secret values were sent`)
  const text = logs.text
  t.ok(text.length > 0, 'the app logged')
  const leaked = [...secretsSent]
    .filter((secret) => ![...othersSent].some((other) => other.includes(secret)))
    .filter((secret) => text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1)))
  t.same(leaked, [], 'none is in the logs')
})

t.test('after all of it the admin and the line leader are still signed in, and the app still serves', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: adminCookie } })).json().primaryRole, 'ADMIN')
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: userCookie } })).json().primaryRole, 'LINE_LEADER')
})
