// Turns a trigger's pure handle(event, deps) into a Lambda handler whose deps are built once per container.
import { isLambdaRuntime } from '../config.js'

/**
 * Builds the exported Lambda `handler`: inside AWS Lambda `init` runs at module load (cold start), so a
 * misconfiguration fails the init with its sentence; elsewhere (tests, the local runner importing the module)
 * it runs on the first call, so importing a trigger never reads or validates the environment.
 */
export function defineHandler<E, D> (handle: (event: E, deps: D) => Promise<E>, init: () => D): (event: E) => Promise<E> {
  let deps: D | undefined = isLambdaRuntime() ? init() : undefined
  return async (event: E) => {
    deps ??= init()
    return await handle(event, deps)
  }
}
