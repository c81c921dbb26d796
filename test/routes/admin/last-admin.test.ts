// The pool always keeps an enabled administrator: two admins demoting or disabling each other at once cannot both win.
import { setTimeout } from 'node:timers/promises'
import t from 'tap'
import { AdminAddUserToGroupCommand, AdminDisableUserCommand, AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, uniqueEmail, type Emulator } from '../../helpers/emulator.js'
import { CSRF, signIn, testApp } from '../../helpers/app.js'
import { pauseAfter } from '../../helpers/pause-after.js'
import { startFaultyCognito } from '../../helpers/faulty-cognito.js'

/**
 * A pool of its own holding exactly two signed-in administrators, and an ADMIN invitation nobody has taken up yet (an
 * enabled member of the group that cannot sign in, which must not count as an administrator who remains).
 */
async function twoAdmins (t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ app: FastifyInstance, emulator: Emulator, admins: Array<{ email: string, cookie: string }> }> {
  const emulator: Emulator = await startEmulator()
  const app = await testApp(emulator)
  t.teardown(async () => { await app.close(); await emulator.stop() })
  const admins = await Promise.all([0, 1].map(async () => {
    const email = await emulator.user(['ADMIN'])
    return { email, cookie: (await signIn(app, email, TEST_PASSWORD)).cookie }
  }))
  await emulator.invitedUser('Temp-Passw0rd!', ['ADMIN'])
  return { app, emulator, admins }
}

/** The refusal the loser gets: 409 while the winner's change runs, 403 once it has lost its own ADMIN role. */
const REFUSED = /^(403 FORBIDDEN|409 CONFLICT)$/

/** How many of the pool's ADMIN members are enabled, as an admin sees them. */
async function enabledAdmins (app: FastifyInstance, cookie: string): Promise<number> {
  const page = await app.inject({ method: 'GET', url: '/admin/users?role=ADMIN', headers: { cookie } })
  return (page.json().users as Array<{ enabled: boolean, status: string }>).filter((user) => user.enabled && user.status === 'CONFIRMED').length
}

t.test('two admins demoting each other at once: one wins, the other gets 409, and an admin remains', async (t) => {
  const { app, admins } = await twoAdmins(t)
  const [a, b] = admins as [{ email: string, cookie: string }, { email: string, cookie: string }]
  const demote = async (by: typeof a, whom: typeof a) => await app.inject({
    method: 'PUT', url: `/admin/users/${encodeURIComponent(whom.email)}/roles`, headers: { ...CSRF, cookie: by.cookie }, payload: { roles: ['MANAGER'] }
  })
  const answers = await Promise.all([demote(a, b), demote(b, a)])
  const [won, lost] = [answers.filter((r) => r.statusCode === 200), answers.filter((r) => r.statusCode !== 200)]
  t.equal(won.length, 1, 'exactly one demotion happened')
  t.match(lost.map((r) => `${r.statusCode} ${String(r.json().error)}`).join(), REFUSED)
  const winner = answers[0]!.statusCode === 200 ? a : b
  t.equal(await enabledAdmins(app, winner.cookie), 1, 'the winner is still an administrator')
})

t.test('a request of an admin demoted while it was under way cannot demote the last one (a pending invitation does not count)', async (t) => {
  const { app, admins } = await twoAdmins(t)
  const [a, b] = admins as [{ email: string, cookie: string }, { email: string, cookie: string }]
  const demote = async (by: typeof a, whom: typeof a) => await app.inject({
    method: 'PUT', url: `/admin/users/${encodeURIComponent(whom.email)}/roles`, headers: { ...CSRF, cookie: by.cookie }, payload: { roles: ['MANAGER'] }
  })
  // B's request reads B's session, then A demotes B completely, then B's request goes on as the admin it was.
  let first: number | undefined
  pauseAfter(app.store, 'get')(async () => { first = (await demote(a, b)).statusCode })
  const late = await demote(b, a)
  t.equal(first, 200, 'A demoted B')
  t.equal(`${late.statusCode} ${String(late.json().error)}`, '403 FORBIDDEN', 'B, no longer an admin, cannot demote A')
  t.equal(await enabledAdmins(app, a.cookie), 1, 'A is still an administrator')
})

t.test('two admins disabling each other at once: one wins, the other gets 409, and an admin remains', async (t) => {
  const { app, admins } = await twoAdmins(t)
  const [a, b] = admins as [{ email: string, cookie: string }, { email: string, cookie: string }]
  const disable = async (by: typeof a, whom: typeof a) => await app.inject({
    method: 'POST', url: `/admin/users/${encodeURIComponent(whom.email)}/disable`, headers: { ...CSRF, cookie: by.cookie }, payload: {}
  })
  const answers = await Promise.all([disable(a, b), disable(b, a)])
  t.equal(answers.filter((r) => r.statusCode === 200).length, 1, 'exactly one was disabled')
  t.match(answers.filter((r) => r.statusCode !== 200).map((r) => `${r.statusCode} ${String(r.json().error)}`).join(), REFUSED)
  const winner = answers[0]!.statusCode === 200 ? a : b
  t.equal(await enabledAdmins(app, winner.cookie), 1, 'the winner is still an enabled administrator')
})

t.test('an admin who saves their own roles unchanged stays signed in', async (t) => {
  const { app, admins } = await twoAdmins(t)
  const [a] = admins as [{ email: string, cookie: string }]
  const saved = await app.inject({ method: 'PUT', url: `/admin/users/${encodeURIComponent(a.email)}/roles`, headers: { ...CSRF, cookie: a.cookie }, payload: { roles: ['ADMIN'] } })
  t.equal(saved.statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: a.cookie } })).statusCode, 200)
})

t.test('two routine changes at once both go through: one waits a moment for the other', async (t) => {
  const { app, admins, emulator } = await twoAdmins(t)
  const [a, b] = admins as [{ email: string, cookie: string }, { email: string, cookie: string }]
  const leaders = await Promise.all([0, 1].map(async () => await emulator.user(['LINE_LEADER'])))
  const disables = await Promise.all(leaders.map(async (email, i) => await app.inject({
    method: 'POST', url: `/admin/users/${encodeURIComponent(email)}/disable`, headers: { ...CSRF, cookie: [a, b][i]!.cookie }, payload: {}
  })))
  t.same(disables.map((r) => r.statusCode), [200, 200], 'two disables')
  const demotions = await Promise.all([a, b].map(async (by) => await app.inject({
    method: 'PUT', url: `/admin/users/${encodeURIComponent(by === a ? leaders[0]! : leaders[1]!)}/roles`, headers: { ...CSRF, cookie: by.cookie }, payload: { roles: ['MANAGER'] }
  })))
  t.same(demotions.map((r) => r.statusCode), [200, 200], 'two role changes that give no ADMIN')
})

t.test('a disable whose read of its target is slow cannot meet a promotion and a counter-disable and leave no admin', async (t) => {
  const cognito = await startFaultyCognito()
  const app = await testApp(cognito, { COGNITO_TIMEOUT_MS: '5000' })
  t.teardown(async () => { await app.close(); await cognito.stop() })
  const [xEmail, yEmail] = [await cognito.user(['ADMIN']), await cognito.user(['LINE_LEADER'])]
  const x = await signIn(app, xEmail, TEST_PASSWORD)
  const disable = async (cookie: string, email: string) => await app.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(email)}/disable`, headers: { ...CSRF, cookie }, payload: {} })
  // X starts disabling Y, a LINE_LEADER; the answer about Y's groups is late. Meanwhile Y is made ADMIN and disables X.
  cognito.lateAnswers(1500, 'AdminListGroupsForUser')
  const xDisablesY = disable(x.cookie, yEmail)
  await setTimeout(200)
  cognito.lateAnswers(0)
  await cognito.client.send(new AdminAddUserToGroupCommand({ UserPoolId: cognito.userPoolId, Username: yEmail, GroupName: 'ADMIN' }))
  const y = await signIn(app, yEmail, TEST_PASSWORD)
  const yDisablesX = await disable(y.cookie, xEmail)
  const first = await xDisablesY
  t.equal(first.statusCode, 200, 'X disabled Y')
  t.not(yDisablesX.statusCode, 200, 'Y, disabled meanwhile, could not disable X')
  const enabled = async (email: string) => (await cognito.client.send(new AdminGetUserCommand({ UserPoolId: cognito.userPoolId, Username: email }))).Enabled
  t.equal(await enabled(xEmail), true, 'an administrator remains')
})

t.test('an admin demoted while a promotion, an ADMIN invitation or an ADMIN\'s enabling of theirs was under way makes no one ADMIN', async (t) => {
  const emulator = await startEmulator()
  const app = await testApp(emulator)
  t.teardown(async () => { await app.close(); await emulator.stop() })
  const [aEmail, bEmail, accomplice, disabledAdmin] = [await emulator.user(['ADMIN']), await emulator.user(['ADMIN']), await emulator.user(['MANAGER']), await emulator.user(['ADMIN'])]
  await emulator.client.send(new AdminDisableUserCommand({ UserPoolId: emulator.userPoolId, Username: disabledAdmin }))
  const invitee = uniqueEmail('invitee')
  const a = (await signIn(app, aEmail, TEST_PASSWORD)).cookie
  const setRolesOfB = async (roles: string[]): Promise<number> =>
    (await app.inject({ method: 'PUT', url: `/admin/users/${encodeURIComponent(bEmail)}/roles`, headers: { ...CSRF, cookie: a }, payload: { roles } })).statusCode
  const lateRequests = [
    { label: 'a promotion', method: 'PUT' as const, url: `/admin/users/${encodeURIComponent(accomplice)}/roles`, payload: { roles: ['ADMIN'] } },
    { label: 'an ADMIN invitation', method: 'POST' as const, url: '/admin/users', payload: { email: invitee, roles: ['ADMIN'] } },
    { label: 'enabling a disabled ADMIN', method: 'POST' as const, url: `/admin/users/${encodeURIComponent(disabledAdmin)}/enable`, payload: {} }
  ]
  for (const late of lateRequests) {
    t.equal(await setRolesOfB(['ADMIN']), 200, 'B is an administrator')
    const b = (await signIn(app, bEmail, TEST_PASSWORD)).cookie
    // B's request reads B's session, then A demotes B, then B's request goes on as the admin it was.
    let demoted: number | undefined
    pauseAfter(app.store, 'get')(async () => { demoted = await setRolesOfB(['MANAGER']) })
    const response = await app.inject({ method: late.method, url: late.url, headers: { ...CSRF, cookie: b }, payload: late.payload })
    t.equal(demoted, 200, `${late.label}: A demoted B meanwhile`)
    t.equal(`${response.statusCode} ${String(response.json().error)}`, '403 FORBIDDEN', `${late.label}: B, no longer an admin, makes no one ADMIN`)
  }
  const admins = (await app.inject({ method: 'GET', url: '/admin/users?role=ADMIN&limit=60', headers: { cookie: a } })).json().users as Array<{ email: string, enabled: boolean }>
  t.same(admins.filter((user) => user.enabled).map((user) => user.email), [aEmail], 'A is the only enabled administrator: neither the accomplice nor the invitee became one, nor was the disabled one enabled')
})
