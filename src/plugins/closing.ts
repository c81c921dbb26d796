// While the app closes, requests still arriving on open connections get the contract's 503 and Connection: close.
import fp from 'fastify-plugin'
import { upstreamUnavailable } from '../errors.js'

/** Seconds a caller turned away while this instance stops is asked to wait (another instance will answer). */
const RETRY_AFTER_SECONDS = 1

/**
 * Replaces Fastify's own answer while closing (`return503OnClosing`, switched off in serverOptions), a bare 503
 * without the security headers or the contract's body, with the contract's UPSTREAM_UNAVAILABLE.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // Callback-style, as every app-wide onRequest hook here: an async one costs each request its promises.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done()
      return
    }
    reply.header('connection', 'close')
    done(upstreamUnavailable(RETRY_AFTER_SECONDS))
  })
}, { name: 'closing' })
