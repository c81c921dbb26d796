// Chains work on a value that is either ready or a promise, without a promise when it is ready (the hot paths).
export type MaybePromise<T> = T | Promise<T>

/**
 * `next(value)`: at once when `value` is ready, once it settles when it is a promise. A throw from `next` on a ready
 * value is thrown here, so callers that may get either keep a `try` around the call or `await` it.
 */
export function andThen<T, U> (value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value)
}
