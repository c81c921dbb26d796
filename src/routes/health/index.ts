// Liveness and readiness: /health/live while the process runs; /health/ready when keys, Cognito and the store answer.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

const Checks = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Optional(Type.Record(Type.String(), Type.Boolean()))
})

/** Readiness answers are reused this long, so probes cannot hammer Cognito. */
const READY_CACHE_MS = 2000

/** GET /health/live and GET /health/ready. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/live', { schema: { tags: ['health'], response: { 200: Checks } } }, async () => ({ status: 'ok' as const }))

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

  app.get('/ready', { schema: { tags: ['health'], response: { 200: Checks, 503: Checks } } }, async (_request, reply) => {
    const checks = await check()
    const ok = Object.values(checks).every(Boolean)
    return await reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks })
  })
}

export default health
