// Opens a real gap in a store for tests: one call of a store method is followed by other work before its caller resumes.
import type { SharedStore } from '../../src/store/shared-store.js'

/**
 * Makes `store[method]` run the work handed to the returned function (once, on the next call) just after the store
 * answered and before its caller gets the answer: the gap in which another request may overlap it.
 */
export function pauseAfter (store: SharedStore, method: 'get' | 'take' | 'members' | 'set' | 'replaceIfUnchanged'): (then: () => Promise<unknown>) => void {
  const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>
  let next: (() => Promise<unknown>) | undefined
  Object.assign(store, {
    [method]: async (...args: unknown[]) => {
      const answer = await original(...args)
      const then = next
      next = undefined
      if (then !== undefined) await then()
      return answer
    }
  })
  return (then) => { next = then }
}
