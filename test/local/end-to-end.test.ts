// End to end: cognito-local calls the IMS triggers through the local Lambda and KMS; emails with working codes reach the mailbox.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  ConfirmForgotPasswordCommand,
  ConfirmSignUpCommand,
  CreateGroupCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
  ForgotPasswordCommand,
  InitiateAuthCommand,
  SignUpCommand
} from '@aws-sdk/client-cognito-identity-provider'
import { codeFromEmail, waitForEmail } from '../../src/local/mailbox.js'
import { startLocalTriggers } from '../../src/local/triggers-wiring.js'
import { jsonLogger } from '../../triggers/lib/log.js'

const COGNITO_BIN = fileURLToPath(new URL('../../node_modules/cognito-local/lib/bin/start.js', import.meta.url))
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts cognito-local with `config` as .cognito/config.json in a temp dir; ready when /health answers. */
async function startCognitoLocal (port: number, config: object): Promise<{ endpoint: string, close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ims-cognito-e2e-'))
  await mkdir(join(dir, '.cognito'))
  await writeFile(join(dir, '.cognito', 'config.json'), JSON.stringify(config, null, 2))
  const child = spawn(process.execPath, [COGNITO_BIN], { cwd: dir, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' })
  const endpoint = `http://127.0.0.1:${port}`
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(3000)])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) { await close(); throw new Error(`cognito-local exited with ${child.exitCode}`) }
    if (await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false)) return { endpoint, close }
    if (Date.now() > deadline) { await close(); throw new Error('cognito-local did not answer /health within 10 s') }
    await sleep(50)
  }
}

t.test('invitation, forgot password and sign-up emails carry codes that work, through cognito-local', async (t) => {
  const cognitoPort = await freePort()
  const logs: string[] = []
  const triggers = await startLocalTriggers({
    sesPort: 0,
    env: { DEFAULT_GROUP: 'LINE_LEADER', COGNITO_ENDPOINT: `http://127.0.0.1:${cognitoPort}` },
    log: jsonLogger((line) => logs.push(line))
  })
  t.teardown(triggers.close)
  const cognito = await startCognitoLocal(cognitoPort, triggers.cognitoConfig)
  t.teardown(cognito.close)
  const client = new CognitoIdentityProviderClient({ endpoint: cognito.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 })
  t.teardown(() => { client.destroy() })

  const pool = (await client.send(new CreateUserPoolCommand({ PoolName: 'ims-e2e', ...triggers.poolSettings }))).UserPool?.Id as string
  t.same((await client.send(new DescribeUserPoolCommand({ UserPoolId: pool }))).UserPool?.LambdaConfig, triggers.poolLambdaConfig, 'the pool describes its triggers')
  await client.send(new CreateGroupCommand({ UserPoolId: pool, GroupName: 'LINE_LEADER' }))
  const clientId = (await client.send(new CreateUserPoolClientCommand({ UserPoolId: pool, ClientName: 'ims-bff' }))).UserPoolClient?.ClientId as string
  const secrets: string[] = []

  // 1. AdminCreateUser: a Vietnamese invitation with the temporary password.
  const an = 'an.e2e@example.com'
  const temporaryPassword = 'Tmp&<1>"x9'
  await client.send(new AdminCreateUserCommand({
    UserPoolId: pool,
    Username: an,
    TemporaryPassword: temporaryPassword,
    DesiredDeliveryMediums: ['EMAIL'],
    UserAttributes: [{ Name: 'email', Value: an }, { Name: 'locale', Value: 'vi' }]
  }))
  const invitation = await waitForEmail(triggers.mailboxUrl, an, { match: (e) => e.subject === 'Tài khoản IMS của bạn đã sẵn sàng' })
  t.equal(codeFromEmail(invitation), temporaryPassword, 'the invitation carries the temporary password')
  t.match(invitation.from, 'no-reply@ims.local')
  secrets.push(temporaryPassword)

  // 2. ForgotPassword on the (now confirmed) user: the emailed code resets the password.
  await client.send(new AdminSetUserPasswordCommand({ UserPoolId: pool, Username: an, Password: 'Firstpass#2026', Permanent: true }))
  await client.send(new ForgotPasswordCommand({ ClientId: clientId, Username: an }))
  const reset = await waitForEmail(triggers.mailboxUrl, an, { match: (e) => e.subject === 'Đặt lại mật khẩu IMS' })
  const resetCode = codeFromEmail(reset) as string
  t.match(resetCode, /^\d{6}$/, 'a six-digit code')
  secrets.push(resetCode)
  await client.send(new ConfirmForgotPasswordCommand({ ClientId: clientId, Username: an, ConfirmationCode: resetCode, Password: 'Newpass#2026' }))
  const signedIn = await client.send(new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: an, PASSWORD: 'Newpass#2026' } }))
  t.type(signedIn.AuthenticationResult?.AccessToken, 'string', 'the new password works')

  // 3. SignUp: the English confirmation code confirms the user; PostConfirmation puts them into DEFAULT_GROUP.
  const binh = 'binh.e2e@example.com'
  await client.send(new SignUpCommand({ ClientId: clientId, Username: binh, Password: 'Signup#2026', UserAttributes: [{ Name: 'email', Value: binh }] }))
  const confirmation = await waitForEmail(triggers.mailboxUrl, binh, { match: (e) => e.subject === 'Confirm your IMS account' })
  const signUpCode = codeFromEmail(confirmation) as string
  t.match(signUpCode, /^\d{6}$/)
  secrets.push(signUpCode)
  await client.send(new ConfirmSignUpCommand({ ClientId: clientId, Username: binh, ConfirmationCode: signUpCode }))
  // cognito-local matches group members by the literal username (here the generated sub), not by the email alias.
  const username = (await client.send(new AdminGetUserCommand({ UserPoolId: pool, Username: binh }))).Username as string
  const groups = await client.send(new AdminListGroupsForUserCommand({ UserPoolId: pool, Username: username }))
  t.same(groups.Groups?.map((g) => g.GroupName), ['LINE_LEADER'], 'the confirmed user joined DEFAULT_GROUP')

  // 4. The triggers logged each send with a masked address, and never a code, a password or an address.
  const output = logs.join('\n')
  t.equal(logs.filter((l) => l.includes('"msg":"email sent"')).length, 3)
  t.match(output, /"to":"a\*\*\*@e\*\*\*\.com"/)
  for (const secret of [...secrets, an, binh, 'Newpass#2026']) t.notOk(output.includes(secret), 'a secret or an address in the trigger log')
})
