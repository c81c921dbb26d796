// Admin actions when Cognito fails its global sign-out: the adapter's sessions end anyway, the failure reaches the admin.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { AdminGetUserCommand, AdminListGroupsForUserCommand } from '@aws-sdk/client-cognito-identity-provider'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp } from '../../helpers/app.js'
import { throttlingCognito } from '../../helpers/recovery.js'

/** What the loopback Cognito refuses, by operation; each test sets and clears its entries. */
const refusals: Record<string, string> = {}
let cognito: { endpoint: string, close: () => Promise<void> }
let emulator: Emulator
let app: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  // cognito-local never performs AdminUserGlobalSignOut, so it cannot fail it as Cognito may: a loopback Cognito in
  // front of a pool whose tokens name that loopback as their issuer refuses it instead, and passes everything else on.
  const behind = { endpoint: '' }
  cognito = await throttlingCognito(behind, refusals)
  emulator = await startEmulator({ issuerDomain: cognito.endpoint })
  behind.endpoint = emulator.endpoint
  app = await testApp(emulator, { COGNITO_ENDPOINT: cognito.endpoint }, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await cognito?.close()
  await emulator?.stop()
})

/** A fresh user of `groups`, signed in here (cookie) and directly at Cognito (access token). */
async function member (groups: string[]): Promise<{ email: string, sub: string, username: string, cookie: string, accessToken: string }> {
  const email = await emulator.user(groups)
  const { cookie, response } = await signIn(app, email, TEST_PASSWORD)
  if (cookie === '') throw new Error(`sign-in failed: ${response.body}`)
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const { sub, username } = response.json().user
  return { email, sub, username, cookie, accessToken }
}

/** The status of GET /admin/users for the given credentials (200 only while they still act as ADMIN). */
async function listingStatus (headers: Record<string, string>): Promise<number> {
  return (await app.inject({ method: 'GET', url: '/admin/users?limit=1', headers })).statusCode
}

/** The audit lines of `event` about `target`, in order. */
function auditLines (event: string, target: string): Array<Record<string, unknown>> {
  return logs.entries.filter((e) => e.audit?.event === event && e.audit?.target === target).map((e) => e.audit as Record<string, unknown>)
}

t.test('bar 40: an admin sign-out that Cognito throttles or fails ends the sessions here, then answers with the failure', async (t) => {
  const admin = await member(['ADMIN'])
  for (const [exception, status, error, retryAfter] of [
    ['TooManyRequestsException', 429, 'TOO_MANY_REQUESTS', '30'],
    ['InternalErrorException', 503, 'UPSTREAM_UNAVAILABLE', '5'],
    // A missing IAM permission is this deployment's fault, not the caller's.
    ['AccessDeniedException', 500, 'INTERNAL', undefined]
  ] as const) {
    const target = await member(['ADMIN'])
    refusals.AdminUserGlobalSignOut = exception
    const response = await app.inject({ method: 'POST', url: `/admin/users/${target.email}/sign-out`, headers: { ...CSRF, cookie: admin.cookie } })
    t.equal(response.statusCode, status, exception)
    t.equal(response.json().error, error)
    t.equal(response.headers['retry-after'], retryAfter, 'Retry-After where waiting helps')
    t.equal(await listingStatus({ cookie: target.cookie }), 401, 'the session here ended all the same')
    t.equal(await listingStatus({ authorization: `Bearer ${target.accessToken}` }), 401, 'and so did the access tokens issued before')
    t.match(auditLines('admin.sign-out-user', target.sub), [{ outcome: error, sessionsEnded: true, sub: admin.sub }], 'the audit line tells the outcome')
    t.notOk('cognitoGlobalSignOut' in auditLines('admin.sign-out-user', target.sub)[0]!, 'and claims no global sign-out')
  }

  delete refusals.AdminUserGlobalSignOut
  const target = await member(['LINE_LEADER'])
  const unsupported = await app.inject({ method: 'POST', url: `/admin/users/${target.email}/sign-out`, headers: { ...CSRF, cookie: admin.cookie } })
  t.equal(unsupported.statusCode, 200, 'the emulator, which cannot sign out globally at all, still answers 200')
  t.same(unsupported.json(), { status: 'SIGNED_OUT', cognitoGlobalSignOut: false })
})

t.test('disable and set-roles: a throttled global sign-out reaches the admin after the sessions end; the retry completes', async (t) => {
  t.teardown(() => { delete refusals.AdminUserGlobalSignOut })
  const admin = await member(['ADMIN'])
  const disabled = await member(['MANAGER'])
  const demoted = await member(['ADMIN'])

  refusals.AdminUserGlobalSignOut = 'TooManyRequestsException'
  const disabling = async (): Promise<number> =>
    (await app.inject({ method: 'POST', url: `/admin/users/${disabled.email}/disable`, headers: { ...CSRF, cookie: admin.cookie } })).statusCode
  const demoting = async (): Promise<number> =>
    (await app.inject({ method: 'PUT', url: `/admin/users/${demoted.email}/roles`, headers: { ...CSRF, cookie: admin.cookie }, payload: { roles: ['LINE_LEADER'] } })).statusCode
  t.equal(await disabling(), 429, 'disable')
  t.equal(await demoting(), 429, 'set-roles')
  const { Enabled } = await emulator.client.send(new AdminGetUserCommand({ UserPoolId: emulator.userPoolId, Username: disabled.username }))
  t.equal(Enabled, false, 'Cognito disabled the user')
  const { Groups } = await emulator.client.send(new AdminListGroupsForUserCommand({ UserPoolId: emulator.userPoolId, Username: demoted.username }))
  t.same(Groups?.map((g) => g.GroupName), ['LINE_LEADER'], 'Cognito changed the groups')
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: disabled.cookie } })).statusCode, 401, 'the disabled user\'s session ended')
  t.equal(await listingStatus({ cookie: demoted.cookie }), 401, 'the demoted user\'s session no longer acts as ADMIN')

  delete refusals.AdminUserGlobalSignOut
  t.equal(await disabling(), 200, 'disable again, once Cognito answers')
  t.equal(await demoting(), 200, 'set-roles again')
  t.match(auditLines('admin.disable-user', disabled.sub), [
    { outcome: 'TOO_MANY_REQUESTS', sessionsEnded: true },
    { outcome: 'success', sessionsEnded: true, cognitoGlobalSignOut: false }
  ])
  t.match(auditLines('admin.set-roles', demoted.sub), [
    { outcome: 'TOO_MANY_REQUESTS', changed: true, sessionsEnded: true },
    { outcome: 'success', changed: false, sessionsEnded: true, cognitoGlobalSignOut: false }
  ])
})
