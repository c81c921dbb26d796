// Finds free loopback ports for the parts a test starts.
import { createServer } from 'node:net'

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** Whether `port` on 127.0.0.1 is free to listen on. */
export async function portFree (port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => { resolve(false) }).listen(port, '127.0.0.1', () => { probe.close(() => { resolve(true) }) })
  })
}
