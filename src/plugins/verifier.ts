// Registers the token verifier as `app.verifier`, created once; the signing keys are loaded before the server listens.
import fp from 'fastify-plugin'
import { TokenVerifier, type VerifierSettings } from '../auth/token-verifier.js'

declare module 'fastify' {
  interface FastifyInstance {
    verifier: TokenVerifier
  }
}

/** Decorates `app.verifier` and loads the signing keys when the app is readied. */
export default fp<VerifierSettings>(async (app, settings) => {
  const verifier = new TokenVerifier(settings)
  app.decorate('verifier', verifier)
  app.addHook('onReady', async () => {
    try {
      await verifier.hydrate()
    } catch {
      // Start anyway: /health/ready says 503 until keys load, and verification fails closed meanwhile.
      app.log.warn('signing keys could not be loaded at start-up; will retry on first use')
    }
  })
}, { name: 'verifier' })
