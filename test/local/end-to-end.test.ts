// End to end: cognito-local calls the IMS triggers through the local Lambda and KMS; emails with working codes reach the mailbox.
import t from 'tap'
import { startBareEmulator } from '../helpers/emulator.js'
import { freePort } from '../helpers/ports.js'
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminSetUserPasswordCommand,
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

t.test('invitation, forgot password and sign-up emails carry codes that work, through cognito-local', async (t) => {
  const cognitoPort = await freePort()
  const logs: string[] = []
  const triggers = await startLocalTriggers({
    sesPort: 0,
    env: { DEFAULT_GROUP: 'LINE_LEADER', COGNITO_ENDPOINT: `http://127.0.0.1:${cognitoPort}` },
    log: jsonLogger((line) => logs.push(line))
  })
  t.teardown(triggers.close)
  const cognito = await startBareEmulator({ port: cognitoPort, extraConfig: { ...triggers.cognitoConfig } })
  t.teardown(cognito.stop)
  const client = cognito.client

  const pool = (await client.send(new CreateUserPoolCommand({ PoolName: 'ims-e2e', ...triggers.poolSettings }))).UserPool?.Id as string
  t.same((await client.send(new DescribeUserPoolCommand({ UserPoolId: pool }))).UserPool?.LambdaConfig, triggers.poolSettings.LambdaConfig, 'the pool describes its triggers')
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
