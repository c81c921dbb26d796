// While the app closes: the contract's 503 for requests still arriving, Connection: close on every answer, no connection left once none is in flight.
import fp from 'fastify-plugin'
import { upstreamUnavailable } from '../errors.js'

/** Seconds a caller turned away while this instance stops is asked to wait (another instance will answer). */
const RETRY_AFTER_SECONDS = 1

/**
 * Replaces Fastify's own answer while closing (`return503OnClosing`, switched off in serverOptions), a bare 503
 * without the security headers or the contract's body, with the contract's UPSTREAM_UNAVAILABLE.
 *
 * Also lets the close end once the requests in flight are answered. Node's `server.close()` ends only the keep-alive
 * connections idle at that moment: one busy then would stay open after its answer, and one that has not sent a request
 * yet counts as busy, so either held the process until close-with-grace's deadline. So every answer given while closing
 * says `Connection: close`, and once no request is in flight every connection left is ended.
 */
export default fp(async (app) => {
  let closing = false
  let requestsInFlight = 0
  const endConnectionsOnceDrained = (): void => {
    if (closing && requestsInFlight === 0) app.server.closeAllConnections()
  }
  // Counted where Node hands a request over, so those Fastify answers before any hook (a malformed URL) count too. One
  // shared listener (a response closes once): nothing is allocated per request.
  const answered = (): void => {
    requestsInFlight--
    endConnectionsOnceDrained()
  }
  app.server.on('request', (_request, response) => {
    requestsInFlight++
    response.on('close', answered)
  })
  app.addHook('preClose', async () => {
    closing = true
    endConnectionsOnceDrained()
  })
  // Callback-style, as every app-wide hook here: an async one costs each request its promises.
  app.addHook('onRequest', (_request, _reply, done) => {
    if (!closing) {
      done()
      return
    }
    done(upstreamUnavailable(RETRY_AFTER_SECONDS))
  })
  // An answer that began before closing (the handler was under way) ends its connection too.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'closing' })
