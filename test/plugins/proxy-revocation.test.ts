// Streams through /api end at once when what authorised them is revoked, on either of two instances sharing one Redis.
import { randomUUID } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { CSRF, LogCapture, cognitoTokens, signIn, testApp, twoInstances } from '../helpers/app.js'
import { redisLink } from '../helpers/redis.js'
import { TEST_SESSION_KEY, waitForAudit } from '../helpers/recovery.js'
import { startUpstream, type Upstream } from '../helpers/upstream.js'
import { pauseAfter } from '../helpers/pause-after.js'

/** cognito-local's fixed code, for the password reset. */
const CODE = '246810'
/** How soon a revoked stream must end once the revoking call has answered. */
const PROMPTLY_MS = 1000

let emulator: Emulator
let upstream: Upstream
let a: FastifyInstance
let b: FastifyInstance
const origins: Record<'A' | 'B', string> = { A: '', B: '' }
const logs = new LogCapture()

t.before(async () => {
  emulator = await startEmulator({ code: CODE })
  upstream = await startUpstream()
  ;[a, b] = await twoInstances(emulator, { API_UPSTREAM_URL: upstream.url, SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY }, { logStream: logs })
  origins.A = await a.listen({ port: 0, host: '127.0.0.1' })
  origins.B = await b.listen({ port: 0, host: '127.0.0.1' })
})
t.teardown(async () => {
  upstream?.release()
  await a?.close()
  await b?.close()
  await upstream?.close()
  await emulator?.stop()
})

/** A fresh user of `groups`, signed in on A: their email and cookie header. */
async function member (groups: string[]): Promise<{ email: string, cookie: string }> {
  const email = await emulator.user(groups)
  const { cookie, response } = await signIn(a, email, TEST_PASSWORD)
  if (cookie === '') throw new Error(`sign-in failed: ${response.body}`)
  return { email, cookie }
}

/** An SSE stream as a browser holds it: what it received so far, and whether and how it ended. */
interface Stream {
  received: () => string
  /** Resolves when the stream stops, whole ('end') or cut ('cut'). */
  ended: Promise<'end' | 'cut'>
  close: () => void
}

/** Opens the upstream's held SSE stream through /api on `origin`; resolves once its first event has arrived. */
async function openStream (origin: string, headers: Record<string, string>): Promise<Stream> {
  const { hostname, port } = new URL(origin)
  let received = ''
  let settle: (how: 'end' | 'cut') => void = () => {}
  const ended = new Promise<'end' | 'cut'>((resolve) => { settle = resolve })
  return await new Promise<Stream>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('no first event within 5 s')) }, 5000)
    const req = httpRequest({ hostname, port, path: `/api/shop-floor/live-${randomUUID().slice(0, 8)}/held`, headers: { ...headers, accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`the stream answered ${res.statusCode}`))
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        received += chunk
        clearTimeout(timer)
        resolve({ received: () => received, ended, close: () => { req.destroy() } })
      })
      res.on('end', () => { settle('end') })
      res.on('error', () => { settle('cut') })
      res.on('close', () => { settle(res.complete ? 'end' : 'cut') })
    })
    req.on('error', () => { settle('cut') })
    req.end()
  })
}

/** 'open' when the stream is still flowing after `ms`, else how it ended. */
async function stateAfter (stream: Stream, ms: number): Promise<'open' | 'end' | 'cut'> {
  return await Promise.race([stream.ended, sleep(ms).then(() => 'open' as const)])
}

/**
 * Runs `revoke` while `victim` streams and a stream of another user (on the other instance) streams too: the victim's
 * must end at once, before its second event; the other user's flows on to its end.
 */
async function expectCut (t: Test, victim: Stream, revoke: () => Promise<unknown>): Promise<void> {
  const bystander = await openStream(origins.B, { cookie: (await member(['LINE_LEADER'])).cookie })
  await revoke()
  t.equal(await stateAfter(victim, PROMPTLY_MS), 'cut', 'the revoked stream is cut at once')
  t.equal(victim.received(), 'data: first\n\n', 'and delivers nothing more')
  t.equal(await stateAfter(bystander, 100), 'open', 'another user\'s stream flows on')
  upstream.release()
  t.equal(await stateAfter(bystander, 5000), 'end', 'to its end')
  t.equal(bystander.received(), 'data: first\n\ndata: second\n\n', 'with every event')
  victim.close()
}

const post = async (app: FastifyInstance, url: string, headers: Record<string, string>, payload: object = {}): Promise<number> =>
  (await app.inject({ method: 'POST', url, headers, payload })).statusCode

for (const [name, app] of [['A', () => a], ['B', () => b]] as const) {
  t.test(`a cookie sign-out on ${name} ends the session's stream opened on A`, async (t) => {
    const { cookie } = await member(['MANAGER'])
    const stream = await openStream(origins.A, { cookie })
    await expectCut(t, stream, async () => { t.equal(await post(app(), '/auth/sign-out', { ...CSRF, cookie }), 204) })
  })
}

t.test('a bearer sign-out on B ends the stream opened with that token on A', async (t) => {
  const { accessToken } = await cognitoTokens(a, await emulator.user(['MANAGER']), TEST_PASSWORD)
  const stream = await openStream(origins.A, { authorization: `Bearer ${accessToken}` })
  await expectCut(t, stream, async () => { t.equal(await post(b, '/auth/sign-out', { authorization: `Bearer ${accessToken}` }), 204) })
})

t.test('"sign out everywhere" from another session on B ends the stream of the session on A', async (t) => {
  const { email, cookie } = await member(['MANAGER'])
  const other = await signIn(b, email, TEST_PASSWORD)
  const stream = await openStream(origins.A, { cookie })
  await expectCut(t, stream, async () => { t.equal(await post(b, '/auth/sign-out', { ...CSRF, cookie: other.cookie }, { global: true }), 204) })
})

for (const [action, method, path, payload] of [
  ['sign-out', 'POST', 'sign-out', {}],
  ['disable', 'POST', 'disable', {}],
  ['role change', 'PUT', 'roles', { roles: ['LINE_LEADER'] }]
] as const) {
  t.test(`an admin's ${action} of the user on B ends the user's streams on A, cookie and bearer`, async (t) => {
    const admin = await member(['ADMIN'])
    const { email, cookie } = await member(['MANAGER'])
    const { accessToken } = await cognitoTokens(a, email, TEST_PASSWORD)
    const cookieStream = await openStream(origins.A, { cookie })
    const bearerStream = await openStream(origins.A, { authorization: `Bearer ${accessToken}` })
    await expectCut(t, cookieStream, async () => {
      const response = await b.inject({ method, url: `/admin/users/${encodeURIComponent(email)}/${path}`, headers: { ...CSRF, cookie: admin.cookie }, payload })
      t.equal(response.statusCode, 200, `the ${action} is done`)
    })
    t.equal(await stateAfter(bearerStream, 0), 'cut', 'the bearer stream was cut too')
    bearerStream.close()
  })
}

t.test('a password change from another session on B ends the stream of the session on A', async (t) => {
  const { email, cookie } = await member(['MANAGER'])
  const other = await signIn(b, email, TEST_PASSWORD)
  const stream = await openStream(origins.A, { cookie })
  await expectCut(t, stream, async () => {
    t.equal(await post(b, '/auth/change-password', { ...CSRF, cookie: other.cookie }, { oldPassword: TEST_PASSWORD, newPassword: 'Chang3d-Passw0rd!' }), 204)
  })
})

t.test('a password reset on B ends the stream of the session on A', async (t) => {
  const { email, cookie } = await member(['MANAGER'])
  t.equal(await post(b, '/auth/forgot-password', {}, { username: email }), 202)
  await waitForAudit(logs, 'forgot-password', 'sent', email)
  const stream = await openStream(origins.A, { cookie })
  await expectCut(t, stream, async () => {
    t.equal(await post(b, '/auth/verify-otp', {}, { username: email, code: CODE, newPassword: 'Fresh-Passw0rd!' }), 200)
  })
})

t.test('a refresh on B (the session gets a new access token) leaves the stream on A flowing; the sign-out after it ends it', async (t) => {
  const { cookie } = await member(['MANAGER'])
  const stream = await openStream(origins.A, { cookie })
  const refreshed = await b.inject({ method: 'POST', url: '/auth/refresh', headers: { ...CSRF, cookie }, payload: {} })
  t.equal(refreshed.statusCode, 200)
  const moved = refreshed.cookies.find((c) => c.name === '__Host-ims-session')
  t.ok(moved, 'the session moved to a new id')
  t.equal(await stateAfter(stream, 300), 'open', 'the refresh does not cut the stream')
  await expectCut(t, stream, async () => { t.equal(await post(b, '/auth/sign-out', { ...CSRF, cookie: `__Host-ims-session=${moved!.value}` }), 204) })
})

t.test('an upload still being forwarded on A is cut by the sign-out on B, and one line says so', async (t) => {
  const { cookie } = await member(['MANAGER'])
  const { hostname, port } = new URL(origins.A)
  const body = new PassThrough()
  const req = httpRequest({ hostname, port, method: 'POST', path: `/api/shop-floor/upload-${randomUUID().slice(0, 8)}/slow`, headers: { ...CSRF, cookie, 'content-type': 'application/octet-stream' }, agent: false })
  const outcome = new Promise<string>((resolve) => {
    req.on('response', (res) => { resolve(`answered ${res.statusCode}`) })
    req.on('error', () => { resolve('cut') })
  })
  body.pipe(req)
  body.write(Buffer.alloc(64 * 1024, 1))
  await sleep(200)
  const before = logs.lines.length
  t.equal(await post(b, '/auth/sign-out', { ...CSRF, cookie }), 204)
  t.equal(await Promise.race([outcome, sleep(PROMPTLY_MS).then(() => 'still sending')]), 'cut', 'the upload is cut at once')
  req.destroy()
  const lines = logs.lines.slice(before).filter((line) => /revoked/.test(JSON.parse(line).msg))
  t.equal(lines.length, 1, 'one log line says why')
  t.equal(JSON.parse(lines[0] ?? '{}').level, 30, 'at info level')
  t.notOk(lines.join('\n').includes(new URL(upstream.url).host), 'naming no upstream host')
})

t.test('a sign-out on B that ends the session while the stream\'s own refresh on A is being written ends that stream too', async (t) => {
  const { cookie } = await member(['MANAGER'])
  // The session's access token is about to expire, so the call that opens the stream refreshes it first.
  const session = (await a.sessions.find(cookie.split('=')[1]))!
  await a.sessions.update(session, { accessToken: session.record.accessToken, accessExpiresAt: Date.now() + 30_000, groups: session.record.groups })
  // Just after A wrote the new tokens into the session, and before it forwards the call, the sign-out on B ends the
  // session (those new tokens included) and answers.
  let signedOut: number | undefined
  pauseAfter(a.store, 'replaceIfUnchanged')(async () => { signedOut = await post(b, '/auth/sign-out', { ...CSRF, cookie }) })
  const { hostname, port } = new URL(origins.A)
  let received = ''
  const ended = new Promise<string>((resolve) => {
    const req = httpRequest({ hostname, port, path: `/api/shop-floor/live-${randomUUID().slice(0, 8)}/held`, headers: { cookie, accept: 'text/event-stream' }, agent: false }, (res) => {
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { received += chunk })
      res.on('close', () => { resolve(res.complete ? `ended ${res.statusCode}` : 'cut') })
    })
    req.on('error', () => { resolve('cut') })
    req.end()
    t.teardown(() => { req.destroy() })
  })
  const outcome = await Promise.race([ended, sleep(2000).then(() => 'still streaming')])
  t.equal(signedOut, 204, 'the sign-out on B answered')
  t.not(outcome, 'still streaming', 'the call the sign-out revoked does not go on streaming')
  t.notOk(received.includes('data: first'), 'and delivers nothing')
  upstream.release()
})

t.test('a stream on an instance cut off from Redis while the sign-out on B ran is cut once that instance subscribes again', async (t) => {
  // C reaches the shared Redis through a link the test can cut; the revocation it misses meanwhile is lost to it.
  const link = await redisLink()
  const c = await testApp(emulator, { SESSION_STORE: 'redis', REDIS_URL: link.url, SESSION_ENCRYPTION_KEY: TEST_SESSION_KEY, AUTH_IP_LIMIT: '1000', API_UPSTREAM_URL: upstream.url })
  t.teardown(async () => { await c.close(); await link.close() })
  const { cookie } = await member(['MANAGER'])
  const stream = await openStream(await c.listen({ port: 0, host: '127.0.0.1' }), { cookie })
  const bystander = await openStream(origins.A, { cookie: (await member(['LINE_LEADER'])).cookie })
  link.cut({ newOnes: true })
  t.equal(await post(b, '/auth/sign-out', { ...CSRF, cookie }), 204, 'B signs the user out')
  // The path comes back without the bytes held on it: C subscribes again, on a new connection.
  link.reset()
  t.equal(await stateAfter(stream, 10_000), 'cut', 'the stream the sign-out revoked is cut once C hears from Redis again')
  t.equal(stream.received(), 'data: first\n\n', 'having delivered nothing more')
  t.equal((await c.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode, 401, 'as C refuses the session by then')
  t.equal(await stateAfter(bystander, 100), 'open', 'another user\'s stream flows on')
  upstream.release()
  t.equal(await stateAfter(bystander, 5000), 'end', 'to its end')
  stream.close()
})
