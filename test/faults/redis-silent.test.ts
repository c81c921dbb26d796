// A Redis node that vanishes without closing its connections (no FIN, no RST): the store makes new ones by itself.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { RedisStore } from '../../src/store/redis-store.js'
import { redisLink } from '../helpers/redis.js'

t.test('connections that go silent are replaced: the store answers again, and the change channel is live again', async (t) => {
  // Once cut, the connections already open swallow every byte both ways, while new connections go through (the
  // replacement node is up).
  const link = await redisLink()
  const store = new RedisStore(link.url)
  const channel = store.channel('silent-test')
  t.teardown(async () => {
    await store.close()
    await link.close()
  })
  await store.ping()
  await channel.whenLive(2000)
  t.ok(channel.live, 'live before')
  link.cut()
  await t.rejects(store.ping(), 'a command on a silent connection fails')
  let answered = false
  for (let attempt = 0; attempt < 40 && !(answered && channel.live); attempt++) {
    await sleep(250)
    answered = await store.ping().then(() => true, () => false)
  }
  t.ok(answered, 'the store answers again within 10 s')
  t.ok(channel.live, 'and the change channel is live again')
})
