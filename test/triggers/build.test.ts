// The build: one self-contained CommonJS bundle per trigger that exports a working `handler`.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { builtinModules, createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildTriggers, TRIGGERS } from '../../scripts/build.js'

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
