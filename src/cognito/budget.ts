// One request's time for Cognito in all: a call still unanswered when it is spent goes on without holding the answer.

/**
 * A request that ends sessions makes several Cognito calls in turn: a global sign-out, then a revocation per refresh
 * token, and its own token again. Each alone is bounded by COGNITO_TIMEOUT_MS, but in turn they could hold the answer
 * for several timeouts while Cognito is slow (bar 39 asks for an answer within 5 s). A budget, started with the request,
 * bounds them together: a call it waits for past its end is left to finish in the background, within its own timeout,
 * and the request goes on with what `late` says. The adapter's own revocations never wait on Cognito, so they take
 * effect either way.
 *
 * Order at Cognito: the request's revocations (`afterFirst`) reach Cognito only once the call it put `first` has
 * settled, whether or not the answer waited for that call.
 */
export class CognitoBudget {
  /**
   * A budget that never runs out: for work that no caller waits on (background retries, sign-in's own clean-up). A
   * fresh one each time, since a budget holds its request's order of calls.
   */
  static get UNBOUNDED (): CognitoBudget {
    return new CognitoBudget(Number.POSITIVE_INFINITY)
  }

  private readonly endsAt: number
  /** What the request's revocations wait for before they leave (see `first`). */
  private ahead: Promise<unknown> = Promise.resolve()

  constructor (ms: number) {
    this.endsAt = performance.now() + ms
  }

  /** True once nothing more may be waited for. */
  get spent (): boolean {
    return performance.now() >= this.endsAt
  }

  /**
   * `work`'s outcome when it settles within the budget; otherwise what `late` answers (or throws), while `work` goes on
   * unheard (its failure included).
   */
  async within<T> (work: Promise<T>, late: () => T): Promise<T> {
    const left = this.endsAt - performance.now()
    if (left === Number.POSITIVE_INFINITY) return await work
    let timer: NodeJS.Timeout | undefined
    const spent = new Promise<'spent'>((resolve) => { timer = setTimeout(resolve, Math.max(0, left), 'spent') })
    try {
      const first = await Promise.race([work.then((value) => ({ value })), spent])
      return first === 'spent' ? late() : first.value
    } finally {
      clearTimeout(timer)
      // Heard here, whatever it turns out to be: a failure after the budget is nobody's to handle.
      work.catch(() => {})
    }
  }

  /**
   * `work` within the budget, as `within`; and every call started through `afterFirst` from now on leaves only once
   * `work` has settled, in the background when the budget is spent first. For Cognito's GlobalSignOut, which needs the
   * caller's access token still alive there: a RevokeToken of that session's refresh token reaching Cognito before it
   * would make it fail, and leave the user's other refresh tokens at Cognito alive.
   */
  async first<T> (work: Promise<T>, late: () => T): Promise<T> {
    this.ahead = work.catch(() => {})
    return await this.within(work, late)
  }

  /** Starts `call` once the work given to `first`, if any, has settled. */
  async afterFirst<T> (call: () => Promise<T>): Promise<T> {
    await this.ahead
    return await call()
  }
}
