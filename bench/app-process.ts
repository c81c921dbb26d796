// The bench's app in a process of its own, as production runs it: built from the settings the bench hands it, driven over IPC.
import { createHook } from 'node:async_hooks'
import { subscribe } from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { loadConfig } from '../fastify.config.js'
import { buildApp } from '../src/app.js'
import type { Session } from '../src/session/sessions.js'
import { SESSION_COOKIE } from '../src/plugins/session.js'
import { median } from './median.js'

/** The tokens of one signed-in user, which the sessions the bench makes hold. */
export interface BenchTokens { accessToken: string, refreshToken: string }

/** What the bench may ask of the app's process; each answer is the matching result. */
export interface Requests {
  /** The CPU time this process has spent so far (µs, user + system). */
  cpu: { args: null, result: number }
  /** Starts counting the promises this process creates. */
  countPromises: { args: null, result: null }
  /** Stops counting; the promises created since `countPromises`. */
  promisesCounted: { args: null, result: number }
  /** Extra RSS (MB) of `sessions` live sessions in the store, each with its own token strings (ask a fresh process). */
  sessionMemory: { args: { tokens: BenchTokens, sessions: number }, result: number }
  /** `sessions` sessions in the store and a file of their Cookie values, one per line. */
  makeSessions: { args: { tokens: BenchTokens, sessions: number }, result: { file: string, cookies: string[] } }
  /** Ends the sessions `makeSessions` made and removes their file. */
  endSessions: { args: null, result: null }
  /**
   * µs per call of the app's own authentication (`app.authenticate`, as the guards call it) for a request carrying
   * `headers` and `cookies`: the work a guard adds, without the HTTP around it.
   */
  authenticationCost: { args: { headers: Record<string, string>, cookies: Record<string, string> }, result: number }
  /** Starts collecting the time each request spends inside the app (its log line's responseTime), per path. */
  timeRequests: { args: null, result: null }
  /** Stops collecting; the median time inside the app per path (µs), since `timeRequests`. */
  requestTimes: { args: null, result: Record<string, number> }
  /** The median phases (ms) of the sign-ins since `timeRequests` (see SignInPhases). */
  signInPhases: { args: null, result: { before: number, waiting: number, after: number } }
}

export type Request = { [K in keyof Requests]: { id: number, name: K, args: Requests[K]['args'] } }[keyof Requests]
export type Answer = { id: number, result: unknown } | { id: number, error: string }
/** The first message: where the app listens. */
export interface Ready { url: string }

const gc = globalThis.gc ?? (() => { throw new Error('run with --expose-gc') })

/**
 * Where the app's log lines go: serialised as in production, then dropped (the load would otherwise flood the terminal).
 * While `timing` holds a map, each request's line also leaves its path and responseTime there: the time from Fastify's
 * first hook to the response written, the app's own part of a request (the HTTP parsing and the socket's are not in it).
 */
class LogSink extends Writable {
  timing: Map<string, number[]> | undefined

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    if (this.timing !== undefined) {
      const line = /"path":"([^"]*)".*"responseTime":([0-9.e-]+)/.exec(chunk.toString())
      if (line !== null) {
        const times = this.timing.get(line[1]!) ?? []
        times.push(Number(line[2]) * 1000)
        this.timing.set(line[1]!, times)
      }
    }
    callback()
  }
}

/**
 * The phases of each sign-in inside the app, told by Node's HTTP diagnostics channels while `collecting`: from its
 * arrival to the app's first call to Cognito, the wait until Cognito's last answer arrives, and from then to the response
 * written. The bench sends them one at a time, and the app calls nothing but Cognito meanwhile.
 */
class SignInPhases {
  collecting = false
  readonly before: number[] = []
  readonly waiting: number[] = []
  readonly after: number[] = []
  private current: { arrived: number, firstCall?: number, lastAnswer?: number } | undefined

  constructor () {
    subscribe('http.server.request.start', (message) => {
      const { request } = message as { request: IncomingMessage }
      this.current = this.collecting && request.url === '/auth/sign-in' ? { arrived: performance.now() } : undefined
    })
    subscribe('http.client.request.start', () => { if (this.current !== undefined) this.current.firstCall ??= performance.now() })
    subscribe('http.client.response.finish', () => { if (this.current !== undefined) this.current.lastAnswer = performance.now() })
    subscribe('http.server.response.finish', () => {
      const { arrived, firstCall, lastAnswer } = this.current ?? {}
      if (arrived !== undefined && firstCall !== undefined && lastAnswer !== undefined) {
        this.before.push(firstCall - arrived)
        this.waiting.push(lastAnswer - firstCall)
        this.after.push(performance.now() - lastAnswer)
      }
      this.current = undefined
    })
  }
}

async function sessionMemory (app: FastifyInstance, { tokens, sessions }: Requests['sessionMemory']['args']): Promise<number> {
  // Same lengths as real tokens, distinct strings (as real sessions would hold).
  const variant = (token: string, i: number): string => token.slice(0, -8) + String(i).padStart(8, '0')
  gc()
  const before = process.memoryUsage().rss
  for (let i = 0; i < sessions; i++) {
    await app.sessions.create({
      sub: randomUUID(),
      username: randomUUID(),
      email: `user-${i}@ims.test`,
      groups: ['LINE_LEADER'],
      accessToken: variant(tokens.accessToken, i),
      refreshToken: variant(tokens.refreshToken, i),
      accessExpiresAt: Date.now() + 3600_000
    })
  }
  gc()
  return (process.memoryUsage().rss - before) / 1024 / 1024
}

async function makeSessions (app: FastifyInstance, { tokens, sessions }: Requests['makeSessions']['args']): Promise<{ created: Session[], file: string, cookies: string[] }> {
  const created: Session[] = []
  for (let batch = 0; batch < sessions; batch += 100) {
    created.push(...await Promise.all(Array.from({ length: Math.min(100, sessions - batch) }, async () => await app.sessions.create({
      sub: randomUUID(), username: randomUUID(), email: null, groups: ['LINE_LEADER'], accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, accessExpiresAt: Date.now() + 3600_000
    }))))
  }
  const cookies = created.map((session) => `${SESSION_COOKIE}=${session.id}`)
  const file = join(await mkdtemp(join(tmpdir(), 'ims-bench-')), 'cookies.txt')
  await writeFile(file, cookies.join('\n'))
  return { created, file, cookies }
}

async function endSessions (app: FastifyInstance, made: { created: Session[], file: string }): Promise<void> {
  for (let batch = 0; batch < made.created.length; batch += 100) {
    await Promise.all(made.created.slice(batch, batch + 100).map(async (session) => { await app.sessions.destroy(session.id, session.record) }))
  }
  await rm(dirname(made.file), { recursive: true, force: true })
}

/** Calls timed per run, and runs (the median one counts). */
const CALLS = 20_000
const RUNS = 7

async function authenticationCost (app: FastifyInstance, { headers, cookies }: Requests['authenticationCost']['args']): Promise<number> {
  // What authenticate reads of a request; a fresh one per call, since it remembers the caller on the request.
  const request = (): FastifyRequest => ({ headers: { ...headers }, cookies, identity: undefined }) as unknown as FastifyRequest
  const reply = {} as unknown as FastifyReply
  // The first call may wait (keys, a session's first read); the timed ones answer at once, as repeat callers do.
  await app.authenticate(request(), reply)
  const runs: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint()
    for (let call = 0; call < CALLS; call++) {
      if (app.authenticate(request(), reply) instanceof Promise) throw new Error('a repeat caller was not answered at once')
    }
    runs.push(Number(process.hrtime.bigint() - started) / 1000 / CALLS)
  }
  return median(runs)
}

async function main (): Promise<void> {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('bench/app-process.ts runs as a child of bench/run.ts (an IPC channel)')
  const env = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>
  const logs = new LogSink()
  const phases = new SignInPhases()
  const app = await buildApp(loadConfig(env), { logStream: logs })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  let promises = 0
  const counter = createHook({ init (_id, type) { if (type === 'PROMISE') promises++ } })
  let made: { created: Session[], file: string } | undefined
  const answer = async (request: Request): Promise<unknown> => {
    switch (request.name) {
      case 'cpu': {
        const { user, system } = process.cpuUsage()
        return user + system
      }
      case 'countPromises':
        promises = 0
        counter.enable()
        return null
      case 'promisesCounted':
        counter.disable()
        return promises
      case 'sessionMemory':
        return await sessionMemory(app, request.args)
      case 'makeSessions': {
        const { created, file, cookies } = await makeSessions(app, request.args)
        made = { created, file }
        return { file, cookies }
      }
      case 'authenticationCost':
        return await authenticationCost(app, request.args)
      case 'timeRequests':
        logs.timing = new Map()
        phases.collecting = true
        return null
      case 'requestTimes': {
        const times = Object.fromEntries([...logs.timing ?? []].map(([path, values]) => [path, median(values)]))
        logs.timing = undefined
        return times
      }
      case 'signInPhases':
        phases.collecting = false
        return { before: median(phases.before), waiting: median(phases.waiting), after: median(phases.after) }
      case 'endSessions':
        if (made !== undefined) await endSessions(app, made)
        made = undefined
        return null
    }
  }
  process.on('message', (request: Request) => {
    answer(request).then(
      (result) => send({ id: request.id, result } satisfies Answer),
      (error: unknown) => send({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies Answer)
    )
  })
  // The bench ends this process by closing the channel (or by dying); the app closes first.
  process.once('disconnect', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  send({ url } satisfies Ready)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench app failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
