// Local mode keeps its pool across restarts: the app client's callback URL follows the adapter to its new port.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../fastify.config.js'
import { buildApp } from '../../src/app.js'
import { startLocalStack } from '../../src/local/start-local.js'
import { LogCapture } from '../helpers/app.js'
import { freePort } from '../helpers/ports.js'

t.test('after a restart on another port the pool accepts the new redirect URI and refuses the old one', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ims-restart-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const cognitoPort = await freePort()
  const sesPort = await freePort()
  const redirectUris: string[] = []
  for (let run = 0; run < 2; run++) {
    const port = await freePort()
    const stack = await startLocalStack(loadConfig({ PORT: String(port), COGNITO_LOCAL_PORT: String(cognitoPort), SES_LOCAL_PORT: String(sesPort), LOCAL_DATA_DIR: dataDir }))
    const app = await buildApp(stack.config, { localMode: true, logStream: new LogCapture() })
    try {
      const login = await app.inject({ method: 'GET', url: '/auth/login', headers: { host: `127.0.0.1:${port}` } })
      const authorize = new URL(login.headers.location as string)
      redirectUris.push(authorize.searchParams.get('redirect_uri')!)
      t.equal(redirectUris[run], `http://127.0.0.1:${port}/auth/callback`)
      const form = await fetch(authorize, { signal: AbortSignal.timeout(5000) })
      t.equal(form.status, 200, `run ${run + 1}: the pool shows its login form for this redirect URI`)
      if (run === 1) {
        const stale = new URL(authorize)
        stale.searchParams.set('redirect_uri', redirectUris[0]!)
        t.equal((await fetch(stale, { signal: AbortSignal.timeout(5000) })).status, 400, 'the previous port is no longer registered')
      }
    } finally {
      await app.close()
      await stack.stop()
    }
  }
})
