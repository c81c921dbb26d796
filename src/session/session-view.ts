// This instance's short-lived view of sessions kept in a remote store (Redis): most cookie requests cost no round trip.
import type { StoreChannel } from '../store/channel.js'
import { BoundedView } from './bounded-view.js'

/*
 * How the view stays correct (the reasoning of src/session/revocations.ts, applied to session records):
 * - An entry is used only while the store's channel is live and in the generation it was read in; a new generation
 *   (the subscription was lost, messages may be missing) drops the whole view.
 * - Whoever changes or ends a session (sign-out, refresh, rotation, revocation of every session of a user) publishes
 *   its key after the write and answers its caller only once its own subscription has received the message back, so
 *   every other instance has been sent it before the client's next request; each drops that key on receipt.
 * - A read is remembered only if no message at all arrived while it was in flight: a read's answer and a message come
 *   on different connections, so the order they arrive in here need not be the order Redis saw them in.
 * - Entries lapse after ENTRY_MS whatever happens (on the monotonic clock, whatever the machine's clock is set to), so a
 *   write whose message was lost (Redis failed between the two) is seen within that time. SessionManager still judges the idle and absolute limits on every use, and reads a
 *   session again from the store when its "last seen" time is due to be written.
 */
const ENTRY_MS = 10_000
const SIZE = 10_000

/** The channel's state when a store read began; a read is remembered only if nothing changed meanwhile. */
export interface ReadMark { generation: number, heard: number, live: boolean }

/** Store values by key, valid while the channel says no change can have been missed. */
export class SessionView<T> {
  private readonly entries = new BoundedView<{ value: T, until: number }>(SIZE)
  private generation: number
  /** Messages received so far. */
  private heard = 0

  constructor (private readonly channel: StoreChannel) {
    this.generation = channel.generation
    channel.onMessage((message) => {
      this.heard++
      for (const key of message.split(' ')) this.entries.delete(key)
    })
  }

  /** The remembered value, or undefined (ask the store). */
  get (key: string): T | undefined {
    return this.trusted() ? this.entries.get(key, performance.now())?.value : undefined
  }

  /** Call just before reading the store, and hand the mark to `remember` with what the read returned. */
  mark (): ReadMark {
    return { generation: this.channel.generation, heard: this.heard, live: this.channel.live }
  }

  remember (key: string, value: T, mark: ReadMark): void {
    if (mark.live && this.trusted() && mark.generation === this.generation && mark.heard === this.heard) {
      this.entries.set(key, { value, until: performance.now() + ENTRY_MS })
    }
  }

  /** Drops `keys` here at once and on every instance; resolves once the others have been sent the message. */
  async invalidate (keys: string[]): Promise<void> {
    if (keys.length === 0) return
    for (const key of keys) this.entries.delete(key)
    await this.channel.publish(keys.join(' '))
  }

  private trusted (): boolean {
    if (this.channel.generation !== this.generation) {
      this.entries.clear()
      this.generation = this.channel.generation
    }
    return this.channel.live
  }
}
