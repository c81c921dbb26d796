// The pool always keeps an enabled administrator: two admins demoting or disabling each other at once cannot both win.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../../helpers/emulator.js'
import { CSRF, signIn, testApp } from '../../helpers/app.js'

/** A pool of its own holding exactly two administrators, both signed in. */
async function twoAdmins (t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ app: FastifyInstance, admins: Array<{ email: string, cookie: string }> }> {
  const emulator: Emulator = await startEmulator()
  const app = await testApp(emulator)
  t.teardown(async () => { await app.close(); await emulator.stop() })
  const admins = await Promise.all([0, 1].map(async () => {
    const email = await emulator.user(['ADMIN'])
    return { email, cookie: (await signIn(app, email, TEST_PASSWORD)).cookie }
  }))
  return { app, admins }
}

/** How many of the pool's ADMIN members are enabled, as an admin sees them. */
async function enabledAdmins (app: FastifyInstance, cookie: string): Promise<number> {
  const page = await app.inject({ method: 'GET', url: '/admin/users?role=ADMIN', headers: { cookie } })
  return (page.json().users as Array<{ enabled: boolean }>).filter((user) => user.enabled).length
}

t.test('two admins demoting each other at once: one wins, the other gets 409, and an admin remains', async (t) => {
  const { app, admins } = await twoAdmins(t)
  const [a, b] = admins as [{ email: string, cookie: string }, { email: string, cookie: string }]
  const demote = async (by: typeof a, whom: typeof a) => await app.inject({
    method: 'PUT', url: `/admin/users/${encodeURIComponent(whom.email)}/roles`, headers: { ...CSRF, cookie: by.cookie }, payload: { roles: ['MANAGER'] }
  })
  const answers = await Promise.all([demote(a, b), demote(b, a)])
  t.same(answers.map((r) => r.statusCode).sort(), [200, 409], 'exactly one demotion happened')
  t.equal(answers.find((r) => r.statusCode === 409)?.json().error, 'CONFLICT')
  const winner = answers[0]!.statusCode === 200 ? a : b
  t.equal(await enabledAdmins(app, winner.cookie), 1, 'the winner is still an administrator')
})

t.test('two admins disabling each other at once: one wins, the other gets 409, and an admin remains', async (t) => {
  const { app, admins } = await twoAdmins(t)
  const [a, b] = admins as [{ email: string, cookie: string }, { email: string, cookie: string }]
  const disable = async (by: typeof a, whom: typeof a) => await app.inject({
    method: 'POST', url: `/admin/users/${encodeURIComponent(whom.email)}/disable`, headers: { ...CSRF, cookie: by.cookie }, payload: {}
  })
  const answers = await Promise.all([disable(a, b), disable(b, a)])
  t.same(answers.map((r) => r.statusCode).sort(), [200, 409], 'exactly one was disabled')
  const winner = answers[0]!.statusCode === 200 ? a : b
  t.equal(await enabledAdmins(app, winner.cookie), 1, 'the winner is still an enabled administrator')
})
