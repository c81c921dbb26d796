// A Lambda trigger of the pool that fails (here Pre Token Generation, its Lambda endpoint dead): 503 with Retry-After, no session.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, testApp } from '../helpers/app.js'
import { freePort } from '../helpers/ports.js'

let emulator: Emulator
let app: FastifyInstance
const logs = new LogCapture()

t.before(async () => {
  // Nothing listens on this port: every trigger call fails, as when the function is broken or throttled.
  const deadLambda = `http://127.0.0.1:${await freePort()}`
  emulator = await startEmulator({
    extraConfig: {
      TriggerFunctions: { PreTokenGeneration: 'ims-pre-token-generation' },
      LambdaClient: { endpoint: deadLambda, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxRetries: 0 }
    }
  })
  app = await testApp(emulator, {}, { logStream: logs })
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
})

t.test('sign-in while the pool\'s token trigger fails: 503 UPSTREAM_UNAVAILABLE with Retry-After, no cookie, nothing named', async (t) => {
  const email = await emulator.user(['MANAGER'])
  const response = await app.inject({ method: 'POST', url: '/auth/sign-in', headers: CSRF, payload: { username: email, password: TEST_PASSWORD } })
  t.equal(response.statusCode, 503, response.body)
  t.equal(response.json().error, 'UPSTREAM_UNAVAILABLE')
  t.ok(Number(response.headers['retry-after']) > 0, 'Retry-After')
  t.notOk(response.headers['set-cookie'], 'no session')
  t.notMatch(response.body + logs.lines.join('\n'), /Lambda|Exception/, 'no AWS exception name in the answer or the logs')
})
