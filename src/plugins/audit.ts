// One structured audit line per security-relevant outcome: time, who (sub or hashed username), IP, event, outcome.
import { createHmac } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'

/** What is being audited. */
export interface AuditEntry {
  event: string
  outcome: string
  sub?: string
  /** Hashed before logging; never logged in clear. */
  username?: string
  [detail: string]: unknown
}

declare module 'fastify' {
  interface FastifyRequest {
    audit: (entry: AuditEntry) => void
  }
}

/** A keyed hash, so usernames in logs can be correlated but not read. */
export function hashUsername (key: string, username: string): string {
  return createHmac('sha256', key).update(username.trim().normalize('NFKC').toLowerCase()).digest('hex').slice(0, 16)
}

/** Decorates `request.audit(entry)`: one structured line per outcome, the username keyed-hashed. */
export default fp<{ hashKey: string }>(async (app, { hashKey }) => {
  app.decorateRequest('audit', function (this: FastifyRequest, entry: AuditEntry) {
    const { username, ...rest } = entry
    this.log.info({
      audit: {
        time: new Date().toISOString(),
        ip: this.ip,
        ...rest,
        ...(username === undefined ? {} : { user: hashUsername(hashKey, username) })
      }
    }, 'audit')
  })
}, { name: 'audit' })
