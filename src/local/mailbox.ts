// The local SES mailbox: aws-ses-v2-local in-process (web UI at /, JSON at /store), plus helpers to read it.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as sesLocal from 'aws-ses-v2-local'
import { EMAIL_KINDS, renderEmail } from '../../triggers/templates/index.js'
import { ensurePortFree, portInUse } from './ports.js'

/** An email as aws-ses-v2-local stores it (`GET /store`). */
export interface MailboxEmail {
  messageId: string
  from: string
  replyTo: string[]
  destination: { to: string[], cc: string[], bcc: string[] }
  subject: string
  body: { html?: string, text?: string }
  attachments: Array<{ content: string, contentType: string, filename?: string, size: number }>
  headers?: Array<{ name: string, value: string }>
  /** Epoch seconds. */
  at: number
}

/** A running mailbox. */
export interface Mailbox {
  /** Base URL: the web UI is at `url`, the JSON store at `${url}/store`; it is also the SES endpoint. */
  url: string
  close: () => Promise<void>
}

type StartSesServer = (config?: { host?: string, port?: number }) => Promise<Server>

// aws-ses-v2-local is CommonJS with `exports.default`; under ESM the function sits one `default` deeper.
function sesServerFunction (): StartSesServer {
  const mod = sesLocal as unknown as { default: StartSesServer | { default: StartSesServer } }
  return typeof mod.default === 'function' ? mod.default : mod.default.default
}

/**
 * Starts aws-ses-v2-local in this process on `host:port` (port 0 = a free port). Its store is in memory and
 * module-wide: two mailboxes started in one process share their emails. Refuses a port another program holds.
 */
export async function startMailbox ({ port, host = '127.0.0.1' }: { port: number, host?: string }): Promise<Mailbox> {
  await ensurePortFree('SES_LOCAL_PORT', port, host)
  const server = await sesServerFunction()({ host, port })
  // It resolves even when listen failed (taken in the meantime): the server then has no address.
  if (!server.listening) throw portInUse('SES_LOCAL_PORT', port)
  const address = server.address() as AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${address.port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}

/** Reads every email in the mailbox at `url` (optionally only those sent at or after `since`, epoch seconds). */
export async function readMailbox (url: string, options: { since?: number } = {}): Promise<MailboxEmail[]> {
  const query = options.since === undefined ? '' : `?since=${Math.floor(options.since)}`
  const res = await fetch(`${url.replace(/\/+$/, '')}/store${query}`, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`The mailbox at ${url} answered ${res.status} to GET /store.`)
  const store = await res.json() as { emails?: MailboxEmail[] }
  return store.emails ?? []
}

/**
 * Polls the mailbox until an email to `to` (case-insensitive) that satisfies `match` arrives; returns the newest.
 * Throws after `timeoutMs` (default 5 s).
 */
export async function waitForEmail (
  url: string,
  to: string,
  { match = () => true, timeoutMs = 5000, intervalMs = 50 }: { match?: (email: MailboxEmail) => boolean, timeoutMs?: number, intervalMs?: number } = {}
): Promise<MailboxEmail> {
  const deadline = Date.now() + timeoutMs
  const wanted = to.toLowerCase()
  for (;;) {
    const found = (await readMailbox(url))
      .filter((e) => e.destination.to.some((address) => address.toLowerCase() === wanted) && match(e))
      .at(-1)
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`No matching email reached the mailbox within ${timeoutMs} ms.`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

const SENTINEL = 'IMS-SENTINEL-0000'
/** The text-body prefixes ("Reset code: ", "Mã đặt lại mật khẩu: ", ...) that precede a code, in every locale. */
const CODE_PREFIXES: string[] = Array.from(new Set((['en', 'vi'] as const).flatMap((locale) => EMAIL_KINDS.map((kind) => {
  const line = renderEmail(kind, locale, { code: SENTINEL, username: 'u' }).text.split('\n').find((l) => l.endsWith(SENTINEL))
  return line === undefined ? '' : line.slice(0, -SENTINEL.length)
})).filter((prefix) => prefix !== '')))

/** The code (or temporary password) in an IMS email's text body, or undefined when it carries none. */
export function codeFromEmail (email: MailboxEmail): string | undefined {
  for (const line of (email.body.text ?? '').split('\n')) {
    const prefix = CODE_PREFIXES.find((p) => line.startsWith(p))
    if (prefix !== undefined) return line.slice(prefix.length)
  }
  return undefined
}
