// The shell: read the configuration, start the local stack in local mode, listen, and close gracefully.
import closeWithGrace from 'close-with-grace'
import { cognitoMode, ConfigError, loadConfig } from '../fastify.config.js'
import { buildApp } from './app.js'
import { startLocalStack, type LocalStack } from './local/start-local.js'

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig(process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`Refusing to start: ${error.message}\n`)
    process.exit(1)
  }
  const local: LocalStack | undefined = cognitoMode(config) === 'local' ? await startLocalStack(config) : undefined
  let address: string
  try {
    const app = await buildApp(local?.config ?? config, { localMode: local !== undefined })
    closeWithGrace({ delay: 10_000 }, async (event) => {
      // An uncaught exception or unhandled rejection (`err` is there, whatever it holds: a promise may be rejected with
      // anything, null included): say what it was, by name and message only (no stack, no data), and exit with 1.
      const crashed = 'err' in event
      const { err } = event
      if (crashed) app.log.error(err instanceof Error ? { failure: err.name, message: err.message } : { failure: err === null ? 'null' : typeof err }, 'uncaught error: closing')
      await app.close()
      await local?.stop()
      if (crashed) process.exit(1)
    })
    address = await app.listen({ port: config.server.port, host: config.server.host })
  } catch (error) {
    // The emulator would keep its port, and the next start would fail.
    await local?.stop()
    throw error
  }
  if (local !== undefined) {
    const lines = [
      '',
      'IMS identity adapter: local mode',
      `  adapter          ${address}`,
      `  login pages      ${address}/`,
      `  API docs         ${address}/docs`,
      `  Cognito (local)  ${local.cognitoEndpoint}  pool ${local.config.cognito.userPoolId}, client ${local.config.cognito.clientId}`,
      `  mailbox          ${local.mailboxUrl}`,
      `  demo logins (password ${config.local.demoPassword}):`,
      ...local.demoUsers.map((user) => `    ${user.email.padEnd(20)} ${user.role}`),
      ''
    ]
    process.stdout.write(lines.join('\n') + '\n')
  }
}

main().catch((error: unknown) => {
  // A setting found wrong once the app reached what it names (say, REDIS_URL's server) is refused as loadConfig would.
  if (error instanceof ConfigError) process.stderr.write(`Refusing to start: ${error.message}\n`)
  else process.stderr.write(`The adapter could not start: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
