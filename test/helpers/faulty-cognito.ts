// A real cognito-local behind a loopback proxy that can turn slow or drop its key endpoint, for the fault tests.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { startEmulator, type Emulator, type EmulatorOptions } from './emulator.js'
import { freePort } from './ports.js'

/** What the proxy does to the key endpoint (`/.well-known/jwks.json`). */
export type KeyEndpointFault = 'none' | 'refuse' | 'hang'

/** An emulator whose `endpoint` is the proxy; the tokens name the proxy as their issuer. */
export interface FaultyCognito extends Emulator {
  /**
   * Delays every Cognito API call (not the key endpoint), or only those of `operations` when named, by `ms` from now on:
   * it reaches cognito-local that much later. 0 turns it off.
   */
  slowApi: (ms: number, ...operations: string[]) => void
  /** Sends each call of the `operations` (e.g. ChangePassword) on at once but holds its answer `ms`: it takes effect, the caller hears late. 0 turns it off. */
  lateAnswers: (ms: number, ...operations: string[]) => void
  /** Breaks the key endpoint: `refuse` drops each connection, `hang` never answers. */
  keyEndpoint: (fault: KeyEndpointFault) => void
  /**
   * Refuses, as a real pool whose app client may not write `attribute` does (NotAuthorizedException), each SignUp that
   * sets it; cognito-local lets any attribute be written. undefined turns it off.
   */
  refuseWrites: (attribute: string | undefined) => void
  /** Answers each call of `operation` (e.g. DescribeUserPoolClient) as AWS does a role not allowed it; '' turns it off. */
  deny: (operation: string) => void
  /**
   * Answers ListUserPoolClientSecrets, which cognito-local lacks, as a real pool does for an app client holding `count`
   * secrets (one added by AddUserPoolClientSecret, which DescribeUserPoolClient never shows): their ids, no values.
   * undefined turns it off.
   */
  clientSecrets: (count: number | undefined) => void
  /** How many requests reached the key endpoint through the proxy. */
  readonly keyFetches: number
  /** Every Cognito API call that went through the proxy, in order: its operation (InitiateAuth, ...) and JSON body. */
  readonly calls: ReadonlyArray<{ operation: string, body: Record<string, unknown> }>
  /** The operations of those calls in the order they reached cognito-local (a slowed call reaches it late). */
  readonly reached: readonly string[]
}

/** Starts cognito-local (users are made directly on it) and a proxy in front of it, which the app is pointed at. */
export async function startFaultyCognito (options: Pick<EmulatorOptions, 'code'> = {}): Promise<FaultyCognito> {
  const port = await freePort()
  const proxyUrl = `http://127.0.0.1:${port}`
  let apiDelayMs = 0
  let slowOperations = new Set<string>()
  let answerDelayMs = 0
  let lateOperations = new Set<string>()
  let keyFault: KeyEndpointFault = 'none'
  let keyFetches = 0
  let unwritable: string | undefined
  let deniedOperation = ''
  let secretCount: number | undefined
  const calls: Array<{ operation: string, body: Record<string, unknown> }> = []
  const reached: string[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let target = ''

  /** Answers as Cognito refuses a call: 400 with the exception's name and message. */
  const refuse = (outgoing: ServerResponse, exception: string, message: string): void => {
    outgoing.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' })
    outgoing.end(JSON.stringify({ __type: exception, message }))
  }

  const forward = (incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer): void => {
    const operation = String(incoming.headers['x-amz-target'] ?? '').split('.').at(-1) ?? ''
    if (operation !== '') reached.push(operation)
    const delay = lateOperations.has(operation) ? answerDelayMs : 0
    const upstream = httpRequest(`${target}${incoming.url ?? '/'}`, { method: incoming.method, headers: incoming.headers }, (answer) => {
      const pass = (): void => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(outgoing)
      }
      if (delay === 0) { pass(); return }
      const timer = setTimeout(() => { timers.delete(timer); pass() }, delay)
      timers.add(timer)
    })
    upstream.on('error', () => { outgoing.destroy() })
    upstream.end(body)
  }

  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const body = Buffer.concat(chunks)
      if ((incoming.url ?? '').endsWith('/.well-known/jwks.json')) {
        keyFetches++
        if (keyFault === 'refuse') { incoming.socket.destroy(); return }
        if (keyFault === 'hang') return
        forward(incoming, outgoing, body)
        return
      }
      const operation = String(incoming.headers['x-amz-target'] ?? '').split('.').at(-1) ?? ''
      const parsed = operation === '' ? {} : JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>
      if (operation !== '') calls.push({ operation, body: parsed })
      if (operation === 'SignUp' && (parsed.UserAttributes as Array<{ Name: string }> | undefined)?.some((a) => a.Name === unwritable) === true) {
        refuse(outgoing, 'NotAuthorizedException', 'A client attempted to write unauthorized attribute')
        return
      }
      if (operation !== '' && operation === deniedOperation) {
        refuse(outgoing, 'AccessDeniedException', `User: arn:aws:sts::123456789012:assumed-role/ims-task/1 is not authorized to perform: cognito-idp:${operation}`)
        return
      }
      if (operation === 'ListUserPoolClientSecrets' && secretCount !== undefined) {
        outgoing.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
        outgoing.end(JSON.stringify({ ClientSecrets: Array.from({ length: secretCount }, (_, i) => ({ ClientSecretId: `${String(parsed.ClientId)}--${1767225600 + i}`, ClientSecretCreateDate: 1767225600 + i })) }))
        return
      }
      if (apiDelayMs === 0 || (slowOperations.size > 0 && !slowOperations.has(operation))) { forward(incoming, outgoing, body); return }
      const timer = setTimeout(() => { timers.delete(timer); forward(incoming, outgoing, body) }, apiDelayMs)
      timers.add(timer)
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))

  const emulator = await startEmulator({ ...options, issuerDomain: proxyUrl })
  target = emulator.endpoint
  return {
    ...emulator,
    endpoint: proxyUrl,
    slowApi: (ms, ...operations) => { apiDelayMs = ms; slowOperations = new Set(operations) },
    lateAnswers: (ms, ...operations) => { answerDelayMs = ms; lateOperations = new Set(operations) },
    keyEndpoint: (fault) => { keyFault = fault },
    refuseWrites: (attribute) => { unwritable = attribute },
    deny: (operation) => { deniedOperation = operation },
    clientSecrets: (count) => { secretCount = count },
    get keyFetches () { return keyFetches },
    calls,
    reached,
    stop: async () => {
      for (const timer of timers) clearTimeout(timer)
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
      await emulator.stop()
    }
  }
}

/** Runs `request` and returns its response and how long it took: what a caller of a slow Cognito waits. */
export async function timed<T> (request: () => Promise<T>): Promise<{ response: T, ms: number }> {
  const started = performance.now()
  const response = await request()
  return { response, ms: performance.now() - started }
}
