// Runs the server as `npm start` does, in a child process, for the tests of local mode and of start-up.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort } from './ports.js'

/** The demo users' password when IMS_DEMO_PASSWORD is unset. */
export const DEMO_PASSWORD = 'Ims-Demo-2026!'

/** A server started by startServer: its process, what it printed so far, its URL and how long it took to be ready. */
export interface Running { child: ChildProcessWithoutNullStreams, output: () => string, url: string, readyMs: number }

/** Spawns the server the way `npm start` does (`nodeArgs` go to Node first); `output` is stdout and stderr so far. */
export function spawnServer (env: Record<string, string>, nodeArgs: string[] = []): { child: ChildProcessWithoutNullStreams, output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts'], { env: { PATH: process.env.PATH ?? '', ...env } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return { child, output: () => output }
}

/** Runs the server the way `npm start` does and waits for its banner. */
export async function startServer (env: Record<string, string>, nodeArgs: string[] = []): Promise<Running> {
  const started = Date.now()
  const { child, output: read } = spawnServer(env, nodeArgs)
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const banner = /adapter\s+(http:\/\/\S+)/.exec(read())
    if (banner !== null) return { child, output: read, url: banner[1]!, readyMs: Date.now() - started }
    if (child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`the server did not start: ${read().slice(-800)}`)
}

/** Runs the server until it exits by itself (killed after `timeoutMs`, exit code null then). */
export async function runUntilExit (env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null, output: string }> {
  const { child, output } = spawnServer(env)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await exited
  clearTimeout(timer)
  return { code: child.signalCode === null ? code : null, output: output() }
}

/** The environment of a local-mode start on free ports, its state in a temp dir removed after `t`. */
export async function localEnv (t: Test): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ims-local-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  return {
    PORT: String(await freePort()),
    COGNITO_LOCAL_PORT: String(await freePort()),
    SES_LOCAL_PORT: String(await freePort()),
    LOCAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn'
  }
}

/** Stops the server with SIGTERM, as ECS does, and waits for it to exit (at most 10 s). */
export async function stopServer (running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve))
  running.child.kill('SIGTERM')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
}
