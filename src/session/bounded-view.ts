// A bounded map whose entries lapse at their `until` time and whose oldest entries go first when it is full.

/**
 * What an instance remembers locally of the shared store (revocations, sessions); never the truth, only a view of it.
 * Entries `kept` says yes to (revocations) are held apart from the others, each side bounded by `size`: no number of
 * ordinary entries can push one of them out.
 */
export class BoundedView<T extends { until: number }> {
  private readonly kept = new Map<string, T>()
  private readonly others = new Map<string, T>()

  constructor (private readonly size: number, private readonly keep: (value: T) => boolean = () => false) {}

  get (key: string, now: number): T | undefined {
    const entry = this.kept.get(key) ?? this.others.get(key)
    if (entry !== undefined && entry.until <= now) {
      this.delete(key)
      return undefined
    }
    return entry
  }

  set (key: string, value: T): void {
    this.delete(key)
    const side = this.keep(value) ? this.kept : this.others
    if (side.size >= this.size) side.delete(side.keys().next().value as string)
    side.set(key, value)
  }

  delete (key: string): void {
    this.kept.delete(key)
    this.others.delete(key)
  }

  /** Drops every entry `keep` says no to. */
  keepOnly (keep: (value: T) => boolean): void {
    for (const side of [this.kept, this.others]) for (const [key, value] of side) if (!keep(value)) side.delete(key)
  }

  clear (): void {
    this.kept.clear()
    this.others.clear()
  }
}
