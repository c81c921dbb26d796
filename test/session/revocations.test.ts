// The local view of revocations and what the store keeps: what an instance learned was revoked outlasts any number of tokens found clear; a user's mark outlives the tokens it refuses.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { MemoryStore } from '../../src/store/shared-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { rawRedis, SHARED_REDIS_URL } from '../helpers/redis.js'
import { Revocations } from '../../src/session/revocations.js'
import type { AccessClaims } from '../../src/auth/token-verifier.js'

const now = Math.floor(Date.now() / 1000)
const claims = (jti: string, sub: string): AccessClaims => ({ sub, username: sub, groups: [], jti, iat: now - 10, exp: now + 3600 })
/** An access token as the adapter holds one: only its payload is read to revoke it. */
const token = (jti: string): string => `x.${Buffer.from(JSON.stringify({ jti, iat: now - 10, exp: now + 3600 })).toString('base64url')}.y`

t.test('a revoked token stays refused after the store lost it, however many clear tokens were checked since', async (t) => {
  const store = new MemoryStore()
  t.teardown(async () => { await store.close() })
  const revocations = new Revocations(store, 3600)
  await revocations.ready()
  await revocations.revokeToken(token('signed-out'))
  // The store forgets it, as a Redis without persistence does when it restarts.
  await store.delete('revoked-jti:signed-out')
  t.equal(await revocations.isRevoked(claims('signed-out', 'victim')), true, 'refused from what this instance learned')
  // More distinct clear tokens than the view holds of them, checked in bounded batches.
  for (let batch = 0; batch < 60_000; batch += 1000) {
    await Promise.all(Array.from({ length: 1000 }, async (_, i) => await revocations.isRevoked(claims(`clear-${batch + i}`, `user-${(batch + i) % 100}`))))
  }
  t.equal(await revocations.isRevoked(claims('signed-out', 'victim')), true, 'still refused')
})

t.test('a user\'s mark lives in the store as long as the last token it refuses verifies: issued the second before it, for a day, then the grace', async (t) => {
  const store = new RedisStore(SHARED_REDIS_URL)
  const redis = await rawRedis()
  t.teardown(async () => {
    await store.close()
    redis.disconnect()
  })
  const revocations = new Revocations(store, 3600)
  await revocations.ready()
  const sub = `mark-${randomUUID()}`
  const passesFrom = await revocations.revokeUser(sub)
  // The longest-lived token the mark refuses: Cognito's longest access token (a day), accepted TOKEN_GRACE_SECONDS (at
  // most 60) past its exp.
  const lastVerifies = passesFrom / 1000 - 1 + 24 * 3600 + 60
  const ttl = await redis.ttl(`ims:user-not-before:${sub}`)
  t.ok(Date.now() / 1000 + ttl >= lastVerifies, `the mark outlives it (${ttl} s left; ${Math.ceil(lastVerifies - Date.now() / 1000)} s needed)`)
  await redis.del(`ims:user-not-before:${sub}`)
})
