// Redis for tests: the machine's shared server (required, never skipped), and private redis-server children for faults.
import { spawn, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort } from './ports.js'

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

/** Prepares (and starts) a private redis-server on a free port: no persistence, loopback only. */
export async function ownRedis (): Promise<OwnRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    start: async () => {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`redis-server exited at start-up (code ${child.exitCode})`)
        const probe = new Redis(own.url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 200 })
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
    }
  }
  await own.start()
  return own
}
