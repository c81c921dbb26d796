// Generated sequences of sign-ins, refreshes, sign-outs, password changes and resets, bearer calls and admin actions,
// spread over two instances on one Redis, checked step by step against a model of who should be let in (bars 8, 14-16).
import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, cookieValue, signIn, testApp } from '../helpers/app.js'
import { TEST_SESSION_KEY, waitForAudit } from '../helpers/recovery.js'
import { SHARED_REDIS_URL } from '../helpers/redis.js'
import { FUZZ_SEED, fuzzRuns } from '../helpers/fuzz.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'

type Role = 'ADMIN' | 'MANAGER' | 'LINE_LEADER'

/** The code cognito-local sends for every reset. */
const CODE = '123456'

let emulator: Emulator
let instances: FastifyInstance[]
/** Each instance's log lines: a reset waits for the audit line saying its code has left. */
const logs = [new LogCapture(), new LogCapture()]
let adminCookie: string

t.before(async () => {
  emulator = await startEmulator({ code: CODE })
  // The throttle and the uniform delay are not what is modelled here: limits the generated steps never reach, no delay.
  const env = {
    SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY,
    AUTH_IP_LIMIT: '100000', AUTH_FAILURE_LIMIT: '100000', CODE_SEND_LIMIT: '100000', UNIFORM_RESPONSE_MS: '0'
  }
  instances = [await testApp(emulator, env, { logStream: logs[0] }), await testApp(emulator, env, { logStream: logs[1] })]
  adminCookie = (await signIn(instances[0]!, await emulator.user(['ADMIN']), TEST_PASSWORD)).cookie
  if (adminCookie === '') throw new Error('the admin could not sign in')
})
t.teardown(async () => {
  for (const app of instances ?? []) await app.close()
  await emulator?.stop()
})

/** What should be true of one user: whether Cognito lets them in, their roles, and which credentials still work. */
interface Model {
  enabled: boolean
  password: string
  roles: Role[]
  browsers: Array<{ cookie?: string, live: boolean }>
  tokens: Array<{ token: string, live: boolean }>
}

/** The user the commands act on, and what the steps taken so far did (printed when a step disagrees with the model). */
interface Real { email: string, username: string, steps: string[], codesSent: [number, number] }

let passwords = 0
/** A password the pool accepts that the user has not had before. */
const nextPassword = (): string => `Ims-Model-${++passwords}-Passw0rd!`

/** Every credential of the user stops working: what a global sign-out, an admin sign-out, a disable or a role change does. */
function endEverything (model: Model): void {
  for (const browser of model.browsers) browser.live = false
  for (const token of model.tokens) token.live = false
}

/** Checks an answer that names the user: 200 with the model's roles, or 401 when the credential should be dead. */
function expectUser (real: Real, response: LightMyRequestResponse, live: boolean, roles: Role[], what: string): void {
  const expected = live ? `200 ${[...roles].sort().join(',')}` : '401 UNAUTHENTICATED'
  const body = response.json()
  const got = response.statusCode === 200 ? `200 ${[...(body.roles as string[])].sort().join(',')}` : `${response.statusCode} ${String(body.error)}`
  if (got !== expected) throw new Error(`${what}: expected ${expected}, got ${got}, after ${real.steps.join(' → ')}`)
}

function expectStatus (real: Real, response: LightMyRequestResponse, status: number, what: string): void {
  if (response.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${response.statusCode} ${response.body}, after ${real.steps.join(' → ')}`)
}

const instance = fc.constantFrom(0, 1)
const browserIndex = fc.constantFrom(0, 1)
const name = (on: number): string => (on === 0 ? 'A' : 'B')

class SignIn implements fc.AsyncCommand<Model, Real> {
  constructor (readonly browser: number, readonly on: number) {}
  check = (): boolean => true
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const previous = model.browsers[this.browser]!.cookie
    const response = await instances[this.on]!.inject({ method: 'POST', url: '/auth/sign-in', headers: { ...CSRF, ...(previous === undefined ? {} : { cookie: previous }) }, payload: { username: real.email, password: model.password } })
    // The session this browser had ends here, whatever the outcome (a sign-in always starts afresh).
    model.browsers[this.browser]!.live = false
    if (!model.enabled) {
      expectStatus(real, response, 401, this.toString())
      return
    }
    expectUser(real, { ...response, json: () => response.json().user } as LightMyRequestResponse, true, model.roles, this.toString())
    const id = cookieValue(response, SESSION_COOKIE)
    if (id === undefined || id === '') throw new Error(`${this.toString()}: no session cookie`)
    model.browsers[this.browser] = { cookie: `${SESSION_COOKIE}=${id}`, live: true }
  }

  toString = (): string => `sign-in(browser ${this.browser}, ${name(this.on)})`
}

class Me implements fc.AsyncCommand<Model, Real> {
  constructor (readonly browser: number, readonly on: number) {}
  check = (model: Readonly<Model>): boolean => model.browsers[this.browser]!.cookie !== undefined
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const { cookie, live } = model.browsers[this.browser]!
    expectUser(real, await instances[this.on]!.inject({ method: 'GET', url: '/auth/me', headers: { cookie: cookie! } }), live, model.roles, this.toString())
  }

  toString = (): string => `me(browser ${this.browser}, ${name(this.on)})`
}

class SignOut implements fc.AsyncCommand<Model, Real> {
  constructor (readonly browser: number, readonly global: boolean, readonly on: number) {}
  check = (model: Readonly<Model>): boolean => model.browsers[this.browser]!.cookie !== undefined
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const browser = model.browsers[this.browser]!
    const response = await instances[this.on]!.inject({ method: 'POST', url: '/auth/sign-out', headers: { ...CSRF, cookie: browser.cookie! }, payload: { global: this.global } })
    expectStatus(real, response, 204, this.toString())
    if (browser.live && this.global) endEverything(model)
    browser.live = false
  }

  toString = (): string => `sign-out(browser ${this.browser}${this.global ? ', everywhere' : ''}, ${name(this.on)})`
}

/** The new session cookie an answer set, if any. */
function newCookie (response: LightMyRequestResponse): string | undefined {
  const id = cookieValue(response, SESSION_COOKIE)
  return id === undefined || id === '' ? undefined : `${SESSION_COOKIE}=${id}`
}

class Refresh implements fc.AsyncCommand<Model, Real> {
  constructor (readonly browser: number, readonly on: number) {}
  check = (model: Readonly<Model>): boolean => model.browsers[this.browser]!.cookie !== undefined
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const browser = model.browsers[this.browser]!
    const response = await instances[this.on]!.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie: browser.cookie! } })
    expectStatus(real, response, browser.live ? 200 : 401, this.toString())
    // A refresh rotates the session: the browser carries the new id from now on.
    browser.cookie = newCookie(response) ?? browser.cookie
  }

  toString = (): string => `refresh(browser ${this.browser}, ${name(this.on)})`
}

class ChangePassword implements fc.AsyncCommand<Model, Real> {
  constructor (readonly browser: number, readonly on: number) {}
  check = (model: Readonly<Model>): boolean => model.browsers[this.browser]!.cookie !== undefined
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const browser = model.browsers[this.browser]!
    const password = nextPassword()
    const response = await instances[this.on]!.inject({ method: 'POST', url: '/auth/change-password', headers: { ...CSRF, cookie: browser.cookie! }, payload: { oldPassword: model.password, newPassword: password } })
    expectStatus(real, response, browser.live ? 204 : 401, this.toString())
    if (!browser.live) return
    // Every other credential ends; this browser goes on in a fresh session, signed in with the new password.
    endEverything(model)
    model.password = password
    const cookie = newCookie(response)
    if (cookie === undefined) throw new Error(`${this.toString()}: no fresh session, after ${real.steps.join(' → ')}`)
    model.browsers[this.browser] = { cookie, live: true }
  }

  toString = (): string => `change-password(browser ${this.browser}, ${name(this.on)})`
}

class Reset implements fc.AsyncCommand<Model, Real> {
  constructor (readonly on: number) {}
  check = (model: Readonly<Model>): boolean => model.enabled
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const app = instances[this.on]!
    expectStatus(real, await app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { username: real.email } }), 202, `${this.toString()}: forgot-password`)
    // The answer is uniform and does not wait for Cognito: the code is there once the audit line says it was sent.
    await waitForAudit(logs[this.on]!, 'forgot-password', 'sent', real.email, ++real.codesSent[this.on as 0 | 1])
    const password = nextPassword()
    expectStatus(real, await app.inject({ method: 'POST', url: '/auth/verify-otp', payload: { username: real.email, code: CODE, newPassword: password } }), 200, `${this.toString()}: verify-otp`)
    endEverything(model)
    model.password = password
  }

  toString = (): string => `password reset (${name(this.on)})`
}

class NewToken implements fc.AsyncCommand<Model, Real> {
  check = (model: Readonly<Model>): boolean => model.enabled && model.tokens.length < 3
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    model.tokens.push({ token: (await cognitoTokens(instances[0]!, real.email, model.password)).accessToken, live: true })
  }

  toString = (): string => 'a new access token from Cognito'
}

class UseToken implements fc.AsyncCommand<Model, Real> {
  constructor (readonly index: number, readonly on: number) {}
  check = (model: Readonly<Model>): boolean => model.tokens.length > 0
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const { token, live } = model.tokens[this.index % model.tokens.length]!
    expectUser(real, await instances[this.on]!.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } }), live, model.roles, this.toString())
  }

  toString = (): string => `bearer me(token ${this.index}, ${name(this.on)})`
}

/** An ADMIN action on the user, through the admin's session on one instance. */
class Admin implements fc.AsyncCommand<Model, Real> {
  constructor (readonly action: 'disable' | 'enable' | 'sign-out' | 'roles', readonly on: number, readonly roles: Role[] = []) {}
  check = (): boolean => true
  async run (model: Model, real: Real): Promise<void> {
    real.steps.push(this.toString())
    const url = `/admin/users/${encodeURIComponent(real.username)}/${this.action}`
    const response = await instances[this.on]!.inject(this.action === 'roles'
      ? { method: 'PUT', url, headers: { ...CSRF, cookie: adminCookie }, payload: { roles: this.roles } }
      : { method: 'POST', url, headers: { ...CSRF, cookie: adminCookie } })
    if (response.statusCode >= 300) throw new Error(`${this.toString()}: ${response.statusCode} ${response.body}`)
    if (this.action === 'enable') model.enabled = true
    else endEverything(model)
    if (this.action === 'disable') model.enabled = false
    if (this.action === 'roles') model.roles = this.roles
  }

  toString = (): string => `admin ${this.action}${this.action === 'roles' ? ` [${this.roles.join(',')}]` : ''} (${name(this.on)})`
}

const commands = [
  fc.tuple(browserIndex, instance).map(([b, on]) => new SignIn(b, on)),
  fc.tuple(browserIndex, instance).map(([b, on]) => new Me(b, on)),
  fc.tuple(browserIndex, instance).map(([b, on]) => new Me(b, on)),
  fc.tuple(browserIndex, fc.boolean(), instance).map(([b, global, on]) => new SignOut(b, global, on)),
  fc.tuple(browserIndex, instance).map(([b, on]) => new Refresh(b, on)),
  fc.tuple(browserIndex, instance).map(([b, on]) => new ChangePassword(b, on)),
  instance.map((on) => new Reset(on)),
  fc.constant(new NewToken()),
  fc.tuple(fc.nat(2), instance).map(([i, on]) => new UseToken(i, on)),
  fc.tuple(fc.nat(2), instance).map(([i, on]) => new UseToken(i, on)),
  fc.tuple(fc.constantFrom('disable' as const, 'enable' as const, 'sign-out' as const), instance).map(([action, on]) => new Admin(action, on)),
  fc.tuple(fc.subarray<Role>(['ADMIN', 'MANAGER', 'LINE_LEADER']), instance).map(([roles, on]) => new Admin('roles', on, roles))
]

t.test('generated sequences over two instances: every answer is the one the model expects, at once', async (t) => {
  const runs = fuzzRuns(20)
  await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 16, size: 'max' }), async (sequence) => {
    const email = await emulator.user(['LINE_LEADER'])
    const signedIn = await signIn(instances[0]!, email, TEST_PASSWORD)
    const real: Real = { email, username: signedIn.response.json().user.username, steps: [], codesSent: [0, 0] }
    const model: Model = { enabled: true, password: TEST_PASSWORD, roles: ['LINE_LEADER'], browsers: [{ cookie: signedIn.cookie, live: true }, { live: false }], tokens: [] }
    await fc.asyncModelRun(() => ({ model, real }), sequence)
  }), { numRuns: runs, seed: FUZZ_SEED })
  t.pass(`${runs} generated sequences, every step as the model expects`)
})
