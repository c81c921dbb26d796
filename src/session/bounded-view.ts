// A bounded map whose entries lapse at their `until` time and whose oldest entries go first when it is full.

/** What an instance remembers locally of the shared store (revocations, sessions); never the truth, only a view of it. */
export class BoundedView<T extends { until: number }> {
  private readonly entries = new Map<string, T>()

  constructor (private readonly size: number) {}

  get (key: string, now: number): T | undefined {
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.until <= now) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  set (key: string, value: T): void {
    if (!this.entries.has(key) && this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, value)
  }

  delete (key: string): void { this.entries.delete(key) }

  /** Drops every entry `keep` says no to. */
  keepOnly (keep: (value: T) => boolean): void {
    for (const [key, value] of this.entries) if (!keep(value)) this.entries.delete(key)
  }

  clear (): void { this.entries.clear() }
}
