// Admin changes of access against a real cognito-local: role changes, disable and sign-out end sessions at once; no self-lockout.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { AdminListGroupsForUserCommand, CreateGroupCommand } from '@aws-sdk/client-cognito-identity-provider'
import { upstreamUnavailable } from '../../../src/errors.js'
import { MemoryStore } from '../../../src/store/shared-store.js'
import { pauseAfter } from '../../helpers/pause-after.js'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { CSRF, LogCapture, cookieValue, cognitoTokens, signIn, testApp } from '../../helpers/app.js'

let emulator: Emulator
let app: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator, {}, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

/** A fresh user of `groups`, signed in: its email, sub, Cognito username and cookie. */
async function member (groups: string[]): Promise<{ email: string, sub: string, username: string, cookie: string }> {
  const email = await emulator.user(groups)
  const { cookie, response } = await signIn(app, email, TEST_PASSWORD)
  if (cookie === '') throw new Error(`sign-in failed: ${response.body}`)
  const user = response.json().user
  return { email, sub: user.sub, username: user.username, cookie }
}

async function me (cookie: string): Promise<{ status: number, roles?: string[], error?: string }> {
  const response = await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })
  const body = response.json()
  return { status: response.statusCode, roles: body.roles, error: body.error }
}

function unsafe (cookie: string): Record<string, string> {
  return { ...CSRF, cookie }
}

t.test('bar 8: a role change ends the user\'s sessions and tokens at once; the next sign-in is judged by the new roles', async (t) => {
  const admin = await member(['ADMIN'])
  const target = await member(['LINE_LEADER'])
  const second = await signIn(app, target.email, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(app, target.email, TEST_PASSWORD)
  t.equal((await app.inject({ method: 'GET', url: '/admin/users', headers: { cookie: target.cookie } })).statusCode, 403, 'not an admin yet')

  // Named by email: cognito-local lists a user's groups only under its Username, and the adapter must cope.
  const changed = await app.inject({ method: 'PUT', url: `/admin/users/${target.email}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['ADMIN', 'MANAGER'] } })
  t.equal(changed.statusCode, 200)
  t.same(changed.json().roles, ['ADMIN', 'MANAGER'])
  t.same(changed.json().groups, ['ADMIN', 'MANAGER'], 'LINE_LEADER removed, ADMIN and MANAGER added')
  t.equal(changed.json().username, target.username)

  for (const cookie of [target.cookie, second.cookie]) t.same(await me(cookie), { status: 401, error: 'UNAUTHENTICATED' }, 'every old session ends')
  const byOldToken = await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(byOldToken.statusCode, 401, 'an access token issued before the change fails too')

  const again = await signIn(app, target.email, TEST_PASSWORD)
  t.same(again.response.json().user.roles, ['ADMIN', 'MANAGER'])
  t.equal((await app.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { cookie: again.cookie } })).statusCode, 200, 'judged by the new roles')

  // Named by Cognito username, another admin may take ADMIN away again.
  const back = await app.inject({ method: 'PUT', url: `/admin/users/${target.username}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['LINE_LEADER'] } })
  t.equal(back.statusCode, 200)
  t.same(back.json().roles, ['LINE_LEADER'])
  t.same(await me(again.cookie), { status: 401, error: 'UNAUTHENTICATED' })
  const line = logs.entries.find((e) => e.audit?.event === 'admin.set-roles' && e.audit?.target === target.sub && e.audit?.changed === true)
  t.ok(line, 'audited')
  t.equal(line!.audit.sub, admin.sub)
  t.equal(line!.audit.cognitoGlobalSignOut, false, 'the emulator could not sign out globally, and the audit line says so')
})

t.test('bar 8: setting roles Cognito already holds changes no group but still ends the user\'s sessions', async (t) => {
  const admin = await member(['ADMIN'])
  const target = await member(['MANAGER', 'LINE_LEADER'])
  const response = await app.inject({ method: 'PUT', url: `/admin/users/${target.email}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['LINE_LEADER', 'MANAGER'] } })
  t.equal(response.statusCode, 200)
  t.same(response.json().roles, ['MANAGER', 'LINE_LEADER'])
  t.same(response.json().groups, ['LINE_LEADER', 'MANAGER'], 'no group changed')
  t.same(await me(target.cookie), { status: 401, error: 'UNAUTHENTICATED' }, 'the PUT has the same effect on sessions however often it is sent')
})

t.test('bar 8: a demotion whose session-ending step failed (503) ends the sessions when retried, though Cognito already matches', async (t) => {
  const store = new MemoryStore()
  const pauseAfterMembers = pauseAfter(store, 'members')
  const flaky = await testApp(emulator, {}, { store, logStream: logs })
  t.teardown(async () => { await flaky.close() })
  const admin = await signIn(flaky, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const targetEmail = await emulator.user(['ADMIN'])
  const target = await signIn(flaky, targetEmail, TEST_PASSWORD)
  const { sub, username } = target.response.json().user
  const demote = async (): Promise<LightMyRequestResponse> =>
    await flaky.inject({ method: 'PUT', url: `/admin/users/${targetEmail}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['LINE_LEADER'] } })

  // The only `members` read of a role change lists the user's sessions to end them: the store fails just then.
  pauseAfterMembers(async () => { throw upstreamUnavailable() })
  const failed = await demote()
  t.equal(failed.statusCode, 503)
  t.equal(failed.json().error, 'UPSTREAM_UNAVAILABLE')
  const { Groups } = await emulator.client.send(new AdminListGroupsForUserCommand({ UserPoolId: emulator.userPoolId, Username: username }))
  t.same(Groups?.map((g) => g.GroupName), ['LINE_LEADER'], 'Cognito was changed before the failure')

  const retried = await demote()
  t.equal(retried.statusCode, 200)
  t.same(retried.json().roles, ['LINE_LEADER'])
  const listing = await flaky.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { cookie: target.cookie } })
  t.equal(listing.statusCode, 401, 'the old session no longer acts as ADMIN')
  t.equal((await flaky.inject({ method: 'GET', url: '/auth/me', headers: { cookie: target.cookie } })).statusCode, 401, 'the session ended')
  const lines = logs.entries.filter((e) => e.audit?.event === 'admin.set-roles' && e.audit?.target === sub).map((e) => e.audit)
  t.match(lines, [
    { outcome: 'UPSTREAM_UNAVAILABLE', changed: true },
    { outcome: 'success', changed: false, sessionsEnded: true, cognitoGlobalSignOut: false }
  ], 'the audit tells the failed attempt from the retry that ended the sessions')
  t.notOk('sessionsEnded' in lines[0], 'the failed attempt ended no session')
})

t.test('bar 8: a role change that fails halfway still ends the user\'s sessions and tokens; the missing group is named', async (t) => {
  // MANAGER is granted by a group the pool lacks: removing ADMIN succeeds, adding MANAGERS fails.
  const mapped = await testApp(emulator, { ROLE_GROUPS: '{"MANAGER": ["MANAGERS"]}' })
  t.teardown(async () => { await mapped.close() })
  const admin = await signIn(mapped, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const targetEmail = await emulator.user(['ADMIN'])
  const target = await signIn(mapped, targetEmail, TEST_PASSWORD)
  const { accessToken } = await cognitoTokens(mapped, targetEmail, TEST_PASSWORD)
  t.equal((await mapped.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { cookie: target.cookie } })).statusCode, 200, 'an admin before')

  const response = await mapped.inject({ method: 'PUT', url: `/admin/users/${targetEmail}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['MANAGER'] } })
  t.equal(response.statusCode, 409)
  t.equal(response.json().error, 'CONFLICT', 'not a 404: the user exists')
  t.match(response.json().message, /no group "MANAGERS"/)
  const { Groups } = await emulator.client.send(new AdminListGroupsForUserCommand({ UserPoolId: emulator.userPoolId, Username: target.response.json().user.username }))
  t.same(Groups, [], 'Cognito already took ADMIN away')

  const listing = await mapped.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { cookie: target.cookie } })
  t.equal(listing.statusCode, 401, 'the old session no longer acts as ADMIN')
  t.equal(listing.json().error, 'UNAUTHENTICATED')
  t.equal((await mapped.inject({ method: 'GET', url: '/auth/me', headers: { cookie: target.cookie } })).statusCode, 401, 'the session ended')
  t.equal((await mapped.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 401, 'its earlier access tokens too')
})

t.test('bar 8: a refresh that overlaps a role change does not carry the old roles on in a new session id', async (t) => {
  const store = new MemoryStore()
  const pauseAfterWrite = pauseAfter(store, 'replaceIfUnchanged')
  const paused = await testApp(emulator, {}, { store })
  t.teardown(async () => { await paused.close() })
  const admin = await signIn(paused, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const targetEmail = await emulator.user(['ADMIN'])
  const target = await signIn(paused, targetEmail, TEST_PASSWORD)
  let demotion = 0
  // A refresh writes over the session twice, its new tokens and then the note of its move to a new id: the demotion
  // runs just after the move.
  pauseAfterWrite(async () => pauseAfterWrite(async () => {
    demotion = (await paused.inject({ method: 'PUT', url: `/admin/users/${targetEmail}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['LINE_LEADER'] } })).statusCode
  }))
  const refreshed = await paused.inject({ method: 'POST', url: '/auth/refresh', headers: unsafe(target.cookie) })
  t.equal(demotion, 200, 'the demotion ran while the refresh was rotating the session')
  const next = cookieValue(refreshed, '__Host-ims-session')
  for (const cookie of [target.cookie, ...(next === undefined || next === '' ? [] : [`__Host-ims-session=${next}`])]) {
    const listing = await paused.inject({ method: 'GET', url: '/admin/users?limit=1', headers: { cookie } })
    t.equal(listing.statusCode, 401, `${cookie === target.cookie ? 'the old' : 'the refreshed'} cookie no longer acts as ADMIN`)
  }
})

t.test('bar 8: a sign-in whose tokens were issued before a role change does not keep the old roles in a new session', async (t) => {
  const store = new MemoryStore()
  const pauseAfterSet = pauseAfter(store, 'set')
  const paused = await testApp(emulator, {}, { store })
  t.teardown(async () => { await paused.close() })
  const admin = await signIn(paused, await emulator.user(['ADMIN']), TEST_PASSWORD)
  const targetEmail = await emulator.user(['ADMIN'])
  let demotion = 0
  // The first store write of a sign-in is its new session's: the demotion runs just after it, before it is listed.
  pauseAfterSet(async () => {
    demotion = (await paused.inject({ method: 'PUT', url: `/admin/users/${targetEmail}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['LINE_LEADER'] } })).statusCode
  })
  const target = await signIn(paused, targetEmail, TEST_PASSWORD)
  t.equal(demotion, 200, 'the demotion ran while the sign-in was storing its session')
  t.equal(target.response.statusCode, 401, 'the sign-in, holding tokens issued before the change, is refused')
  t.equal(target.cookie, '', 'and sets no session cookie')
  const again = await signIn(paused, targetEmail, TEST_PASSWORD)
  t.equal(again.response.statusCode, 200, 'signing in again works')
  t.same(again.response.json().user.roles, ['LINE_LEADER'], 'with the new roles')
})

t.test('groups that grant no role are left alone by a role change', async (t) => {
  const admin = await member(['ADMIN'])
  await emulator.client.send(new CreateGroupCommand({ UserPoolId: emulator.userPoolId, GroupName: 'night-shift' }))
  const target = await member(['LINE_LEADER', 'night-shift'])
  const response = await app.inject({ method: 'PUT', url: `/admin/users/${target.email}/roles`, headers: unsafe(admin.cookie), payload: { roles: [] } })
  t.equal(response.statusCode, 200)
  t.same(response.json().roles, [])
  t.same(response.json().groups, ['night-shift'])
})

t.test('disable ends the user\'s sessions and sign-in then fails with the uniform 401; enable lets them back in', async (t) => {
  const admin = await member(['ADMIN'])
  const target = await member(['MANAGER'])
  const disabled = await app.inject({ method: 'POST', url: `/admin/users/${target.username}/disable`, headers: unsafe(admin.cookie) })
  t.equal(disabled.statusCode, 200)
  t.equal(disabled.json().enabled, false)
  t.same(await me(target.cookie), { status: 401, error: 'UNAUTHENTICATED' }, 'the session ended at once')

  const refused = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: target.email, password: TEST_PASSWORD } })
  const wrong = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: admin.email, password: 'Wrong-Passw0rd!' } })
  t.equal(refused.statusCode, 401)
  const { requestId: a, ...refusedBody } = refused.json()
  const { requestId: b, ...wrongBody } = wrong.json()
  t.same(refusedBody, wrongBody, 'the same body as a wrong password')
  t.equal(refusedBody.error, 'INVALID_CREDENTIALS')

  const listed = await app.inject({ method: 'GET', url: '/admin/users?role=MANAGER&limit=60', headers: { cookie: admin.cookie } })
  t.equal(listed.json().users.find((u: { sub: string }) => u.sub === target.sub)?.enabled, false)

  const enabled = await app.inject({ method: 'POST', url: `/admin/users/${target.email}/enable`, headers: unsafe(admin.cookie) })
  t.equal(enabled.statusCode, 200)
  t.equal(enabled.json().enabled, true)
  const back = await signIn(app, target.email, TEST_PASSWORD)
  t.equal(back.response.statusCode, 200)
  t.ok(logs.entries.some((e) => e.audit?.event === 'admin.disable-user' && e.audit?.target === target.sub && e.audit?.outcome === 'success'))
})

t.test('an admin sign-out ends every session of that user at once; the user may sign in again', async (t) => {
  const admin = await member(['ADMIN'])
  const target = await member(['LINE_LEADER'])
  const second = await signIn(app, target.email, TEST_PASSWORD)
  const bystander = await member(['LINE_LEADER'])
  const response = await app.inject({ method: 'POST', url: `/admin/users/${target.email}/sign-out`, headers: unsafe(admin.cookie), payload: {} })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'SIGNED_OUT', cognitoGlobalSignOut: false })
  for (const cookie of [target.cookie, second.cookie]) t.equal((await me(cookie)).status, 401)
  t.equal((await me(bystander.cookie)).status, 200, 'other users keep their sessions')
  t.equal((await signIn(app, target.email, TEST_PASSWORD)).response.statusCode, 200)
})

t.test('no self-lockout: an admin cannot remove their own ADMIN role nor disable themselves (409 CONFLICT)', async (t) => {
  const admin = await member(['ADMIN'])
  for (const name of [admin.email, admin.username]) {
    const demote = await app.inject({ method: 'PUT', url: `/admin/users/${name}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['MANAGER'] } })
    t.equal(demote.statusCode, 409)
    t.equal(demote.json().error, 'CONFLICT')
    t.match(demote.json().message, /own ADMIN role/)
    const disable = await app.inject({ method: 'POST', url: `/admin/users/${name}/disable`, headers: unsafe(admin.cookie) })
    t.equal(disable.statusCode, 409)
    t.match(disable.json().message, /cannot disable yourself/)
  }
  t.same(await me(admin.cookie), { status: 200, roles: ['ADMIN'], error: undefined }, 'still an admin, still signed in')
  t.ok(logs.entries.some((e) => e.audit?.event === 'admin.set-roles' && e.audit?.sub === admin.sub && e.audit?.outcome === 'CONFLICT'), 'the refusal is audited')

  const widen = await app.inject({ method: 'PUT', url: `/admin/users/${admin.email}/roles`, headers: unsafe(admin.cookie), payload: { roles: ['ADMIN', 'MANAGER'] } })
  t.equal(widen.statusCode, 200, 'keeping ADMIN is allowed')
  t.same(widen.json().roles, ['ADMIN', 'MANAGER'])

  const other = await member(['ADMIN'])
  const demoted = await app.inject({ method: 'PUT', url: `/admin/users/${admin.email}/roles`, headers: unsafe(other.cookie), payload: { roles: ['MANAGER'] } })
  t.equal(demoted.statusCode, 200, 'another admin may do it')
  t.same(demoted.json().roles, ['MANAGER'])
})
