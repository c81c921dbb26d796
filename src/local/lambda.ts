// A local Lambda Invoke endpoint for cognito-local: runs the IMS triggers in-process (RequestResponse only).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadTriggerConfig, type TriggerEnv } from '../../triggers/config.js'
import * as customEmailSender from '../../triggers/custom-email-sender.js'
import * as customMessage from '../../triggers/custom-message.js'
import { jsonLogger, type TriggerLogger } from '../../triggers/lib/log.js'
import * as postConfirmation from '../../triggers/post-confirmation.js'
import * as preTokenGeneration from '../../triggers/pre-token-generation.js'

/** The cognito-local trigger names (keys of its `TriggerFunctions`) this endpoint serves. */
export type TriggerName = 'CustomEmailSender' | 'CustomMessage' | 'PreTokenGeneration' | 'PostConfirmation'

/** The Lambda function name of each trigger. */
export const FUNCTION_NAMES: Record<TriggerName, string> = {
  CustomEmailSender: 'ims-custom-email-sender',
  CustomMessage: 'ims-custom-message',
  PreTokenGeneration: 'ims-pre-token-generation',
  PostConfirmation: 'ims-post-confirmation'
}

/** A running local Lambda endpoint. */
export interface LocalLambda {
  endpoint: string
  functions: Record<TriggerName, string>
  close: () => Promise<void>
}

/** Options of {@link startLocalLambda}. */
export interface LocalLambdaOptions {
  port?: number
  host?: string
  /** The triggers' environment (validated here, as at a Lambda cold start). */
  env: TriggerEnv
  /** Where the triggers log (JSON lines on stdout by default). */
  log?: TriggerLogger
}

type Invoke = (event: unknown) => Promise<unknown>

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/

/** The function named in an Invoke URL (a name, or an ARN, URL-encoded); undefined for any other URL or a bad escape. */
function functionName (url: string): string | undefined {
  const match = INVOKE_PATH.exec(url.split('?')[0] ?? '')
  if (match === null) return undefined
  try {
    return decodeURIComponent(match[1] as string).split(':').at(-1)
  } catch {
    return undefined
  }
}

/**
 * Starts the endpoint: `POST /2015-03-31/functions/<name>/invocations` calls the trigger's `handle` with deps built
 * once from `env` and answers its result; a thrown error becomes a Lambda function error (HTTP 200,
 * `X-Amz-Function-Error: Unhandled`, `{errorType, errorMessage}`), as AWS answers it.
 */
export async function startLocalLambda ({ port = 0, host = '127.0.0.1', env, log = jsonLogger() }: LocalLambdaOptions): Promise<LocalLambda> {
  const config = loadTriggerConfig(env)
  const ces = customEmailSender.createCustomEmailSenderDeps(config.emailSender, log)
  const cm = customMessage.createCustomMessageDeps(config.customMessage, log)
  const ptg = preTokenGeneration.createPreTokenGenerationDeps(config.preToken, log)
  const pc = postConfirmation.createPostConfirmationDeps(config.postConfirmation, log)
  const byName = new Map<string, Invoke>([
    [FUNCTION_NAMES.CustomEmailSender, async (e) => await customEmailSender.handle(e as customEmailSender.CustomEmailSenderEvent, ces)],
    [FUNCTION_NAMES.CustomMessage, async (e) => await customMessage.handle(e as customMessage.CustomMessageEvent, cm)],
    [FUNCTION_NAMES.PreTokenGeneration, async (e) => await preTokenGeneration.handle(e as preTokenGeneration.PreTokenGenerationEvent, ptg)],
    [FUNCTION_NAMES.PostConfirmation, async (e) => await postConfirmation.handle(e as postConfirmation.PostConfirmationEvent, pc)]
  ])

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': crypto.randomUUID(), ...headers })
        res.end(JSON.stringify(body))
      }
      const name = functionName(req.url ?? '')
      const invoke = name === undefined ? undefined : byName.get(name)
      if (req.method !== 'POST' || invoke === undefined) {
        send(404, { Type: 'User', message: `Function not found: ${name ?? req.url ?? ''}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' })
        return
      }
      const invocationType = req.headers['x-amz-invocation-type'] ?? 'RequestResponse'
      if (invocationType !== 'RequestResponse') {
        send(400, { Type: 'User', message: 'Only RequestResponse invocations are supported locally.' }, { 'x-amzn-errortype': 'InvalidParameterValueException' })
        return
      }
      let event: unknown
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        send(400, { Type: 'User', message: 'Could not parse request body into json' }, { 'x-amzn-errortype': 'InvalidRequestContentException' })
        return
      }
      invoke(event).then(
        (result) => { send(200, result, { 'x-amz-executed-version': '$LATEST' }) },
        (err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err))
          send(200, { errorType: error.name, errorMessage: error.message }, { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' })
        }
      )
    })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve) })
  const address = server.address() as AddressInfo
  return {
    endpoint: `http://${host}:${address.port}`,
    functions: { ...FUNCTION_NAMES },
    close: async () => { await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }) }
  }
}
