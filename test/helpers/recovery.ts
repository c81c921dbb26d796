// Helpers for the recovery and throttling tests: unconfirmed users, waiting for a background send, a throttling Cognito.
import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { SignUpCommand } from '@aws-sdk/client-cognito-identity-provider'
import { hashUsername } from '../../src/plugins/audit.js'
import { subkey } from '../../src/session/keys.js'
import { TEST_PASSWORD, uniqueEmail, type Emulator } from './emulator.js'
import type { LogCapture } from './app.js'
import { freePort } from './ports.js'

/** A fixed session key, so tests can recognise a user's hashed name in audit lines. */
export const TEST_SESSION_KEY = 'ab'.repeat(32)

/** Signs a user up through Cognito (self sign-up) and leaves it unconfirmed; returns its email. */
export async function unconfirmedUser (emulator: Emulator, password = TEST_PASSWORD): Promise<string> {
  const email = uniqueEmail('unconfirmed')
  await emulator.client.send(new SignUpCommand({ ClientId: emulator.clientId, Username: email, Password: password, UserAttributes: [{ Name: 'email', Value: email }] }))
  return email
}

/**
 * Waits (at most `timeoutMs`) until `logs` hold `count` audit lines of `event` with `outcome` for `username` (apps built
 * with SESSION_ENCRYPTION_KEY=TEST_SESSION_KEY): code sends finish after the answer, by design.
 */
export async function waitForAudit (logs: LogCapture, event: string, outcome: string, username: string, count = 1, timeoutMs = 5000): Promise<void> {
  const user = hashUsername(subkey(TEST_SESSION_KEY, 'username hash'), username)
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const seen = logs.entries.filter((e) => e.audit?.event === event && e.audit?.outcome === outcome && e.audit?.user === user).length
    if (seen >= count) return
    await sleep(20)
  }
  throw new Error(`no ${count}× ${event}/${outcome} audit line within ${timeoutMs} ms`)
}

/**
 * A real Cognito endpoint on loopback that throttles: the named operations get Cognito's throttling exception, every
 * other call (keys, admin calls) goes through to `emulator` (read on each call, so it may be set after this starts).
 * Stands in for a fault cognito-local cannot produce.
 */
export async function throttlingCognito (emulator: Pick<Emulator, 'endpoint'>, exceptions: Record<string, string>): Promise<{ endpoint: string, close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').split('.').pop() ?? ''
      const exception = exceptions[operation]
      if (exception !== undefined) {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' })
        response.end(JSON.stringify({ __type: exception, message: 'Attempt limit exceeded, please try after some time.' }))
        return
      }
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>
      fetch(`${emulator.endpoint}${request.url ?? '/'}`, { method: request.method, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) })
        .then(async (upstream) => {
          response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
          response.end(Buffer.from(await upstream.arrayBuffer()))
        })
        .catch(() => { response.writeHead(502).end() })
    })
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) }
  }
}

/** The median of `values`. */
export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
