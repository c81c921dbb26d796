// Looks a name that comes from outside (an error type, a challenge, a trigger source) up in a table of constants.

/**
 * `table[key]` when `key` is one of the table's own entries, else undefined: never a member every object inherits
 * (`constructor`, `toString`, `__proto__`), which a plain `table[key]` would hand back for such a name.
 */
export function ownEntry<V> (table: Readonly<Partial<Record<string, V>>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}
