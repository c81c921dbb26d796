// Liveness and readiness: /health/live while the process runs; /health/ready when keys, Cognito and the store answer.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AppError } from '../../errors.js'
import { errorResponses } from '../schemas.js'

const Checks = Type.Object({
  status: Type.Literal('ok'),
  checks: Type.Optional(Type.Record(Type.String(), Type.Boolean()))
})

/**
 * Not ready: the contract's error body (UPSTREAM_UNAVAILABLE), with which checks failed; while the instance closes
 * (src/plugins/closing.ts) the error body alone, as every route gives it then.
 */
const NotReady = Type.Object({
  error: Type.String(),
  message: Type.String(),
  requestId: Type.String(),
  status: Type.Optional(Type.Literal('unavailable')),
  checks: Type.Optional(Type.Record(Type.String(), Type.Boolean()))
})

/** Readiness answers are reused this long, so probes cannot hammer Cognito. */
const READY_CACHE_MS = 2000

/** GET /health/live and GET /health/ready. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/live', { schema: { tags: ['health'], response: { 200: Checks, ...errorResponses } } }, async () => ({ status: 'ok' as const }))

  // The answer in progress or last given: concurrent probes share one round of checks.
  let last: { at: number, checks: Promise<Record<string, boolean>> } | undefined
  async function probe (): Promise<Record<string, boolean>> {
    const [cognito, store, keys] = await Promise.all([
      app.cognito.gateway.describePool().then(() => true, () => false),
      app.store.ping().then(() => true, () => false),
      app.verifier.ready ? true : app.verifier.hydrate().then(() => true, () => false)
    ])
    return { keys, cognito, store }
  }
  async function check (): Promise<Record<string, boolean>> {
    if (last === undefined || Date.now() - last.at >= READY_CACHE_MS) last = { at: Date.now(), checks: probe() }
    return await last.checks
  }

  app.get('/ready', { schema: { tags: ['health'], response: { 200: Checks, 503: NotReady, ...errorResponses } } }, async () => {
    const checks = await check()
    if (Object.values(checks).every(Boolean)) return { status: 'ok' as const, checks }
    const failing = Object.keys(checks).filter((name) => !checks[name])
    throw new AppError('UPSTREAM_UNAVAILABLE', `Not ready: ${failing.join(', ')} not answering.`, { status: 'unavailable', checks })
  })
}

export default health
