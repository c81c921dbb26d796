// SIGTERM on `npm start` (as ECS stops a task): requests in flight are answered, then the process exits at once, cleanly, and leaves no emulator behind.
import { createServer, get, Agent, type IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { DEMO_PASSWORD, localEnv, startServer, type Running } from '../helpers/local-server.js'
import { portFree } from '../helpers/ports.js'

/** Well under close-with-grace's 10 s deadline, which the process used to wait out, and roomy on a loaded machine. */
const PROMPT_EXIT_MS = 7000

/** A local-mode server whose IMS API answers after `delayMs`, and its environment. */
async function serverWithSlowApi (t: Test, delayMs: number): Promise<{ server: Running, env: Record<string, string> }> {
  const slow = createServer((_request, response) => { setTimeout(() => { response.end('late') }, delayMs) })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { slow.closeAllConnections(); slow.close() })
  const env = { ...(await localEnv(t)), API_UPSTREAM_URL: `http://127.0.0.1:${(slow.address() as { port: number }).port}` }
  const server = await startServer(env)
  t.teardown(() => { if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL') })
  return { server, env }
}

/** The session cookie of the demo manager. */
async function managerCookie (url: string): Promise<string> {
  const response = await fetch(`${url}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body: JSON.stringify({ username: 'manager@ims.local', password: DEMO_PASSWORD }) })
  return (response.headers.get('set-cookie') ?? '').split(';')[0]!
}

/** GET `url` on a keep-alive connection: the status, headers and body. */
async function keepAliveGet (url: string, headers: Record<string, string>, agent: Agent): Promise<{ status: number, headers: IncomingHttpHeaders, body: string }> {
  return await new Promise((resolve, reject) => {
    get(url, { headers, agent }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, headers: response.headers, body }) })
    }).on('error', reject)
  })
}

/** Sends SIGTERM and resolves with the exit code and the milliseconds the process took to exit. */
function terminate (server: Running): { exited: Promise<{ code: number | null, ms: number }> } {
  const sentAt = Date.now()
  const exited = new Promise<{ code: number | null, ms: number }>((resolve) => server.child.once('exit', (code) => { resolve({ code, ms: Date.now() - sentAt }) }))
  server.child.kill('SIGTERM')
  return { exited }
}

/** Whether `port` is free within `withinMs` (an ended process's port may take a moment to be let go). */
async function freedWithin (port: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs
  while (!await portFree(port)) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return true
}

t.test('an /api request in flight on a keep-alive connection is answered with Connection: close, then the process exits 0 at once', async (t) => {
  const { server, env } = await serverWithSlowApi(t, 1000)
  const cookie = await managerCookie(server.url)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  t.equal((await keepAliveGet(`${server.url}/health/live`, {}, agent)).status, 200, 'the connection has served a request before')
  const inFlight = keepAliveGet(`${server.url}/api/planning/slow`, { cookie }, agent)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const { exited } = terminate(server)
  const answer = await inFlight
  t.equal(answer.status, 200, 'the request in flight is answered')
  t.equal(answer.body, 'late', 'with the body the upstream sent')
  t.equal(answer.headers.connection, 'close', 'and told the connection ends')
  const { code, ms } = await exited
  t.comment(`exit ${code} after ${ms} ms`)
  t.equal(code, 0, 'a clean exit')
  t.ok(ms < PROMPT_EXIT_MS, `the process exits soon after the answer (${ms} ms after SIGTERM), not at the 10 s deadline`)
  t.notMatch(server.output(), /killed by timeout/, 'no timeout in the log')
  for (const name of ['PORT', 'COGNITO_LOCAL_PORT', 'SES_LOCAL_PORT']) t.ok(await freedWithin(Number(env[name]), 2000), `${name} is free again`)
})

t.test('a connection that never sent a request does not hold the process: it is closed and the process exits 0 at once', async (t) => {
  const { server } = await serverWithSlowApi(t, 1000)
  const socket = connect(Number(new URL(server.url).port), '127.0.0.1')
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await new Promise((resolve) => socket.once('connect', resolve))
  const socketClosed = new Promise<void>((resolve) => socket.once('close', () => { resolve() }))
  const { exited } = terminate(server)
  const { code, ms } = await exited
  t.comment(`exit ${code} after ${ms} ms`)
  t.equal(code, 0, 'a clean exit')
  t.ok(ms < PROMPT_EXIT_MS, `the process exits at once (${ms} ms after SIGTERM), not at the 10 s deadline`)
  await socketClosed
  t.pass('the idle connection was closed')
})

t.test('a process that ends without its orderly close (a second SIGTERM) still takes the emulator with it, so the next start finds its port free', async (t) => {
  const { server, env } = await serverWithSlowApi(t, 5000)
  const cognitoPort = Number(env.COGNITO_LOCAL_PORT)
  const cookie = await managerCookie(server.url)
  const inFlight = fetch(`${server.url}/api/planning/slow`, { headers: { cookie } }).then((response) => response.status, () => 'cut off')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const { exited } = terminate(server)
  await new Promise((resolve) => setTimeout(resolve, 300))
  server.child.kill('SIGTERM')
  const { code } = await exited
  t.comment(`exit ${code}; the request in flight: ${await inFlight}`)
  t.equal(code, 1, 'the second signal ends the process at once, with 1')
  t.ok(await freedWithin(cognitoPort, 3000), `COGNITO_LOCAL_PORT ${cognitoPort} is free again: the emulator ended with the adapter`)
})
