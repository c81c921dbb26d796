// Broadcast between the instances that share a store: the StoreChannel interface and the memory store's in-process one.

/**
 * A value written together with a broadcast. `increasing`: a number that is written only over a smaller one (a mark
 * that must never move back, whichever instance's clock wrote it last).
 */
export interface ChannelRecord { key: string, value: unknown, ttlSeconds: number, increasing?: boolean }

/**
 * A broadcast channel to every instance that shares the store (this one included), in publication order.
 * Delivery is at most once: a subscriber that is disconnected misses messages, which `live` and `generation` tell.
 */
export interface StoreChannel {
  /**
   * Writes `record` (when given) and broadcasts `message` in one step: both happen, or neither (then it throws).
   * Resolves once this instance's own subscription has received the message back, so every other subscriber has
   * been sent it too, or after a short deadline when it does not come back.
   */
  publish: (message: string, record?: ChannelRecord) => Promise<void>
  /** Adds a handler called with every message, in order. */
  onMessage: (handler: (message: string) => void) => void
  /** True while messages are known to arrive: subscribed, and the subscription answered a heartbeat lately. */
  readonly live: boolean
  /** Changes each time the subscription is (re)established: messages between two generations may have been missed. */
  readonly generation: number
  /** Adds a handler called as each generation after the first begins: messages before it may have been missed. */
  onResubscribed: (handler: () => void) => void
  /** Resolves true once live, or false after `timeoutMs`. */
  whenLive: (timeoutMs: number) => Promise<boolean>
  close: () => Promise<void>
}

/** The memory store's channel: one process, so every message reaches every handler at once and nothing is missed. */
export class MemoryChannel implements StoreChannel {
  readonly live = true
  readonly generation = 0
  private readonly handlers: Array<(message: string) => void> = []

  constructor (private readonly write: (record: ChannelRecord) => Promise<void>) {}

  async publish (message: string, record?: ChannelRecord): Promise<void> {
    if (record !== undefined) await this.write(record)
    for (const handler of this.handlers) handler(message)
  }

  onMessage (handler: (message: string) => void): void {
    this.handlers.push(handler)
  }

  /** One generation for ever: nothing is missed within one process. */
  onResubscribed (): void {}

  async whenLive (): Promise<boolean> { return true }

  async close (): Promise<void> {
    this.handlers.length = 0
  }
}
