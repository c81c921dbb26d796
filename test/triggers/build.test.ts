// The build: one self-contained CommonJS bundle per trigger that exports a working `handler`.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { builtinModules, createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildTriggers, TRIGGERS } from '../../scripts/build.js'
import { readMailbox, startMailbox } from '../../src/local/mailbox.js'
import { startEmulator } from '../helpers/emulator.js'
import { takeoverEvent } from '../helpers/takeover-event.js'

const out = await mkdtemp(join(tmpdir(), 'ims-triggers-build-'))
t.teardown(async () => { await rm(out, { recursive: true, force: true }) })
const files = await buildTriggers(out)
const require = createRequire(join(out, 'index.js'))

// The SDK's optional SigV4a CRT signer is required inside a try/catch and is absent in Lambda too.
const OPTIONAL = new Set(['@aws-sdk/signature-v4-crt'])

t.test('one bundle per trigger, CommonJS, requiring only Node built-ins', async (t) => {
  t.same(files.map((f) => f.slice(out.length + 1)), TRIGGERS.map((name) => `${name}.js`))
  for (const file of files) {
    const code = await readFile(file, 'utf8')
    const required = [...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1] as string)
    const foreign = [...new Set(required)].filter((m) => !m.startsWith('node:') && !builtinModules.includes(m) && !OPTIONAL.has(m))
    t.same(foreign, [], `${file} is self-contained`)
    t.equal(typeof (require(file) as { handler?: unknown }).handler, 'function', `${file} exports handler`)
  }
})

t.test('the bundled pre-token handler runs with the environment of the process', async (t) => {
  const { handler } = require(join(out, 'pre-token-generation.js')) as { handler: (e: unknown) => Promise<{ response: unknown }> }
  const result = await handler({
    version: '1',
    triggerSource: 'TokenGeneration_Authentication',
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_ImsTest01',
    userName: 'minh',
    callerContext: {},
    request: { userAttributes: {}, groupConfiguration: { groupsToOverride: ['MANAGER'] } },
    response: { claimsOverrideDetails: null }
  })
  t.same(result.response, { claimsOverrideDetails: { claimsToAddOrOverride: { 'ims:roles': 'MANAGER' } } })
})

t.test('the bundled custom-message handler renders the IMS email', async (t) => {
  const { handler } = require(join(out, 'custom-message.js')) as { handler: (e: unknown) => Promise<{ response: { emailSubject: string, emailMessage: string } }> }
  const result = await handler({
    version: '1',
    triggerSource: 'CustomMessage_ForgotPassword',
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_ImsTest01',
    userName: 'minh',
    callerContext: {},
    request: { userAttributes: { locale: 'vi' }, codeParameter: '{####}', usernameParameter: null },
    response: {}
  })
  t.equal(result.response.emailSubject, 'Đặt lại mật khẩu IMS')
  t.match(result.response.emailMessage, /\{####\}/)
})

t.test('the bundled email sender sends an account takeover notification, looking the user up in the pool', async (t) => {
  const mailbox = await startMailbox({ port: 0 })
  t.teardown(mailbox.close)
  const cognito = await startEmulator()
  t.teardown(cognito.stop)
  // The bundle reads the environment of the process on its first call (outside Lambda), as it does at a cold start.
  Object.assign(process.env, {
    EMAIL_FROM: 'IMS <no-reply@ims.test>',
    SES_REGION: 'local',
    SES_ENDPOINT: mailbox.url,
    KMS_KEY_ARN: 'arn:aws:kms:local:000000000000:key/never-used',
    COGNITO_ENDPOINT: cognito.endpoint
  })
  const to = await cognito.user([])
  const { handler } = require(join(out, 'custom-email-sender.js')) as { handler: (e: unknown) => Promise<unknown> }
  await handler(takeoverEvent(cognito, to))
  const sent = (await readMailbox(mailbox.url)).filter((e) => e.destination.to.includes(to))
  t.same(sent.map((e) => e.subject), ['Unusual sign-in to your IMS account'])
})
