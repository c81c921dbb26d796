// Runs cognito-local (the Cognito emulator) as a child process on loopback, its data in a folder of ours.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { openSync, closeSync } from 'node:fs'

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

async function waitUntilUp (endpoint: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = await readFile(logFile, 'utf8').catch(() => '')
      throw new Error(`cognito-local exited at start-up (code ${child.exitCode}); its log ends: ${log.slice(-500)}`)
    }
    try {
      const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(500) })
      if (response.ok) return
    } catch { /* not up yet */ }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`cognito-local did not answer on ${endpoint} within ${timeoutMs} ms (is COGNITO_LOCAL_PORT free?)`)
}

/** Starts cognito-local on 127.0.0.1:`port` and resolves once it answers. */
export async function startCognitoLocal (options: CognitoLocalOptions): Promise<CognitoLocal> {
  const endpoint = `http://127.0.0.1:${options.port}`
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
  await waitUntilUp(endpoint, child, logFile, options.startTimeoutMs ?? 10_000)
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
