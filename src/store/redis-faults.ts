// What went wrong with Redis, in words safe to log: a connection's fault, a command the server refused, a transaction's failure.
import { ReplyError, type ChainableCommander } from 'ioredis'

/** Where the Redis store tells what went wrong, and when it is usable again. */
export interface StoreLog {
  warn: (fields: { store: string, fault: string }, message: string) => void
  info: (fields: { store: string }, message: string) => void
}

/**
 * What made a connection attempt or a command fail, safe to log: a system or TLS error code (ECONNREFUSED,
 * CERT_HAS_EXPIRED), or the first word of the server's refusal (WRONGPASS, OOM, NOPERM); a discarded transaction is
 * named by what was refused in it. Never the message, which may quote what was sent.
 */
export function faultOf (error: Error): string {
  type Detailed = Error & { code?: unknown, previousErrors?: Error[] }
  const cause: Detailed = (error as Detailed).previousErrors?.[0] ?? error
  if (typeof cause.code === 'string' && /^[A-Z0-9_]+$/.test(cause.code)) return cause.code
  return /^[A-Z]+\b/.exec(cause.message)?.[0] ?? cause.name
}

/** Why a user without a command the store needs is refused (an ACL, or an ElastiCache access string). */
export const PERMISSION_REFUSAL = 'REDIS_URL\'s user may not run every command the session store needs (NOPERM): it ' +
  'needs reads, writes, transactions, scripts and pub/sub on the keys and channels that start with ims: (on ElastiCache, ' +
  'an access string such as "on ~ims:* &ims:* +@all -@dangerous +info").'

/** How often the same kind of refusal is logged at most: a full Redis refuses every write. */
const REFUSAL_LOG_MS = 60_000

/** Logs the commands the server refused (a full memory, a missing permission), at most once a minute per kind. */
export class RefusalLog {
  private readonly loggedAt = new Map<string, number>()

  constructor (private readonly log?: StoreLog) {}

  /** Notes why a command failed; only the server's own refusals are logged (a lost connection is logged as such). */
  note (error: unknown): void {
    if (!(error instanceof ReplyError)) return
    const fault = faultOf(error as Error)
    const now = Date.now()
    if (now - (this.loggedAt.get(fault) ?? -Infinity) < REFUSAL_LOG_MS) return
    this.loggedAt.set(fault, now)
    this.log?.warn({ store: 'redis', fault }, 'Redis refused a command: what needs it answers 503')
  }
}

/** Runs a MULTI's EXEC; throws the first refusal among its commands (EXEC reports them in its results instead). */
export async function execAll (transaction: ChainableCommander): Promise<Array<[error: Error | null, result: unknown]>> {
  const results = await transaction.exec()
  if (results === null) throw new Error('transaction discarded')
  const refused = results.find(([error]) => error !== null)
  if (refused !== undefined) throw refused[0]!
  return results
}
