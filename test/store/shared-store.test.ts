// The SharedStore contract on both stores (memory, and the machine's real Redis), the channel, and Redis failing fast.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createServer, type Socket } from 'node:net'
import { MemoryStore, type SharedStore } from '../../src/store/shared-store.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { AppError } from '../../src/errors.js'
import { ConfigError } from '../../fastify.config.js'
import { rawRedis, SHARED_REDIS_URL } from '../helpers/redis.js'
import { freePort } from '../helpers/ports.js'

const stores: Array<[string, () => SharedStore]> = [['memory', () => new MemoryStore()], ['redis', () => new RedisStore(SHARED_REDIS_URL)]]

t.before(async () => { (await rawRedis()).disconnect() })

for (const [name, make] of stores) {
  t.test(`${name}: values, one-time values, sets and expiry`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    await store.ping()
    const key = `test:${randomUUID()}`
    t.equal(await store.get(key), undefined)
    await store.set(key, { a: 1, list: ['x'] }, 60)
    t.same(await store.get(key), { a: 1, list: ['x'] })
    t.same(await store.take(key), { a: 1, list: ['x'] })
    t.equal(await store.take(key), undefined, 'a taken value is gone')
    const once = `test-once:${randomUUID()}`
    const claims = await Promise.all([store.setIfAbsent(once, 1, 60), store.setIfAbsent(once, 2, 60), store.setIfAbsent(once, 3, 60)])
    t.same(claims.filter(Boolean).length, 1, 'of three concurrent claims exactly one wins')
    t.equal(await store.replace(once, 9, 60), true, 'a present key is replaced')
    t.equal(await store.get(once), 9)
    await store.delete(once)
    t.equal(await store.replace(once, 10, 60), false, 'a deleted key is not brought back')
    t.equal(await store.get(once), undefined)
    const checked = `test-cas:${randomUUID()}`
    await store.set(checked, { n: 1, list: ['a'] }, 60)
    const read = await store.get(checked)
    t.equal(await store.replaceIfUnchanged(checked, read, { n: 2, list: ['a'] }, 60), true, 'unchanged since the read: replaced')
    t.equal(await store.replaceIfUnchanged(checked, read, { n: 3, list: ['a'] }, 60), false, 'changed since the read: left alone')
    t.same(await store.get(checked), { n: 2, list: ['a'] })
    const again = await store.get(checked)
    await store.delete(checked)
    t.equal(await store.replaceIfUnchanged(checked, again, { n: 4, list: ['a'] }, 60), false, 'deleted since the read: stays deleted')
    t.equal(await store.get(checked), undefined)
    const lock = `test-lock:${randomUUID()}`
    t.equal(await store.setIfAbsent(lock, 'owner-1', 60), true)
    t.equal(await store.deleteIfHolds(lock, 'owner-2'), false, 'another owner cannot release it')
    t.equal(await store.get(lock), 'owner-1')
    t.equal(await store.deleteIfHolds(lock, 'owner-1'), true, 'its owner releases it')
    t.equal(await store.get(lock), undefined)
    t.equal(await store.deleteIfHolds(lock, 'owner-1'), false, 'released once')
    await store.set(key, 1, 1)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    t.equal(await store.get(key), undefined, 'expired')

    const set = `test-set:${randomUUID()}`
    t.equal(await store.addToSet(set, 'one', 60), 1)
    t.equal(await store.addToSet(set, 'two', 1), 2, 'adding answers the count')
    await new Promise((resolve) => setTimeout(resolve, 1100))
    t.same(await store.members(set), ['one'], 'each member lapses on its own')
    t.equal(await store.addToSet(set, 'three', 60), 2, 'and lapsed members no longer count')
    await store.removeFromSet(set, 'one')
    t.same(await store.members(set), ['three'])
    await store.delete(set, key)
    t.same(await store.members(set), [])
    const group = `test-set:${randomUUID()}`
    const counts = await Promise.all(['a', 'b', 'c', 'd'].map(async (member) => await store.addToSet(group, member, 60)))
    t.same([...counts].sort(), [1, 2, 3, 4], 'each of four concurrent adds sees a different count')

    const written = `test-key:${randomUUID()}`
    t.equal(await store.setThenAddToSet(written, { n: 1 }, 60, group, 'e', 1), 5, 'a write then an add answers the count')
    t.same(await store.get(written), { n: 1 }, 'and the value is written')
    await new Promise((resolve) => setTimeout(resolve, 1100))
    t.same((await store.members(group)).sort(), ['a', 'b', 'c', 'd'], 'the member lapses on its own')
    await store.delete(written, group)
  })

  t.test(`${name}: a channel message reaches every subscriber with its record written`, async (t) => {
    const first = make()
    const second = name === 'memory' ? first : make()
    t.teardown(async () => { await first.close(); if (second !== first) await second.close() })
    const channelName = `test-${randomUUID()}`
    const sender = first.channel(channelName)
    const receiver = second.channel(channelName)
    t.ok(await sender.whenLive(3000), 'sender live')
    t.ok(await receiver.whenLive(3000), 'receiver live')
    const heard: string[] = []
    receiver.onMessage((message) => heard.push(message))
    const key = `test:${randomUUID()}`
    await sender.publish('hello', { key, value: { n: 1 }, ttlSeconds: 60 })
    // publish resolves once the message came back to the sender: the receiver has been sent it too.
    for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    t.same(heard, ['hello'])
    t.same(await second.get(key), { n: 1 }, 'the record was written with the message')
    await first.delete(key)
  })

  t.test(`${name}: an increasing record never moves back, whichever instance writes it last`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const channel = store.channel(`test-${randomUUID()}`)
    await channel.whenLive(3000)
    const key = `test-mark:${randomUUID()}`
    await channel.publish('mark', { key, value: 1000, ttlSeconds: 60, increasing: true })
    await channel.publish('mark', { key, value: 970, ttlSeconds: 60, increasing: true })
    t.equal(await store.get(key), 1000, 'a smaller mark, from a clock behind, leaves the larger one')
    await channel.publish('mark', { key, value: 1010, ttlSeconds: 60, increasing: true })
    t.equal(await store.get(key), 1010, 'a larger one replaces it')
    await store.delete(key)
  })
}

t.test('redis: refused connections fail fast with UPSTREAM_UNAVAILABLE, never hang', async (t) => {
  const store = new RedisStore(`redis://127.0.0.1:${await freePort()}`)
  t.teardown(async () => { await store.close() })
  for (let i = 0; i < 2; i++) {
    const started = performance.now()
    const error = await store.get('anything').catch((e: unknown) => e)
    t.ok(error instanceof AppError && error.code === 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE')
    t.ok(performance.now() - started < 2000, `within 2 s (${Math.round(performance.now() - started)} ms)`)
  }
  t.equal(store.channel('x').live, false, 'the channel is not live')
})

t.test('redis: a server that accepts but never answers fails within the command deadline', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => { sockets.add(socket) })
  const port = await freePort()
  await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve))
  const store = new RedisStore(`redis://127.0.0.1:${port}`)
  t.teardown(async () => {
    await store.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })
  const started = performance.now()
  const error = await store.set('anything', 1, 10).catch((e: unknown) => e)
  t.ok(error instanceof AppError && error.code === 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE')
  t.ok(performance.now() - started < 3000, `within 3 s (${Math.round(performance.now() - started)} ms)`)
})

t.test('redis: a server older than Redis 7 is refused at start-up with a sentence naming REDIS_URL', async (t) => {
  // No Redis 6 can run on this machine: a loopback server that speaks just enough of the protocol to say it is one.
  const info = 'redis_version:6.2.14\r\nloading:0\r\ncluster_enabled:0\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n'
  const sockets = new Set<Socket>()
  const old = createServer((socket) => {
    sockets.add(socket)
    let pending = ''
    socket.on('data', (data) => {
      pending += data.toString('latin1')
      // Each command is an array of bulk strings; INFO gets the text above, anything else +OK.
      for (let command = /^\*(\d+)\r\n/.exec(pending); command !== null; command = /^\*(\d+)\r\n/.exec(pending)) {
        let at = command[0].length
        const args: string[] = []
        for (let i = 0; i < Number(command[1]); i++) {
          const length = /^\$(\d+)\r\n/.exec(pending.slice(at))
          if (length === null || pending.length < at + length[0].length + Number(length[1]) + 2) return
          args.push(pending.slice(at + length[0].length, at + length[0].length + Number(length[1])))
          at += length[0].length + Number(length[1]) + 2
        }
        pending = pending.slice(at)
        socket.write(args[0]?.toUpperCase() === 'INFO' ? `$${info.length}\r\n${info}\r\n` : '+OK\r\n')
      }
    })
  })
  const port = await freePort()
  await new Promise<void>((resolve) => old.listen(port, '127.0.0.1', resolve))
  const store = new RedisStore(`redis://127.0.0.1:${port}`)
  t.teardown(async () => {
    await store.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => old.close(resolve))
  })
  const refusal = await store.ready().then(() => undefined, (error: unknown) => error)
  t.ok(refusal instanceof ConfigError, 'a ConfigError, which stops start-up')
  t.equal((refusal as Error).message, "REDIS_URL's server runs Redis 6.2.14; the session store needs Redis 7.0 or later, or Valkey (it uses PEXPIRE's NX and GT options).")
})

t.test('redis: the machine\'s Redis (7 or later, no cluster, no eviction) is accepted', async (t) => {
  const store = new RedisStore(SHARED_REDIS_URL)
  t.teardown(async () => { await store.close() })
  await t.resolves(store.ready())
})
