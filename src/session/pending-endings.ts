// A user's sessions ended after a password change even while the store fails: at once when it can, else retried until it can.
import type { FastifyBaseLogger } from 'fastify'
import type { CognitoBudget } from '../cognito/budget.js'

/**
 * How long the retries go on: Cognito access tokens live at most a day, so by then none issued before the change
 * still verifies (and a session lives at most SESSION_ABSOLUTE_SECONDS, 12 hours by default).
 */
const GIVE_UP_MS = 24 * 3600 * 1000
/** The first retry's wait; each failure doubles it, up to the longest. */
const FIRST_RETRY_MS = 1000
/**
 * The longest wait between retries: it bounds how long sessions from before the change outlive the store's return, and
 * how long a sign-in made right after that return may be ended with them.
 */
const LONGEST_RETRY_MS = 30_000

/** A user whose sessions are still to be ended, and the retry that will try next. */
interface Pending {
  delayMs: number
  giveUpAt: number
  timer?: NodeJS.Timeout
  /** The retry under way, if any: true once it has ended the sessions. */
  attempt?: Promise<boolean>
}

/**
 * Ends every session of a user once a new password is in force at Cognito. The password cannot be taken back, so a
 * store that fails right then (full, unreachable) must not leave the sessions from before it alive: the ending is
 * retried in the background, with backoff, until it succeeds, for at most a day, or until this instance closes. Each
 * step is logged by the user's sub, never with a secret or the store's own words (the store logs its fault itself).
 * The retries live in this instance only: if it stops first, its close logs which users' sessions were left.
 */
export class PendingEndings {
  private readonly pending = new Map<string, Pending>()
  private closed = false

  /**
   * `endUserSessions` ends every session and access token of a user, waiting on Cognito's revocations within the
   * budget when it is given one (the retries give none); it fails while the store does.
   */
  constructor (private readonly endUserSessions: (sub: string, budget?: CognitoBudget) => Promise<void>, private readonly log: FastifyBaseLogger) {}

  /**
   * Ends every session of `sub` now and answers true; when that fails, answers false and keeps trying in the
   * background. Never throws. A success also settles a retry still pending for `sub`: it ended those sessions too.
   * `budget` is the request's (see CognitoBudget).
   */
  async end (sub: string, budget: CognitoBudget): Promise<boolean> {
    try {
      await this.endUserSessions(sub, budget)
    } catch {
      this.retryLater(sub)
      return false
    }
    const settled = this.pending.get(sub)
    if (settled !== undefined) {
      clearTimeout(settled.timer)
      this.pending.delete(sub)
    }
    return true
  }

  /** Stops every retry (the app closes), waits for those under way, and logs whose sessions are left unended. */
  async close (): Promise<void> {
    this.closed = true
    const left = [...this.pending]
    this.pending.clear()
    for (const [, entry] of left) clearTimeout(entry.timer)
    await Promise.all(left.map(async ([sub, entry]) => {
      if (await (entry.attempt ?? false)) return
      this.log.error({ sub }, 'This instance closed before the store was back: the user\'s sessions from before the password change were not ended; sign the user out from /admin')
    }))
  }

  /** Schedules the retries for `sub` (or pushes the end of those already scheduled), and says so once. */
  private retryLater (sub: string): void {
    if (this.closed) {
      this.log.error({ sub }, 'The store failed while this instance closed: the user\'s sessions from before the password change were not ended; sign the user out from /admin')
      return
    }
    const giveUpAt = Date.now() + GIVE_UP_MS
    const known = this.pending.get(sub)
    if (known !== undefined) {
      known.giveUpAt = giveUpAt
      return
    }
    this.log.warn({ sub }, 'The store failed while ending a user\'s sessions after a password change: they will be ended once the store is back')
    const entry: Pending = { delayMs: FIRST_RETRY_MS, giveUpAt }
    this.pending.set(sub, entry)
    this.wait(sub, entry)
  }

  private wait (sub: string, entry: Pending): void {
    entry.timer = setTimeout(() => { entry.attempt = this.retry(sub, entry) }, entry.delayMs)
    // A pending retry never keeps the process alive by itself; close() stops it.
    entry.timer.unref()
  }

  /** One retry; on failure, the next is scheduled unless the retries were settled, stopped or have run their time. */
  private async retry (sub: string, entry: Pending): Promise<boolean> {
    entry.timer = undefined
    const ended = await this.endUserSessions(sub).then(() => true, () => false)
    entry.attempt = undefined
    if (ended) {
      if (this.pending.get(sub) === entry) this.pending.delete(sub)
      this.log.info({ sub }, 'The store is back: the user\'s sessions from before the password change have ended')
      return true
    }
    if (this.pending.get(sub) !== entry) return false
    entry.delayMs = Math.min(entry.delayMs * 2, LONGEST_RETRY_MS)
    if (Date.now() + entry.delayMs > entry.giveUpAt) {
      this.pending.delete(sub)
      this.log.error({ sub }, 'The store stayed unusable for a day: the user\'s sessions from before the password change were not ended; sign the user out from /admin')
      return false
    }
    this.wait(sub, entry)
    return false
  }
}
