// The median the benchmarks report, shared by the bench and the app process it drives.

/** The middle value of `values` (the mean of the two middle ones when their number is even). */
export function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = sorted.length / 2
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!
}
