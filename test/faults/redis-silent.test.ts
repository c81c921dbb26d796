// A Redis node that vanishes without closing its connections (no FIN, no RST): the store makes new ones by itself.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { RedisStore } from '../../src/store/redis-store.js'

t.test('connections that go silent are replaced: the store answers again, and the change channel is live again', async (t) => {
  // A loopback proxy to the shared Redis: once `silent`, the connections already open swallow every byte both ways,
  // while new connections go through (the replacement node is up).
  let silent = false
  const open = new Set<Socket>()
  const proxy = createServer((client) => {
    const upstream = connect(6379, '127.0.0.1')
    const wasOpenBefore = (): boolean => silent && open.has(client)
    client.on('data', (data) => { if (!wasOpenBefore()) upstream.write(data) })
    upstream.on('data', (data) => { if (!wasOpenBefore()) client.write(data) })
    for (const socket of [client, upstream]) socket.on('error', () => {})
    client.on('close', () => { upstream.destroy(); open.delete(client) })
    upstream.on('close', () => client.destroy())
    if (!silent) open.add(client)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const store = new RedisStore(`redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`)
  const channel = store.channel('silent-test')
  t.teardown(async () => {
    await store.close()
    for (const socket of open) socket.destroy()
    proxy.close()
  })
  await store.ping()
  await channel.whenLive(2000)
  t.ok(channel.live, 'live before')
  silent = true
  await t.rejects(store.ping(), 'a command on a silent connection fails')
  let answered = false
  for (let attempt = 0; attempt < 40 && !(answered && channel.live); attempt++) {
    await sleep(250)
    answered = await store.ping().then(() => true, () => false)
  }
  t.ok(answered, 'the store answers again within 10 s')
  t.ok(channel.live, 'and the change channel is live again')
})
