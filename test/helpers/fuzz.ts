// How many cases the generated-input tests try, and from which seed: fixed for CI, changeable to explore.
/** A fixed seed keeps CI's cases the same from run to run; set FUZZ_SEED to explore others (a failure prints its seed). */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261128)

/** `base` cases, times FUZZ_SCALE when set (e.g. FUZZ_SCALE=10 for a longer search on a developer's machine). */
export function fuzzRuns (base: number): number {
  return Math.max(1, Math.round(base * Number(process.env.FUZZ_SCALE ?? 1)))
}
