// The shell: read the configuration, start the local stack in local mode, listen, and close gracefully.
import closeWithGrace from 'close-with-grace'
import { cognitoMode, ConfigError, loadConfig } from '../fastify.config.js'
import { buildApp, servesLoginPages } from './app.js'
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
  // Until close-with-grace listens, SIGTERM and SIGINT are held, not obeyed at once: the local stack's emulator and
  // mailbox, started meanwhile, would outlive this process and hold their ports.
  let held = false
  const hold = (): void => { held = true }
  process.once('SIGTERM', hold).once('SIGINT', hold)
  const local: LocalStack | undefined = cognitoMode(config) === 'local' ? await startLocalStack(config) : undefined
  let address: string
  try {
    const app = await buildApp(local?.config ?? config, { localMode: local !== undefined })
    const grace = closeWithGrace({ delay: 10_000, logger: { error: (failure: unknown) => { app.log.error(described(failure), 'while closing') } } }, async (event) => {
      // An uncaught exception or unhandled rejection (`err` is there, whatever it holds: a promise may be rejected with
      // anything, null included): say what it was, by name and message only (no stack, no data), and exit with 1.
      const crashed = 'err' in event
      const { err } = event
      if (crashed) app.log.error(described(err), 'uncaught error: closing')
      await app.close()
      await local?.stop()
      if (crashed) process.exit(1)
    })
    process.off('SIGTERM', hold).off('SIGINT', hold)
    if (held) return await grace.close()
    address = await app.listen({ port: config.server.port, host: config.server.host }).catch((error: unknown) => { throw listenRefusal(error, config.server) })
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
      ...(servesLoginPages(local.config, true) ? [`  login pages      ${address}/`] : []),
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

/** What failed, by name and message only (no stack, no data): for the log. */
function described (failure: unknown): Record<string, string> {
  if (failure instanceof Error) return { failure: failure.name, message: failure.message }
  return typeof failure === 'string' ? { failure: 'message', message: failure } : { failure: failure === null ? 'null' : typeof failure }
}

/** A listen failure that PORT or HOST explains, as a ConfigError naming the setting; any other failure as it is. */
function listenRefusal (error: unknown, { port, host }: { port: number, host: string }): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE') return new ConfigError(`PORT ${port} is in use on ${host}: another program listens there; stop it or set PORT to a free port.`)
  if (code === 'EACCES') return new ConfigError(`PORT ${port} may not be listened on by this user (ports below 1024 need privileges); set PORT to 1024 or above.`)
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConfigError(`HOST ${JSON.stringify(host)} is not an address of this machine (${code}); set HOST to one of its addresses, 127.0.0.1 or 0.0.0.0.`)
  }
  return error
}

main().catch((error: unknown) => {
  // A setting found wrong once the app reached what it names (say, REDIS_URL's server) is refused as loadConfig would.
  if (error instanceof ConfigError) process.stderr.write(`Refusing to start: ${error.message}\n`)
  else process.stderr.write(`The adapter could not start: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
