// Redis for tests: the machine's shared server (required, never skipped), a link to it that can be cut, and private redis-server children.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, rm } from 'node:fs/promises'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './ports.js'
import type { TestCertificate } from './tls.js'

/** The machine's Redis, which every machine of this project runs. */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379'

/**
 * A plain client of `url` (no key prefix) that reads what the adapter wrote. Throws a clear error when Redis does not
 * answer, so a test that needs Redis fails instead of skipping.
 */
export async function rawRedis (url = SHARED_REDIS_URL): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
  } catch {
    redis.disconnect()
    throw new Error(`These tests need Redis at ${url}; it does not answer (start redis-server).`)
  }
  return redis
}

/** A redis-server of the test's own on a fixed loopback port, which the test may kill and start again. */
export interface OwnRedis {
  url: string
  port: number
  start: () => Promise<void>
  /** SIGKILLs the server (no persistence: its data is gone). */
  kill: () => Promise<void>
}

/** What a private redis-server asks of its clients, besides a connection. */
export interface OwnRedisOptions {
  /** A node of a Redis Cluster (cluster mode enabled). */
  cluster?: boolean
  /** More redis-server arguments. */
  settings?: readonly string[]
  /** The password of its default user (requirepass, as an ElastiCache AUTH token); `url` carries it. */
  password?: string
  /** Speaks TLS only, with this certificate (as ElastiCache with in-transit encryption); `url` is then rediss://. */
  tls?: TestCertificate
}

/**
 * Prepares (and starts) a private redis-server on a free port: no persistence, loopback only, its working files (what
 * a replica receives in a sync, a cluster node's file) in a temp dir of its own that `kill` removes.
 */
export async function ownRedis ({ cluster = false, settings = [], password, tls }: OwnRedisOptions = {}): Promise<OwnRedis> {
  const port = await freePort()
  const dir = join(tmpdir(), `ims-redis-${port}-${process.pid}`)
  const listen = tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-auth-clients', 'no']
  // A replica's first sync starts at once (Redis waits 5 s by default, for more replicas to share it).
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync-delay', '0',
    ...cluster ? ['--cluster-enabled', 'yes'] : [], ...password === undefined ? [] : ['--requirepass', password], ...settings]
  let child: ChildProcess | undefined
  const own: OwnRedis = {
    url: `${tls === undefined ? 'redis' : 'rediss'}://${password === undefined ? '' : `:${password}@`}127.0.0.1:${port}`,
    port,
    start: async () => {
      await mkdir(dir, { recursive: true })
      child = spawn('redis-server', args, { stdio: 'ignore' })
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`redis-server exited at start-up (code ${child.exitCode})`)
        const probe = new Redis(own.url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 200, ...tls === undefined ? {} : { tls: { ca: tls.cert } } })
        probe.on('error', () => {})
        const up = await probe.connect().then(async () => await probe.ping()).then(() => true, () => false)
        probe.disconnect()
        if (up) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`redis-server did not answer on port ${port}`)
    },
    kill: async () => {
      if (child === undefined || child.exitCode !== null) return
      const exited = new Promise((resolve) => child!.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
      await rm(dir, { recursive: true, force: true })
    }
  }
  await own.start()
  return own
}

/** Makes `server` a replica of the server on `port`, or a primary (`undefined`); with `sync`, waits until it is in sync. */
export async function replicate (server: OwnRedis, port: number | undefined, { sync = true } = {}): Promise<void> {
  const redis = await rawRedis(server.url)
  try {
    if (port === undefined) {
      await redis.replicaof('NO', 'ONE')
      return
    }
    await redis.replicaof('127.0.0.1', port)
    if (!sync) return
    for (let attempt = 0; attempt < 100; attempt++) {
      if (/master_link_status:up/.test(await redis.info('replication'))) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`the server on ${server.port} did not sync with ${port}`)
  } finally {
    redis.disconnect()
  }
}

/**
 * A loopback TCP link to a Redis (the shared one unless `port` says) that a test can cut without closing anything, as a
 * lost network path does: once cut, bytes stay held both ways (nothing arrives, no FIN, no RST). `heal` delivers them
 * late and in order, as TCP does when the path returns; `reset` drops the held connections instead (their bytes are
 * lost). `retarget` sends the connections opened from then on to another server, as a failover's DNS change does.
 */
export interface RedisLink {
  url: string
  retarget: (port: number) => void
  /** Cuts the connections open now; with `newOnes`, also those opened from now on. */
  cut: (options?: { newOnes?: boolean }) => void
  heal: () => void
  reset: () => void
  close: () => Promise<void>
}

export async function redisLink ({ port = 6379 } = {}): Promise<RedisLink> {
  interface Pipe { client: Socket, upstream: Socket, cut: boolean, held: Array<{ to: Socket, data: Buffer }> }
  const pipes = new Set<Pipe>()
  let cutNewOnes = false
  let target = port
  const server = createServer((client) => {
    const pipe: Pipe = { client, upstream: connect(target, '127.0.0.1'), cut: cutNewOnes, held: [] }
    pipes.add(pipe)
    const forward = (to: Socket) => (data: Buffer) => { if (pipe.cut) pipe.held.push({ to, data }); else to.write(data) }
    client.on('data', forward(pipe.upstream))
    pipe.upstream.on('data', forward(client))
    for (const socket of [client, pipe.upstream]) {
      socket.on('error', () => {})
      socket.on('close', () => { client.destroy(); pipe.upstream.destroy(); pipes.delete(pipe) })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const destroyAll = (): void => { for (const pipe of pipes) { pipe.client.destroy(); pipe.upstream.destroy() } }
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    retarget: (next) => { target = next },
    cut: ({ newOnes = false } = {}) => {
      cutNewOnes = newOnes
      for (const pipe of pipes) pipe.cut = true
    },
    heal: () => {
      cutNewOnes = false
      for (const pipe of pipes) {
        pipe.cut = false
        for (const { to, data } of pipe.held.splice(0)) to.write(data)
      }
    },
    reset: () => {
      cutNewOnes = false
      destroyAll()
    },
    close: async () => {
      destroyAll()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
