// Sessions that end while a request is still working on them stay ended: no refresh or rotation brings them back.
// Sessions that move while a request is still working on them are followed: a late refresh gets where they went.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { MemoryStore } from '../../src/store/shared-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { SessionManager, type Session } from '../../src/session/sessions.js'
import { Sealer } from '../../src/session/sealing.js'
import { AppError } from '../../src/errors.js'
import { SHARED_REDIS_URL } from '../helpers/redis.js'
import { pauseAfter } from '../helpers/pause-after.js'

const limits = { idleSeconds: 3600, absoluteSeconds: 43200, challengeSeconds: 180, maxPerUser: 50 }
const fields = { sub: 'sub-1', username: 'u', email: null, groups: ['MANAGER'], accessToken: 'a.b.c', refreshToken: 'r', accessExpiresAt: Date.now() + 3600_000 }

/** The live sessions among `ids`. */
async function liveIds (sessions: SessionManager, ids: Array<string | undefined>): Promise<string[]> {
  const found = await Promise.all(ids.map(async (id) => await sessions.find(id)))
  return found.filter((s): s is Session => s !== undefined).map((s) => s.id)
}

for (const [name, make] of [['memory', () => new MemoryStore()], ['redis', () => new RedisStore(SHARED_REDIS_URL)]] as const) {
  t.test(`${name}: a refresh or a rotation finishing after the sign-out does not revive the session`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), limits)
    const session = await sessions.create({ ...fields, sub: `sub-${randomBytes(4).toString('hex')}` })
    await sessions.destroy(session.id, session.record)
    const late = await sessions.update(session, { accessToken: 'x.y.z', accessExpiresAt: Date.now() + 3600_000, groups: ['MANAGER'] }).then(() => undefined, (error: unknown) => error)
    t.ok(late instanceof AppError && late.code === 'UNAUTHENTICATED', 'the late refresh is refused')
    t.equal(await sessions.find(session.id), undefined, 'and the session stays ended')
    const rotated = await sessions.rotate(session).then(() => undefined, (error: unknown) => error)
    t.ok(rotated instanceof AppError && rotated.code === 'UNAUTHENTICATED', 'an ended session cannot be rotated into a new id')

    const live = await sessions.create({ ...fields, sub: `sub-${randomBytes(4).toString('hex')}` })
    const [first, second] = await Promise.all([sessions.rotate(live), sessions.rotate(live)])
    t.equal(first.id, second.id, 'two concurrent rotations answer one and the same new id')
    t.same(await liveIds(sessions, [live.id, first.id]), [first.id], 'it works, and the old id is gone')
  })

  t.test(`${name}: a refresh that finishes after another moved the session gets the id it moved to, until that one ends`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), limits)
    const session = await sessions.create({ ...fields, sub: `sub-${randomBytes(4).toString('hex')}` })
    const late = { accessToken: 'late.access.token', accessExpiresAt: Date.now() + 3600_000, groups: ['MANAGER'] }
    // One tab's refresh (on one instance) moves the session; the other's, still at Cognito then, finishes after.
    const moved = await sessions.rotate(session)
    const refreshed = await sessions.update(session, late)
    t.equal(refreshed.record.accessToken, moved.record.accessToken, 'the late refresh goes on with the tokens the move kept')
    const rotated = await sessions.rotate(refreshed)
    t.equal(rotated.id, moved.id, 'and is answered the id the session moved to')
    t.same(await liveIds(sessions, [session.id, moved.id]), [moved.id], 'which works; the old id does not')
    t.ok(await sessions.movedRecently(session.id), 'the old id is known to have moved (its cookie is not cleared)')

    // Signed out under its new id: a refresh that read the old id before the move, finishing now, brings nothing back.
    await sessions.destroy(moved.id, moved.record)
    const refused = await Promise.all([sessions.update(session, late), sessions.rotate(session)].map(async (p) => await p.then(() => undefined, (error: unknown) => error)))
    for (const error of refused) t.ok(error instanceof AppError && error.code === 'UNAUTHENTICATED', 'the late refresh is refused')
    t.same(await liveIds(sessions, [session.id, moved.id]), [], 'and neither id lives')
  })

  t.test(`${name}: wrong answers do not keep a pending challenge past the time it was first given`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), { ...limits, challengeSeconds: 2 })
    const pending = { challenge: 'SOFTWARE_TOKEN_MFA' as const, cognitoName: 'SOFTWARE_TOKEN_MFA', cognitoSession: 'cognito-session', username: 'u', details: {}, startedAt: Date.now() }
    const id = await sessions.saveChallenge(pending)
    await new Promise((resolve) => setTimeout(resolve, 1200))
    // A wrong answer, as /auth/challenge handles one: taken, then kept again under its id with the attempt counted.
    const taken = (await sessions.takeChallenge(id))!
    t.equal(taken.attempts, 0)
    await sessions.saveChallenge(taken, { attempts: 1, id, expiresAt: taken.expiresAt })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    t.equal(await sessions.takeChallenge(id), undefined, 'gone 2.2 s after it was first saved, though answered at 1.2 s')
    await sessions.saveChallenge(taken, { attempts: 2, id, expiresAt: taken.expiresAt })
    t.equal(await sessions.takeChallenge(id), undefined, 'and saving it again after its end keeps nothing')
  })

  t.test(`${name}: a sign-out that read the session before a refresh moved it to a new id ends the new id too`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), limits)
    const session = await sessions.create({ ...fields, sub: `sub-${randomBytes(4).toString('hex')}` })
    const pauseAfterMove = pauseAfter(store, 'replaceIfUnchanged')
    // The sign-out lands just after the rotation moved the old id, holding what it read before.
    pauseAfterMove(async () => { await sessions.destroy(session.id, session.record) })
    const moved = await sessions.rotate(session)
    t.same(await liveIds(sessions, [session.id, moved.id]), [], 'neither the old id nor the one the refresh moved it to lives on')
  })

  t.test(`${name}: a session's "last seen" write does not undo a refresh that wrote new tokens meanwhile`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    // An idle limit of 10 s: "last seen" is written at most once a second.
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), { ...limits, idleSeconds: 10 })
    const session = await sessions.create({ ...fields, sub: `sub-${randomBytes(4).toString('hex')}` })
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const pauseAfterGet = pauseAfter(store, 'get')
    // The refresh lands between the read of a request that is about to write "last seen" and that write.
    pauseAfterGet(async () => await sessions.update(session, { accessToken: 'new.access.token', accessExpiresAt: Date.now() + 3600_000, groups: ['MANAGER'], refreshToken: 'r-new' }))
    const seen = await sessions.find(session.id)
    t.equal(seen?.record.accessToken, 'new.access.token', 'the request goes on with the refreshed tokens')
    const now = await sessions.find(session.id)
    t.equal(now?.record.accessToken, 'new.access.token', 'and the store keeps them')
    t.equal(sessions.refreshToken(now!.record), 'r-new', 'the new refresh token too')
  })

  t.test(`${name}: a user's list of sessions forgets those past their absolute lifetime`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), { ...limits, absoluteSeconds: 1 })
    const sub = `sub-${randomBytes(4).toString('hex')}`
    for (let i = 0; i < 3; i++) await sessions.create({ ...fields, sub })
    t.equal((await store.members(`session-list:${sub}`)).length, 3)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await sessions.create({ ...fields, sub })
    t.equal((await store.members(`session-list:${sub}`)).length, 1, 'the three that lapsed are no longer listed, the new one is')
  })

  t.test(`${name}: ending every session of a user while one of them is rotated leaves none alive`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const sessions = new SessionManager(store, new Sealer(randomBytes(32).toString('hex')), limits)
    const user = { ...fields, sub: `sub-${randomBytes(4).toString('hex')}` }

    // The user's sessions are ended just after the rotation moved the old id.
    const pauseAfterMove = pauseAfter(store, 'replaceIfUnchanged')
    const first = await sessions.create(user)
    pauseAfterMove(async () => await sessions.destroyUser(user.sub))
    const rotated = await sessions.rotate(first).catch(() => undefined)
    t.same(await liveIds(sessions, [first.id, rotated?.id]), [], 'neither the old nor the new id works')

    // The rotation runs whole just after the ending read which sessions the user has.
    const pauseAfterMembers = pauseAfter(store, 'members')
    const second = await sessions.create(user)
    let moved: Session | undefined
    pauseAfterMembers(async () => { moved = await sessions.rotate(second) })
    await sessions.destroyUser(user.sub)
    t.ok(moved, 'the rotation went through')
    t.same(await liveIds(sessions, [second.id, moved?.id]), [], 'and its new id was ended too')
  })
}
