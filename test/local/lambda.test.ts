// The local Lambda endpoint: Invoke (RequestResponse) runs the trigger's handle in-process; errors come back Lambda-style.
import t from 'tap'
import { FUNCTION_NAMES, startLocalLambda } from '../../src/local/lambda.js'
import { readMailbox, startMailbox } from '../../src/local/mailbox.js'
import { jsonLogger } from '../../triggers/lib/log.js'

const mailbox = await startMailbox({ port: 0 })
t.teardown(mailbox.close)
const logs: string[] = []
const lambda = await startLocalLambda({
  env: {
    EMAIL_FROM: 'IMS <no-reply@ims.test>',
    SES_REGION: 'local',
    SES_ENDPOINT: mailbox.url,
    CES_RAW_AES_KEY_HEX: '11'.repeat(32),
    TRIGGERS_LOCAL_MODE: 'true',
    ROLE_GROUPS: '{"ADMIN": ["ims-admins"]}'
  },
  log: jsonLogger((line) => logs.push(line))
})
t.teardown(lambda.close)

async function invoke (name: string, payload: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(`${lambda.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': 'RequestResponse', 'content-type': 'application/json', ...headers },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload)
  })
}

const preTokenEvent = {
  version: '0',
  triggerSource: 'TokenGeneration_Authentication',
  region: 'local',
  userPoolId: 'local_pool',
  userName: 'u',
  callerContext: { awsSdkVersion: '2.0.0', clientId: 'c' },
  request: { userAttributes: {}, groupConfiguration: { groupsToOverride: ['ims-admins'] } },
  response: { claimsOverrideDetails: {} }
}

t.test('listens on loopback and names one function per trigger', async (t) => {
  t.match(lambda.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.same(lambda.functions, FUNCTION_NAMES)
})

t.test('a successful invocation answers the handler\'s result, with the env given at start', async (t) => {
  const res = await invoke(lambda.functions.PreTokenGeneration, preTokenEvent)
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-amz-function-error'), null)
  t.match(await res.json(), { response: { claimsOverrideDetails: { claimsToAddOrOverride: { 'ims:roles': 'ADMIN' } } } })
})

t.test('a function ARN works as the name', async (t) => {
  const res = await invoke(`arn:aws:lambda:local:000000000000:function:${lambda.functions.PreTokenGeneration}`, preTokenEvent)
  t.equal(res.status, 200)
})

t.test('a thrown error becomes a Lambda function error, and nothing is sent', async (t) => {
  const before = (await readMailbox(mailbox.url)).length
  const res = await invoke(lambda.functions.CustomEmailSender, {
    version: '0', triggerSource: 'CustomEmailSender_Nope', region: 'local', userPoolId: 'local_pool', userName: 'u',
    callerContext: {}, request: { type: 'customEmailSenderRequestV1', code: null, userAttributes: { email: 'x@example.com' } }, response: {}
  })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-amz-function-error'), 'Unhandled')
  t.match(await res.json(), { errorType: 'UnknownTriggerSourceError', errorMessage: /CustomEmailSender_Nope/ })
  t.equal((await readMailbox(mailbox.url)).length, before)
})

t.test('unknown functions, other invocation types and bad JSON are refused like Lambda does', async (t) => {
  const missing = await invoke('no-such-function', {})
  t.equal(missing.status, 404)
  t.equal(missing.headers.get('x-amzn-errortype'), 'ResourceNotFoundException')
  const event = await invoke(lambda.functions.PreTokenGeneration, preTokenEvent, { 'x-amz-invocation-type': 'Event' })
  t.equal(event.status, 400)
  const bad = await invoke(lambda.functions.PreTokenGeneration, '{nope')
  t.equal(bad.status, 400)
  t.equal(bad.headers.get('x-amzn-errortype'), 'InvalidRequestContentException')
})

t.test('a misconfigured environment stops the start with the variable named', async (t) => {
  await t.rejects(startLocalLambda({ env: { SES_REGION: 'local', CES_RAW_AES_KEY_HEX: '11'.repeat(32) } }), /EMAIL_FROM is not set/)
  await t.rejects(startLocalLambda({ env: { EMAIL_FROM: 'a@b.c', SES_REGION: 'local', CES_RAW_AES_KEY_HEX: '11'.repeat(32), NODE_ENV: 'production' } }), /refused when NODE_ENV=production/)
})
