// Builds the real app against a test emulator, and small helpers to call it as a browser or an API client would.
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { loadConfig } from '../../fastify.config.js'
import { buildApp, type AppDependencies } from '../../src/app.js'
import type { Emulator } from './emulator.js'
import { SHARED_REDIS_URL } from './redis.js'

/** The header every unsafe cookie-session request carries. */
export const CSRF = { 'x-csrf': '1' } as const

/** Every log line the app wrote, as text and parsed. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    callback()
  }

  get text (): string { return this.lines.join('\n') }
  get entries (): Array<Record<string, any>> { return this.lines.map((line) => JSON.parse(line) as Record<string, any>) }
}

/** The environment that points the app at `emulator`. */
export function emulatorEnv (emulator: Emulator, env: Record<string, string> = {}): Record<string, string> {
  return {
    COGNITO_ENDPOINT: emulator.endpoint,
    COGNITO_USER_POOL_ID: emulator.userPoolId,
    COGNITO_CLIENT_ID: emulator.clientId,
    AWS_REGION: 'local',
    LOG_LEVEL: 'info',
    ...env
  }
}

/** Builds and readies the app (keys loaded) for `emulator`; logs go to `logs` (a capture by default, never stdout). */
export async function testApp (emulator: Emulator, env: Record<string, string> = {}, deps: AppDependencies = {}): Promise<FastifyInstance> {
  const app = await buildApp(loadConfig(emulatorEnv(emulator, env)), { logStream: new LogCapture(), ...deps })
  await app.ready()
  return app
}

/**
 * Two instances of the app on the machine's Redis, as one deployment runs them: one store, one encryption key (fresh
 * for the pair). The IP limit is raised so other tests on this Redis cannot trip it; `env` adds to or overrides that;
 * `deps` go to both (a shared log capture, say).
 */
export async function twoInstances (emulator: Emulator, env: Record<string, string> = {}, deps: AppDependencies = {}): Promise<[FastifyInstance, FastifyInstance]> {
  const shared = { SESSION_STORE: 'redis', REDIS_URL: SHARED_REDIS_URL, SESSION_ENCRYPTION_KEY: randomBytes(32).toString('hex'), AUTH_IP_LIMIT: '1000', ...env }
  return [await testApp(emulator, shared, deps), await testApp(emulator, shared, deps)]
}

/** The value of a Set-Cookie for `name` in a response, or undefined. */
export function cookieValue (response: LightMyRequestResponse, name: string): string | undefined {
  return response.cookies.find((c) => c.name === name)?.value
}

/** The raw Set-Cookie header lines of a response. */
export function setCookies (response: LightMyRequestResponse): string[] {
  const header = response.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** Signs in through the app in cookie mode and returns the session cookie header and the response. */
export async function signIn (app: FastifyInstance, username: string, password: string): Promise<{ cookie: string, response: LightMyRequestResponse }> {
  const response = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username, password } })
  const id = cookieValue(response, '__Host-ims-session')
  return { cookie: id === undefined ? '' : `__Host-ims-session=${id}`, response }
}

/** Signs in directly against Cognito (as a mobile or service client would) and returns its tokens. */
export async function cognitoTokens (app: FastifyInstance, username: string, password: string): Promise<{ accessToken: string, idToken: string, refreshToken: string }> {
  const outcome = await app.cognito.auth.signIn(username, password)
  if (outcome.kind !== 'tokens' || outcome.tokens.refreshToken === undefined) throw new Error('expected tokens')
  return { accessToken: outcome.tokens.accessToken, idToken: outcome.tokens.idToken, refreshToken: outcome.tokens.refreshToken }
}
