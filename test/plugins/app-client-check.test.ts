// The app client is read once the server listens: each setting that stops sign-ins is one error line naming its fix.
import t, { type Test } from 'tap'
import { CreateUserPoolClientCommand, type CreateUserPoolClientCommandInput } from '@aws-sdk/client-cognito-identity-provider'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { freePort } from '../helpers/ports.js'
import { LogCapture, testApp } from '../helpers/app.js'

let cognito: FaultyCognito

t.before(async () => { cognito = await startFaultyCognito() })
t.teardown(async () => { await cognito?.stop() })

/** Settings of an app client the adapter can use, as local mode makes it (src/local/bootstrap.ts). */
const WELL_SET_UP: Omit<CreateUserPoolClientCommandInput, 'UserPoolId' | 'ClientName'> = {
  ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
  EnableTokenRevocation: true
}

/** Creates an app client of the pool with `settings`; returns its id and its secret ('' without one). */
async function appClient (settings: Omit<CreateUserPoolClientCommandInput, 'UserPoolId' | 'ClientName'>): Promise<{ id: string, secret: string }> {
  const created = await cognito.client.send(new CreateUserPoolClientCommand({ UserPoolId: cognito.userPoolId, ClientName: `client-${Math.random()}`, ...settings }))
  return { id: created.UserPoolClient!.ClientId!, secret: created.UserPoolClient!.ClientSecret ?? '' }
}

/** Starts the app as the server does (listen), closes it, and returns what it logged. */
async function startUp (env: Record<string, string>): Promise<LogCapture> {
  const logs = new LogCapture()
  const app = await testApp(cognito, env, { logStream: logs })
  await app.listen({ port: 0, host: '127.0.0.1' })
  await app.close()
  return logs
}

/** The lines about the app client: those naming it, an app client, or COGNITO_CLIENT_SECRET. */
const appClientLines = (logs: LogCapture): Array<Record<string, any>> =>
  logs.entries.filter((entry) => /app client|COGNITO_CLIENT_(SECRET|ID)/.test(String(entry.msg)))

/** Nothing an operator must not read: no AWS exception name or message, no stack. */
function plain (t: Test, logs: LogCapture): void {
  t.notMatch(logs.text, /Exception|AccessDenied|arn:aws|is not authorized|"stack"/, 'no AWS exception name or message and no stack in the log')
}

t.test('a client without ALLOW_USER_PASSWORD_AUTH: one error line saying to add it to the app client', async (t) => {
  const client = await appClient({ ...WELL_SET_UP, ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_USER_SRP_AUTH'] })
  const logs = await startUp({ COGNITO_CLIENT_ID: client.id })
  const lines = appClientLines(logs)
  t.equal(lines.length, 1, 'one line')
  t.equal(lines[0]?.level, 50, 'at error level')
  t.match(lines[0]?.msg, /ALLOW_USER_PASSWORD_AUTH/)
  t.match(lines[0]?.msg, client.id, 'naming the app client')
  t.match(lines[0]?.msg, /sign-in/)
  plain(t, logs)
})

t.test('a client without refresh or token revocation: one error line for each', async (t) => {
  const client = await appClient({ ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'], EnableTokenRevocation: false })
  const logs = await startUp({ COGNITO_CLIENT_ID: client.id })
  const lines = appClientLines(logs)
  t.equal(lines.length, 2, 'two lines')
  t.ok(lines.every((line) => line.level === 50), 'at error level')
  t.ok(lines.some((line) => /ALLOW_REFRESH_TOKEN_AUTH/.test(line.msg)), 'one says to allow refresh')
  t.ok(lines.some((line) => /token revocation/.test(line.msg)), 'one says to turn on token revocation')
  plain(t, logs)
})

t.test('a client with a secret and COGNITO_CLIENT_SECRET wrong or unset: a line naming COGNITO_CLIENT_SECRET, no secret', async (t) => {
  const client = await appClient({ ...WELL_SET_UP, GenerateSecret: true })
  t.not(client.secret, '', 'the emulator made a secret')
  const wrong = 'Wr0ng+client_secret_value_of_the_right_shape'
  for (const [what, env] of [['wrong', { COGNITO_CLIENT_SECRET: wrong }], ['unset', {}]] as const) {
    const logs = await startUp({ COGNITO_CLIENT_ID: client.id, ...env })
    const lines = appClientLines(logs)
    t.equal(lines.length, 1, `${what}: one line`)
    t.equal(lines[0]?.level, 50, `${what}: at error level`)
    t.match(lines[0]?.msg, /COGNITO_CLIENT_SECRET/, `${what}: naming the variable`)
    t.notOk(logs.text.includes(client.secret), `${what}: the client's secret is not in the log`)
    t.notOk(logs.text.includes(wrong), `${what}: nor the value given`)
    plain(t, logs)
  }
})

t.test('a client without a secret while COGNITO_CLIENT_SECRET is set: a line saying to unset it, not the value', async (t) => {
  const client = await appClient(WELL_SET_UP)
  const given = 'S0me+secret_value_given_to_a_public_client'
  const logs = await startUp({ COGNITO_CLIENT_ID: client.id, COGNITO_CLIENT_SECRET: given })
  const lines = appClientLines(logs)
  t.equal(lines.length, 1, 'one line')
  t.equal(lines[0]?.level, 50, 'at error level')
  t.match(lines[0]?.msg, /COGNITO_CLIENT_SECRET/)
  t.match(lines[0]?.msg, /no client secret/)
  t.notOk(logs.text.includes(given), 'the value given is not in the log')
  plain(t, logs)
})

t.test('a COGNITO_CLIENT_ID the pool has no app client by: a line naming COGNITO_CLIENT_ID', async (t) => {
  const logs = await startUp({ COGNITO_CLIENT_ID: 'nosuchclient0000000000000' })
  const lines = appClientLines(logs)
  t.equal(lines.length, 1, 'one line')
  t.equal(lines[0]?.level, 50, 'at error level')
  t.match(lines[0]?.msg, /COGNITO_CLIENT_ID/)
  plain(t, logs)
})

t.test('a well set-up client, with or without a secret, gives no such line; the check did run', async (t) => {
  const withSecret = await appClient({ ...WELL_SET_UP, GenerateSecret: true })
  for (const [what, env, id] of [
    ['the local-mode client', {}, cognito.clientId],
    ['a client with its secret', { COGNITO_CLIENT_ID: withSecret.id, COGNITO_CLIENT_SECRET: withSecret.secret }, withSecret.id]
  ] as const) {
    const before = cognito.calls.length
    const logs = await startUp(env)
    t.ok(cognito.calls.slice(before).some((call) => call.operation === 'DescribeUserPoolClient' && call.body.ClientId === id), `${what}: the app client was read`)
    t.same(appClientLines(logs), [], `${what}: no line about the app client`)
    t.notOk(logs.text.includes(withSecret.secret), `${what}: no secret in the log`)
  }
})

t.test('DescribeUserPoolClient refused to the task role: one line saying how to allow it; start-up and readiness go on', async (t) => {
  cognito.deny('DescribeUserPoolClient')
  t.teardown(() => { cognito.deny('') })
  const logs = new LogCapture()
  const app = await testApp(cognito, {}, { logStream: logs })
  t.teardown(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200, 'ready')
  await app.close()
  const lines = appClientLines(logs)
  t.equal(lines.length, 1, 'one line')
  t.ok(lines[0]?.level === 30 || lines[0]?.level === 40, 'at info or warn level, not error')
  t.match(lines[0]?.msg, /could not be checked/)
  t.match(lines[0]?.msg, /cognito-idp:DescribeUserPoolClient/, 'naming the permission to grant')
  plain(t, logs)
})

t.test('Cognito unreachable at start-up: one line saying the app client could not be checked; the app still starts', async (t) => {
  const logs = await startUp({ COGNITO_ENDPOINT: `http://127.0.0.1:${await freePort()}` })
  const lines = appClientLines(logs)
  t.equal(lines.length, 1, 'one line')
  t.ok(lines[0]?.level === 30 || lines[0]?.level === 40, 'at info or warn level, not error')
  t.match(lines[0]?.msg, /could not be checked/)
  plain(t, logs)
})

t.test('a client whose secret was rotated (AddUserPoolClientSecret) and COGNITO_CLIENT_SECRET the added one: no line calling it wrong, none saying to unset it', async (t) => {
  t.teardown(() => { cognito.clientSecrets(undefined) })
  const added = 'Added+secret_of_a_rotation_0123456789'
  // DescribeUserPoolClient shows the secret the client was made with, never one added since; both sign users in.
  const rotating = await appClient({ ...WELL_SET_UP, GenerateSecret: true })
  cognito.clientSecrets(2)
  const during = await startUp({ COGNITO_CLIENT_ID: rotating.id, COGNITO_CLIENT_SECRET: added })
  t.same(appClientLines(during).filter((line) => line.level === 50), [], 'while both secrets are active: no error line')
  // Once the first secret is deleted, DescribeUserPoolClient shows none, though the client keeps the added one.
  const rotated = await appClient(WELL_SET_UP)
  cognito.clientSecrets(1)
  const after = await startUp({ COGNITO_CLIENT_ID: rotated.id, COGNITO_CLIENT_SECRET: added })
  t.same(appClientLines(after).filter((line) => line.level === 50), [], 'after the first is deleted: no error line')
  t.notMatch(after.text, /unset COGNITO_CLIENT_SECRET/, 'nothing tells the operator to unset the secret every sign-in needs')
  t.notOk(during.text.includes(added) || after.text.includes(added), 'the secret is not in the log')
})

t.test('ListUserPoolClientSecrets refused to the task role: a COGNITO_CLIENT_SECRET unlike the one shown is not called wrong, one line says how to allow the check', async (t) => {
  cognito.deny('ListUserPoolClientSecrets')
  t.teardown(() => { cognito.deny('') })
  const client = await appClient({ ...WELL_SET_UP, ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'], GenerateSecret: true })
  const logs = await startUp({ COGNITO_CLIENT_ID: client.id, COGNITO_CLIENT_SECRET: 'Added+secret_of_a_rotation_0123456789' })
  const lines = appClientLines(logs)
  t.equal(lines.filter((line) => line.level === 50).length, 1, 'one error line: the missing flow, not the secret')
  t.match(lines.find((line) => line.level === 50)?.msg, /ALLOW_USER_PASSWORD_AUTH/)
  t.ok(lines.some((line) => line.level === 30 && /cognito-idp:ListUserPoolClientSecrets/.test(line.msg)), 'one line naming the permission to grant')
  plain(t, logs)
})
