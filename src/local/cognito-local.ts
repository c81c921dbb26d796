// Runs cognito-local (the Cognito emulator) as a child process on loopback, its data in a folder of ours.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { closeSync, fstatSync, openSync } from 'node:fs'
import { ensurePortFree, portInUse } from './ports.js'

const require = createRequire(import.meta.url)

/** A running emulator. */
export interface CognitoLocal {
  /** `http://127.0.0.1:<port>`: the SDK endpoint, and the issuer's base. */
  endpoint: string
  port: number
  stop: () => Promise<void>
}

export interface CognitoLocalOptions {
  port: number
  /** Its `.cognito/` (config and database) lives here; reusing the folder keeps pools and users. */
  dataDir: string
  /** Merged into its config.json (trigger functions, Lambda and KMS clients). */
  extraConfig?: Record<string, unknown>
  /** Fixes every code and temporary password it generates (tests). */
  code?: string
  /** The base of the tokens' issuer when clients reach it through another address (a test's faulty proxy); default its own. */
  issuerDomain?: string
  /** How long to wait for it to answer. */
  startTimeoutMs?: number
}

/** What cognito-local wrote to its log since `offset` (the log is kept across starts). */
async function logSince (logFile: string, offset: number): Promise<string> {
  const handle = await open(logFile, 'r')
  try {
    const buffer = Buffer.alloc(Math.max(0, (await handle.stat()).size - offset))
    await handle.read(buffer, 0, buffer.length, offset)
    return buffer.toString('utf8')
  } finally {
    await handle.close()
  }
}

/**
 * Resolves once the child says it listens. Only its own word counts: another emulator already on the port would
 * answer /health just as well, while the child dies of EADDRINUSE.
 */
async function waitUntilUp (child: ChildProcess, port: number, logFile: string, logOffset: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const log = await logSince(logFile, logOffset)
    if (child.exitCode !== null) {
      if (log.includes('EADDRINUSE')) throw portInUse('COGNITO_LOCAL_PORT', port)
      throw new Error(`cognito-local exited at start-up (code ${child.exitCode}); its log ends: ${log.slice(-500)}`)
    }
    if (log.includes('Cognito Local running on')) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`cognito-local did not start on port ${port} within ${timeoutMs} ms (is COGNITO_LOCAL_PORT free?)`)
}

/** Starts cognito-local on 127.0.0.1:`port` and resolves once it listens; refuses a port another program holds. */
export async function startCognitoLocal (options: CognitoLocalOptions): Promise<CognitoLocal> {
  const endpoint = `http://127.0.0.1:${options.port}`
  await ensurePortFree('COGNITO_LOCAL_PORT', options.port, '127.0.0.1')
  const configDir = join(options.dataDir, '.cognito')
  await mkdir(configDir, { recursive: true })
  const config = {
    ...options.extraConfig,
    TokenConfig: { IssuerDomain: options.issuerDomain ?? endpoint },
    UserPoolDefaults: { UsernameAttributes: ['email'] }
  }
  await writeFile(join(configDir, 'config.json'), JSON.stringify(config, null, 2))
  const logFile = join(options.dataDir, 'cognito-local.log')
  const log = openSync(logFile, 'a')
  const logOffset = fstatSync(log).size
  const child = spawn(process.execPath, [require.resolve('cognito-local/lib/bin/start.js')], {
    cwd: options.dataDir,
    env: {
      PATH: process.env.PATH,
      PORT: String(options.port),
      HOST: '127.0.0.1',
      AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
      NODE_NO_WARNINGS: '1',
      ...(options.code === undefined ? {} : { CODE: options.code })
    },
    stdio: ['ignore', log, log]
  })
  closeSync(log)
  // However this process ends (close-with-grace's deadline, a second signal, process.exit anywhere), the emulator ends
  // with it: an orphan would keep COGNITO_LOCAL_PORT, and the next start would be refused. Only synchronous work runs
  // on 'exit', and sending a signal is.
  const endWithThisProcess = (): void => { child.kill('SIGTERM') }
  process.once('exit', endWithThisProcess)
  child.once('exit', () => { process.off('exit', endWithThisProcess) })
  await waitUntilUp(child, options.port, logFile, logOffset, options.startTimeoutMs ?? 10_000)
  return {
    endpoint,
    port: options.port,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
}
