// Local mode: starts the mailbox, the triggers, cognito-local, bootstraps the pool and demo users; state under .local/.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ConfigError, type Config } from '../../fastify.config.js'
import { startCognitoLocal } from './cognito-local.js'
import { bootstrapPool, emulatorClient, DEMO_USERS } from './bootstrap.js'
import { startLocalTriggers } from './triggers-wiring.js'
import { callbackUrl } from '../cognito/hosted-ui.js'

/** The running local stack and the configuration that points the app at it. */
export interface LocalStack {
  config: Config
  cognitoEndpoint: string
  mailboxUrl: string
  demoUsers: ReadonlyArray<{ email: string, role: string }>
  stop: () => Promise<void>
}

/** The session key of local mode: SESSION_ENCRYPTION_KEY when set, else one generated once and kept in the data dir. */
async function localSessionKey (config: Config, dataDir: string): Promise<string> {
  if (config.session.encryptionKey !== '') return config.session.encryptionKey
  const file = join(dataDir, 'session-key')
  const existing = await readFile(file, 'utf8').catch(() => '')
  if (/^[0-9a-f]{64}$/.test(existing.trim())) return existing.trim()
  const key = randomBytes(32).toString('hex')
  await writeFile(file, key, { mode: 0o600 })
  return key
}

/** Creates the folder of local mode's state; one that cannot be a folder is refused by its setting's name. */
async function makeDataDir (dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === undefined) throw error
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : `the system refused (${code})`
    throw new ConfigError(`LOCAL_DATA_DIR ${dataDir} cannot be made the folder of local mode's state: ${why}; set LOCAL_DATA_DIR to a folder this user may write.`)
  }
}

/** Starts everything local mode needs and returns the configuration resolved against it. */
export async function startLocalStack (config: Config): Promise<LocalStack> {
  const dataDir = resolve(config.local.dataDir)
  await makeDataDir(dataDir)
  const cognitoEndpoint = `http://127.0.0.1:${config.local.cognitoPort}`
  const triggers = await startLocalTriggers({
    sesPort: config.local.sesPort,
    env: { NODE_ENV: config.nodeEnv, ROLE_GROUPS: JSON.stringify(config.roles.groups), COGNITO_ENDPOINT: cognitoEndpoint }
  })
  let cognito
  try {
    cognito = await startCognitoLocal({ port: config.local.cognitoPort, dataDir: join(dataDir, 'cognito'), extraConfig: { ...triggers.cognitoConfig } })
  } catch (error) {
    await triggers.close()
    throw error
  }
  const stop = async (): Promise<void> => {
    await cognito.stop()
    await triggers.close()
  }
  try {
    const client = emulatorClient(cognito.endpoint)
    const pool = await bootstrapPool(client, {
      poolName: 'ims-local',
      clientName: 'ims-bff',
      demoPassword: config.local.demoPassword,
      lambdaConfig: triggers.poolSettings.LambdaConfig,
      callbackUrls: [callbackUrl(config)]
    })
    client.destroy()
    const resolved: Config = {
      ...config,
      cognito: { ...config.cognito, endpoint: cognito.endpoint, userPoolId: pool.userPoolId, clientId: pool.clientId },
      session: { ...config.session, encryptionKey: await localSessionKey(config, dataDir) }
    }
    return { config: resolved, cognitoEndpoint: cognito.endpoint, mailboxUrl: triggers.mailboxUrl, demoUsers: DEMO_USERS, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
