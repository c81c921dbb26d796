// Finds free loopback ports for the parts a test starts.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'

/** Where test ports are drawn from: above the usual services' ports (PostgreSQL, Redis, RabbitMQ, NATS...). */
const LOWEST = 10_000
/** Linux's first port for outgoing connections when its setting cannot be read (macOS starts higher still). */
const EPHEMERAL_START = 32_768

/** Ports handed out already in this process: two parts of one test never get the same port. */
const handedOut = new Set<number>()

/**
 * The first port the OS gives outgoing connections their local end from. A port picked inside that range (as
 * `listen(0)` picks) can be taken by any connection the test or the server under test opens before the server binds
 * it: `npm start` then refuses its busy PORT, as it should, and the test fails for nothing.
 */
async function ephemeralStart (): Promise<number> {
  try {
    const first = Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0])
    return Number.isInteger(first) && first > LOWEST ? first : EPHEMERAL_START
  } catch {
    return EPHEMERAL_START
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago, below the ones outgoing connections take, and new to this process. */
export async function freePort (): Promise<number> {
  const below = await ephemeralStart()
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (below - LOWEST))
    if (handedOut.has(port) || !await portFree(port)) continue
    handedOut.add(port)
    return port
  }
  throw new Error(`no free port on 127.0.0.1 between ${LOWEST} and ${below}`)
}

/** Whether `port` on 127.0.0.1 is free to listen on. */
export async function portFree (port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => { resolve(false) }).listen(port, '127.0.0.1', () => { probe.close(() => { resolve(true) }) })
  })
}
