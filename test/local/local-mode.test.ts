// `npm start` in local mode, as a newcomer runs it: the emulator, mailbox, pool and demo users, kept across restarts; busy ports refused; crashes logged.
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startBareEmulator, uniqueEmail } from '../helpers/emulator.js'
import { waitForEmail } from '../../src/local/mailbox.js'
import { DEMO_PASSWORD, localEnv, runUntilExit, spawnServer, startServer, stopServer } from '../helpers/local-server.js'
import { portFree } from '../helpers/ports.js'

async function signIn (url: string, username: string, password = DEMO_PASSWORD) {
  const response = await fetch(`${url}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body: JSON.stringify({ username, password }) })
  return { status: response.status, body: await response.json() as Record<string, any> }
}

t.test('local mode starts everything, prints the URLs and logins, and keeps its pool across restarts', async (t) => {
  const env = await localEnv(t)
  const first = await startServer(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  // Start-up time is a figure for the benchmark notes, not an assertion (it depends on the machine's load).
  t.comment(`ready in ${first.readyMs} ms`)
  for (const text of ['admin@ims.local', 'manager@ims.local', 'leader@ims.local', DEMO_PASSWORD, `127.0.0.1:${env.COGNITO_LOCAL_PORT}`, `127.0.0.1:${env.SES_LOCAL_PORT}`, '/docs', 'login pages']) {
    t.ok(first.output().includes(text), `the banner shows ${text}`)
  }
  for (const [username, role] of [['admin@ims.local', 'ADMIN'], ['manager@ims.local', 'MANAGER'], ['leader@ims.local', 'LINE_LEADER']]) {
    const { status, body } = await signIn(first.url, username!)
    t.equal(status, 200, `${username} signs in`)
    t.equal(body.user?.primaryRole, role)
  }
  // Self sign-up in the language the user's client asks for (Accept-Language): the emails come in it.
  for (const [acceptLanguage, subject] of [['vi-VN,vi;q=0.9,en;q=0.8', 'Xác nhận tài khoản IMS của bạn'], ['en-US,en;q=0.9', 'Confirm your IMS account']]) {
    const email = uniqueEmail('locale')
    const signedUp = await fetch(`${first.url}/auth/sign-up`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf': '1', 'accept-language': acceptLanguage! },
      body: JSON.stringify({ username: email, password: 'Sign-Up-Passw0rd!', email })
    })
    t.equal(signedUp.status, 202)
    const mail = await waitForEmail(`http://127.0.0.1:${env.SES_LOCAL_PORT}`, email, { timeoutMs: 10_000 })
    t.equal(mail.subject, subject, `a sign-up asking for ${acceptLanguage} gets its email in that language`)
  }
  const config = await (await fetch(`${first.url}/auth/config`)).json() as Record<string, string>
  t.equal(config.mode, 'local')
  const mailbox = await fetch(`http://127.0.0.1:${env.SES_LOCAL_PORT}/store`)
  t.equal(mailbox.status, 200, 'the local mailbox answers')
  const ready = await fetch(`${first.url}/health/ready`)
  t.equal(ready.status, 200)
  await stopServer(first)
  t.not(first.child.exitCode, null, 'it stops on SIGTERM')

  // A restart with another IMS_DEMO_PASSWORD: the kept demo users take it, as the banner says. No pages: none announced.
  const newPassword = 'Other-Demo-2027?'
  const second = await startServer({ ...env, IMS_DEMO_PASSWORD: newPassword, SERVE_LOGIN_PAGES: 'false' })
  t.teardown(() => { second.child.kill('SIGKILL') })
  const again = await (await fetch(`${second.url}/auth/config`)).json() as Record<string, string>
  t.equal(again.userPoolId, config.userPoolId, 'the same pool after a restart')
  t.equal(again.clientId, config.clientId, 'the same app client')
  t.ok(second.output().includes(`demo logins (password ${newPassword})`), 'the banner shows the new password')
  t.notOk(second.output().includes('login pages'), 'and no login pages, with SERVE_LOGIN_PAGES=false')
  for (const username of ['admin@ims.local', 'manager@ims.local', 'leader@ims.local']) {
    t.equal((await signIn(second.url, username, newPassword)).status, 200, `${username} signs in with the password the banner shows`)
  }
  t.equal((await signIn(second.url, 'admin@ims.local')).status, 401, 'the old password no longer works')
  await stopServer(second)
})

t.test('a request the local Lambda endpoint cannot decode is refused, and the adapter keeps running', async (t) => {
  const env = await localEnv(t)
  const server = await startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  // The endpoint listens on a free port that local mode writes into cognito-local's configuration.
  const cognitoConfig = JSON.parse(await readFile(join(env.LOCAL_DATA_DIR!, 'cognito', '.cognito', 'config.json'), 'utf8')) as { LambdaClient: { endpoint: string } }
  for (const name of ['%E0', '%', 'arn%3Aaws%3Alambda%3Alocal%3A0%3Afunction%3A%ZZ']) {
    const response = await fetch(`${cognitoConfig.LambdaClient.endpoint}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{}' })
    t.equal(response.status, 404, `${name}: not found`)
    t.equal(response.headers.get('x-amzn-errortype'), 'ResourceNotFoundException', name)
  }
  t.equal(server.child.exitCode, null, 'the process is alive')
  t.equal((await fetch(`${server.url}/health/live`)).status, 200, 'and the adapter answers')
  await stopServer(server)
})

/**
 * Starts local mode with a real unhandled rejection raised inside the server process on demand (SIGWINCH, otherwise
 * ignored), rejected with `reason` (JavaScript source), raises it, and answers the exit code and the JSON log lines.
 */
async function crash (t: Test, reason: string): Promise<{ env: Record<string, string>, code: number | null, lines: Array<Record<string, unknown>> }> {
  const env = await localEnv(t)
  const server = await startServer(env, ['--import', `data:text/javascript,process.on("SIGWINCH", () => { Promise.reject(${reason}) })`])
  t.teardown(() => { server.child.kill('SIGKILL') })
  const exited = new Promise<number | null>((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGWINCH')
  const code = await exited
  const lines = server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
  return { env, code, lines }
}

t.test('an uncaught error is logged by name and message, error level, before the process exits', async (t) => {
  const { code, lines } = await crash(t, 'new RangeError("the disk is on fire")')
  t.equal(code, 1, 'it exits with 1')
  const logged = lines.find((line) => line.msg === 'uncaught error: closing')
  t.match(logged, { level: 50, failure: 'RangeError', message: 'the disk is on fire' }, 'one error line names it')
  t.notMatch(JSON.stringify(logged), /\sat\s|stack/, 'no stack trace')
})

t.test('a promise rejected with null still closes everything: the emulator does not outlive the adapter', async (t) => {
  const { env, code, lines } = await crash(t, 'null')
  t.equal(code, 1, 'it exits with 1')
  t.match(lines.find((line) => line.msg === 'uncaught error: closing'), { level: 50, failure: 'null' }, 'one error line says what it was')
  // The embedded cognito-local was stopped with the adapter: its port is free again.
  t.ok(await portFree(Number(env.COGNITO_LOCAL_PORT)), 'COGNITO_LOCAL_PORT is free again')
})

t.test('local mode refuses a COGNITO_LOCAL_PORT that another emulator holds, instead of using that one', async (t) => {
  const env = await localEnv(t)
  const foreign = await startBareEmulator({ port: Number(env.COGNITO_LOCAL_PORT) })
  t.teardown(foreign.stop)
  const { code, output } = await runUntilExit(env)
  t.equal(code, 1, 'start-up stops')
  t.match(output, `COGNITO_LOCAL_PORT ${env.COGNITO_LOCAL_PORT} is in use`)
  t.notMatch(output, /adapter\s+http/, 'no banner')
})

t.test('local mode refuses an SES_LOCAL_PORT another program holds, with a sentence naming it', async (t) => {
  const env = await localEnv(t)
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(Number(env.SES_LOCAL_PORT), '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const { code, output } = await runUntilExit(env)
  t.equal(code, 1, 'start-up stops')
  t.match(output, `SES_LOCAL_PORT ${env.SES_LOCAL_PORT} is in use`)
  t.notMatch(output, /Cannot read properties/)
})

t.test('a PORT another program holds stops start-up with a sentence naming it, and the emulator stops too', async (t) => {
  const env = await localEnv(t)
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(Number(env.PORT), '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const { code, output } = await runUntilExit(env)
  t.equal(code, 1, 'start-up stops')
  t.match(output, `Refusing to start: PORT ${env.PORT} is in use on 127.0.0.1`)
  t.ok(await portFree(Number(env.COGNITO_LOCAL_PORT)), 'COGNITO_LOCAL_PORT is free again')
})

t.test('SIGTERM while local mode is still starting stops the emulator it started, instead of leaving it behind', async (t) => {
  const env = await localEnv(t)
  const { child, output } = spawnServer(env)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  // The emulator listens first; the pool, its demo users and the app come after.
  const deadline = Date.now() + 30_000
  while (await portFree(Number(env.COGNITO_LOCAL_PORT)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notMatch(output(), /adapter\s+http/, 'the signal comes before the banner')
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
  const code = await exited
  clearTimeout(timer)
  t.equal(code, 0, 'it exits by itself, cleanly')
  t.notMatch(output(), /adapter\s+http/, 'without serving')
  t.ok(await portFree(Number(env.COGNITO_LOCAL_PORT)), 'COGNITO_LOCAL_PORT is free again: the emulator stopped with it')
  t.ok(await portFree(Number(env.SES_LOCAL_PORT)), 'and so is SES_LOCAL_PORT')
})

t.test('a LOCAL_DATA_DIR that is a file, or lies under one, stops start-up with a sentence naming LOCAL_DATA_DIR', async (t) => {
  const env = await localEnv(t)
  const file = join(env.LOCAL_DATA_DIR!, 'a-file')
  await writeFile(file, 'not a folder')
  for (const dataDir of [file, join(file, 'state')]) {
    const { code, output } = await runUntilExit({ ...env, LOCAL_DATA_DIR: dataDir })
    t.equal(code, 1, `${dataDir}: start-up stops`)
    t.match(output, `Refusing to start: LOCAL_DATA_DIR ${dataDir} cannot be made the folder of local mode's state: a file is in the way`, dataDir)
    t.notMatch(output, /EEXIST|ENOTDIR/, `${dataDir}: no raw system error`)
    t.ok(await portFree(Number(env.SES_LOCAL_PORT)), `${dataDir}: nothing was started`)
  }
})

t.test('local mode refuses two of PORT, COGNITO_LOCAL_PORT and SES_LOCAL_PORT set to one port, naming both', async (t) => {
  const env = await localEnv(t)
  for (const [first, second] of [['COGNITO_LOCAL_PORT', 'SES_LOCAL_PORT'], ['PORT', 'COGNITO_LOCAL_PORT'], ['PORT', 'SES_LOCAL_PORT']] as const) {
    const { code, output } = await runUntilExit({ ...env, [second]: env[first]! })
    t.equal(code, 1, `${first} = ${second}: start-up stops`)
    t.match(output, `Refusing to start: ${first} and ${second} are both ${env[first]!}`, `${first} = ${second}: named both`)
    t.notMatch(output, /is in use/, `${first} = ${second}: not mistaken for another program's port`)
    t.notMatch(output, /adapter\s+http/, `${first} = ${second}: no banner`)
  }
})

t.test('local mode refuses NODE_ENV=production with a sentence saying why', async (t) => {
  const { code, output } = await runUntilExit({ NODE_ENV: 'production' })
  t.equal(code, 1)
  t.match(output, /Refusing to start: COGNITO_USER_POOL_ID is not set and NODE_ENV=production/)
})
