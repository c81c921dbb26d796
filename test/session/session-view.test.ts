// The local view of Redis sessions: remembered only from clean reads, dropped everywhere on change, unused when not live.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { RedisStore } from '../../src/store/redis-store.js'
import { SessionView } from '../../src/session/session-view.js'
import { rawRedis, SHARED_REDIS_URL } from '../helpers/redis.js'
import { freePort } from '../helpers/ports.js'

t.before(async () => { (await rawRedis()).disconnect() })

/** Two instances' views on one Redis channel, live. */
async function twoViews (t: Test): Promise<{ a: SessionView<string>, b: SessionView<string>, name: string }> {
  const name = `view-test-${randomUUID()}`
  const stores = [new RedisStore(SHARED_REDIS_URL), new RedisStore(SHARED_REDIS_URL)]
  t.teardown(async () => { for (const store of stores) await store.close() })
  const channels = stores.map((store) => store.channel(name))
  for (const channel of channels) t.ok(await channel.whenLive(3000), 'the channel is live')
  return { a: new SessionView<string>(channels[0]!), b: new SessionView<string>(channels[1]!), name }
}

t.test('a clean read is remembered; a change published by another instance drops it there at once', async (t) => {
  const { a, b } = await twoViews(t)
  const key = `session:${randomUUID()}`
  a.remember(key, 'record 1', a.mark())
  t.equal(a.get(key), 'record 1')
  await b.invalidate([key])
  t.equal(a.get(key), undefined, 'gone from A once B\'s invalidation has resolved')
})

t.test('a read during which any change arrived is not remembered (its answer may predate the change)', async (t) => {
  const { a, b } = await twoViews(t)
  const key = `session:${randomUUID()}`
  const other = `session:${randomUUID()}`
  a.remember(other, 'another session', a.mark())
  const mark = a.mark()
  await b.invalidate([other])
  for (let i = 0; i < 100 && a.get(other) !== undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(a.get(other), undefined, 'A has heard of the change')
  a.remember(key, 'read before the change', mark)
  t.equal(a.get(key), undefined)
  a.remember(key, 'read after it', a.mark())
  t.equal(a.get(key), 'read after it')
})

t.test('invalidating drops the keys on this instance at once, without waiting for the echo', async (t) => {
  const { a } = await twoViews(t)
  const keys = [`session:${randomUUID()}`, `session:${randomUUID()}`]
  for (const key of keys) a.remember(key, key, a.mark())
  const pending = a.invalidate(keys)
  t.same(keys.map((key) => a.get(key)), [undefined, undefined])
  await pending
})

t.test('with no live channel (Redis unreachable) nothing is remembered or served', async (t) => {
  const store = new RedisStore(`redis://127.0.0.1:${await freePort()}`)
  t.teardown(async () => { await store.close() })
  const view = new SessionView<string>(store.channel('sessions'))
  const key = `session:${randomUUID()}`
  view.remember(key, 'record', view.mark())
  t.equal(view.get(key), undefined)
})
