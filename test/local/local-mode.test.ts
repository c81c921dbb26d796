// `npm start` in local mode, as a newcomer runs it: the emulator, mailbox, pool and demo users, kept across restarts.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/ports.js'

const DEMO_PASSWORD = 'Ims-Demo-2026!'

interface Running { child: ChildProcessWithoutNullStreams, output: () => string, url: string, readyMs: number }

/** Runs the server the way `npm start` does and waits for its banner. */
async function startServer (env: Record<string, string>): Promise<Running> {
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { PATH: process.env.PATH ?? '', ...env } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const banner = /adapter\s+(http:\/\/\S+)/.exec(output)
    if (banner !== null) return { child, output: () => output, url: banner[1]!, readyMs: Date.now() - started }
    if (child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`the server did not start: ${output.slice(-800)}`)
}

async function stopServer (running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve))
  running.child.kill('SIGTERM')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
}

async function signIn (url: string, username: string, password = DEMO_PASSWORD) {
  const response = await fetch(`${url}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body: JSON.stringify({ username, password }) })
  return { status: response.status, body: await response.json() as Record<string, any> }
}

t.test('local mode starts everything, prints the URLs and logins, and keeps its pool across restarts', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ims-local-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const env = {
    PORT: String(await freePort()),
    COGNITO_LOCAL_PORT: String(await freePort()),
    SES_LOCAL_PORT: String(await freePort()),
    LOCAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn'
  }
  const first = await startServer(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  // Start-up time is a figure for the benchmark notes, not an assertion (it depends on the machine's load).
  t.comment(`ready in ${first.readyMs} ms`)
  for (const text of ['admin@ims.local', 'manager@ims.local', 'leader@ims.local', DEMO_PASSWORD, `127.0.0.1:${env.COGNITO_LOCAL_PORT}`, `127.0.0.1:${env.SES_LOCAL_PORT}`, '/docs']) {
    t.ok(first.output().includes(text), `the banner shows ${text}`)
  }
  for (const [username, role] of [['admin@ims.local', 'ADMIN'], ['manager@ims.local', 'MANAGER'], ['leader@ims.local', 'LINE_LEADER']]) {
    const { status, body } = await signIn(first.url, username!)
    t.equal(status, 200, `${username} signs in`)
    t.equal(body.user?.primaryRole, role)
  }
  const config = await (await fetch(`${first.url}/auth/config`)).json() as Record<string, string>
  t.equal(config.mode, 'local')
  const mailbox = await fetch(`http://127.0.0.1:${env.SES_LOCAL_PORT}/store`)
  t.equal(mailbox.status, 200, 'the local mailbox answers')
  const ready = await fetch(`${first.url}/health/ready`)
  t.equal(ready.status, 200)
  await stopServer(first)
  t.not(first.child.exitCode, null, 'it stops on SIGTERM')

  const second = await startServer(env)
  t.teardown(() => { second.child.kill('SIGKILL') })
  const again = await (await fetch(`${second.url}/auth/config`)).json() as Record<string, string>
  t.equal(again.userPoolId, config.userPoolId, 'the same pool after a restart')
  t.equal(again.clientId, config.clientId, 'the same app client')
  t.equal((await signIn(second.url, 'admin@ims.local')).status, 200, 'the demo users are still there')
  await stopServer(second)
})

t.test('local mode refuses NODE_ENV=production with a sentence saying why', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' } })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 1)
  t.match(output, /Refusing to start: COGNITO_USER_POOL_ID is not set and NODE_ENV=production/)
})
