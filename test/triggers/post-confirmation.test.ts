// Post Confirmation: off by default; with DEFAULT_GROUP it puts self-signed-up users into that group in a real cognito-local.
import t from 'tap'
import { startBareEmulator } from '../helpers/emulator.js'
import {
  AdminCreateUserCommand,
  AdminListGroupsForUserCommand,
  CreateGroupCommand,
  CreateUserPoolCommand
} from '@aws-sdk/client-cognito-identity-provider'
import { loadPostConfirmationConfig } from '../../triggers/config.js'
import { jsonLogger } from '../../triggers/lib/log.js'
import { regionOfPool } from '../../triggers/lib/cognito.js'
import { createPostConfirmationDeps, DefaultGroupError, handle, type PostConfirmationEvent } from '../../triggers/post-confirmation.js'

const cognito = await startBareEmulator()
t.teardown(cognito.stop)
const client = cognito.client
const pool = (await client.send(new CreateUserPoolCommand({ PoolName: 'post-confirmation-test' }))).UserPool?.Id as string
await client.send(new CreateGroupCommand({ UserPoolId: pool, GroupName: 'LINE_LEADER' }))

let n = 0
interface User { username: string, sub: string, email: string }

async function newUser (): Promise<User> {
  const email = `pc-user-${++n}-${Date.now()}@example.com`
  const created = await client.send(new AdminCreateUserCommand({
    UserPoolId: pool, Username: email, MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'email', Value: email }]
  }))
  const sub = created.User?.Attributes?.find((a) => a.Name === 'sub')?.Value as string
  return { username: created.User?.Username as string, sub, email }
}

function event (triggerSource: string, user: User): PostConfirmationEvent {
  return {
    version: '1',
    triggerSource,
    region: 'local',
    userPoolId: pool,
    userName: user.username,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '1example23456789' },
    request: { userAttributes: { sub: user.sub, email: user.email, 'cognito:user_status': 'CONFIRMED' } },
    response: {}
  }
}

async function groupsOf (username: string): Promise<string[]> {
  const out = await client.send(new AdminListGroupsForUserCommand({ UserPoolId: pool, Username: username }))
  return (out.Groups ?? []).map((g) => g.GroupName as string)
}

t.test('off by default: a confirmed sign-up joins no group', async (t) => {
  const deps = createPostConfirmationDeps(loadPostConfirmationConfig({ COGNITO_ENDPOINT: cognito.endpoint }), jsonLogger(() => {}))
  t.equal(deps.defaultGroup, undefined)
  const user = await newUser()
  const ev = event('PostConfirmation_ConfirmSignUp', user)
  t.equal(await handle(ev, deps), ev)
  t.same(await groupsOf(user.username), [])
})

t.test('with DEFAULT_GROUP a confirmed sign-up joins that group', async (t) => {
  const lines: string[] = []
  const deps = createPostConfirmationDeps(loadPostConfirmationConfig({ DEFAULT_GROUP: 'LINE_LEADER', COGNITO_ENDPOINT: cognito.endpoint }), jsonLogger((l) => lines.push(l)))
  const user = await newUser()
  await handle(event('PostConfirmation_ConfirmSignUp', user), deps)
  t.same(await groupsOf(user.username), ['LINE_LEADER'])
  t.match(lines.join('\n'), /"msg":"user added to the default group"/)
  t.notOk(lines.join('\n').includes(user.email), 'the email address is not logged')
})

t.test('a confirmed forgotten password does not add the user to the group', async (t) => {
  const deps = createPostConfirmationDeps(loadPostConfirmationConfig({ DEFAULT_GROUP: 'LINE_LEADER', COGNITO_ENDPOINT: cognito.endpoint }), jsonLogger(() => {}))
  const user = await newUser()
  await handle(event('PostConfirmation_ConfirmForgotPassword', user), deps)
  t.same(await groupsOf(user.username), [])
})

t.test('a DEFAULT_GROUP that does not exist fails the confirmation loudly, in words that name no AWS exception', async (t) => {
  const lines: string[] = []
  const deps = createPostConfirmationDeps(loadPostConfirmationConfig({ DEFAULT_GROUP: 'NO_SUCH_GROUP', COGNITO_ENDPOINT: cognito.endpoint }), jsonLogger((l) => lines.push(l)))
  const user = await newUser()
  const thrown = await handle(event('PostConfirmation_ConfirmSignUp', user), deps).then(() => undefined, (err: unknown) => err)
  // What the Lambda runtime reports of a thrown error: errorType (its name), errorMessage and stack; and no cause.
  t.match(thrown, { name: 'DefaultGroupError', message: 'Cognito did not add the user to the default group (COGNITO_REFUSED, HTTP 400).', cause: undefined })
  t.type(thrown, DefaultGroupError)
  t.notMatch(`${(thrown as Error).name} ${(thrown as Error).message} ${(thrown as Error).stack ?? ''}`, /[A-Z][A-Za-z]+Exception/)
  const log = lines.join('\n')
  t.match(log, /"msg":"user not added to the default group".*"triggerSource":"PostConfirmation_ConfirmSignUp".*"group":"NO_SUCH_GROUP","reason":"COGNITO_REFUSED","status":400/)
  t.notMatch(log, /[A-Z][A-Za-z]+Exception/, 'no AWS exception name in the log')
  t.same(await groupsOf(user.username), [])
})

t.test('an unreachable Cognito is told as COGNITO_UNREACHABLE', async (t) => {
  const lines: string[] = []
  const deps = createPostConfirmationDeps(loadPostConfirmationConfig({ DEFAULT_GROUP: 'LINE_LEADER', COGNITO_ENDPOINT: 'http://127.0.0.1:1' }), jsonLogger((l) => lines.push(l)))
  const thrown = await handle(event('PostConfirmation_ConfirmSignUp', await newUser()), deps).then(() => undefined, (err: unknown) => err)
  t.match(thrown, { name: 'DefaultGroupError', message: 'Cognito did not add the user to the default group (COGNITO_UNREACHABLE).' })
  t.match(lines.join('\n'), /"reason":"COGNITO_UNREACHABLE"/)
  t.notMatch(lines.join('\n'), /ECONNREFUSED|Exception/)
})

t.test('the pool id gives the region; COGNITO_ENDPOINT is refused in production', async (t) => {
  t.equal(regionOfPool('eu-west-1_AbCdEf'), 'eu-west-1')
  t.equal(regionOfPool(pool), 'local')
  t.throws(() => regionOfPool('nounderscore'), /no valid userPoolId/)
  t.throws(() => loadPostConfirmationConfig({ COGNITO_ENDPOINT: cognito.endpoint, NODE_ENV: 'production' }), /COGNITO_ENDPOINT .*refused when NODE_ENV=production/)
  t.throws(() => loadPostConfirmationConfig({ DEFAULT_GROUP: 'has space' }), /DEFAULT_GROUP must be a Cognito group name/)
})
