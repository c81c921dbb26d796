// The logger's own rules: secret fields one level down in any logged object are censored; requests are logged by path.
import t from 'tap'
import pino from 'pino'
import { LogCapture } from '../helpers/app.js'
import { loggerOptions } from '../../src/logger.js'

/** A pino logger with the app's options (Fastify hands them to pino the same way), writing into a capture. */
function capture (): { log: pino.Logger, logs: LogCapture } {
  const logs = new LogCapture()
  return { log: pino(loggerOptions('info') as pino.LoggerOptions, logs), logs }
}

t.test('secret fields inside a logged object are censored, the rest is kept', async (t) => {
  const { log, logs } = capture()
  log.info({
    body: { password: 'Passw0rd!', newPassword: 'N3w-Passw0rd!', code: '123456', refreshToken: 'r.t', keep: 'visible' },
    audit: { event: 'sign-in', outcome: 'success', session: 'handle' }
  }, 'line')
  const [entry] = logs.entries
  t.same(entry?.body, { password: '[redacted]', newPassword: '[redacted]', code: '[redacted]', refreshToken: '[redacted]', keep: 'visible' })
  t.same(entry?.audit, { event: 'sign-in', outcome: 'success', session: '[redacted]' })
  t.notMatch(logs.text, /Passw0rd|123456|r\.t|handle/)
})

t.test('prototype-less objects (as Fastify parses query strings) are censored too', async (t) => {
  const { log, logs } = capture()
  const query = Object.assign(Object.create(null) as Record<string, string>, { code: 'auth-code-from-cognito', state: 's' })
  log.info({ query }, 'callback')
  t.same(logs.entries[0]?.query, { code: '[redacted]', state: 's' })
})

t.test("a line's own top-level code stays readable (error lines carry the contract's code there)", async (t) => {
  const { log, logs } = capture()
  log.warn({ code: 'UPSTREAM_UNAVAILABLE' }, 'upstream failure')
  t.equal(logs.entries[0]?.code, 'UPSTREAM_UNAVAILABLE')
})

t.test('the object handed to the logger is left as it was', async (t) => {
  const { log } = capture()
  const body = { password: 'Passw0rd!' }
  log.info({ body }, 'line')
  t.equal(body.password, 'Passw0rd!')
})

t.test('requests are logged by id, method and path: no header, no query string', async (t) => {
  const { log, logs } = capture()
  const req = { id: 'req-1', method: 'GET', url: '/auth/callback?code=abc&state=s', headers: { authorization: 'Bearer secret-token', cookie: '__Host-ims-session=secret-id' } }
  log.info({ req, res: { statusCode: 200, headers: { 'set-cookie': 'secret' } } }, 'request completed')
  t.same(logs.entries[0]?.req, { id: 'req-1', method: 'GET', path: '/auth/callback' })
  t.same(logs.entries[0]?.res, { statusCode: 200 })
  t.notMatch(logs.text, /secret|abc/)
})
