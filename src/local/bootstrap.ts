// Creates (or finds again) the local user pool, its app client, the role groups and the demo users. Idempotent.
import {
  AdminAddUserToGroupCommand, AdminCreateUserCommand, AdminGetUserCommand, AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient, CreateGroupCommand, CreateUserPoolClientCommand, CreateUserPoolCommand,
  ListGroupsCommand, ListUserPoolClientsCommand, ListUserPoolsCommand, UpdateUserPoolClientCommand, UpdateUserPoolCommand, type LambdaConfigType
} from '@aws-sdk/client-cognito-identity-provider'
import { ROLES, type Role } from '../role-mapping.js'
import { HOSTED_UI_DEFAULT_SCOPES } from '../../fastify.config.js'

/** The demo users of the contract, one per role. */
export const DEMO_USERS: ReadonlyArray<{ email: string, role: Role }> = [
  { email: 'admin@ims.local', role: 'ADMIN' },
  { email: 'manager@ims.local', role: 'MANAGER' },
  { email: 'leader@ims.local', role: 'LINE_LEADER' }
]

/** The password policy of the local pool: what a real IMS pool would ask. */
export const LOCAL_PASSWORD_POLICY = {
  MinimumLength: 8,
  RequireUppercase: true,
  RequireLowercase: true,
  RequireNumbers: true,
  RequireSymbols: true,
  TemporaryPasswordValidityDays: 7
}

export interface BootstrapOptions {
  poolName: string
  clientName: string
  /** The demo users' password; no demo users when undefined. */
  demoPassword?: string
  /** Triggers wired to the pool (local mode). */
  lambdaConfig?: LambdaConfigType
  /** Hosted login: redirect URIs the app client accepts. */
  callbackUrls?: string[]
}

/** The pool and client the adapter will use. */
export interface LocalPool { userPoolId: string, clientId: string }

/**
 * A client for the emulator at `endpoint` (dummy credentials, no retries), its middleware resolved once per kind of
 * call as the adapter's own client does (src/cognito/gateway.ts): the bench's direct calls pay what the adapter's pay.
 */
export function emulatorClient (endpoint: string): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1, cacheMiddleware: true })
}

async function ensurePool (client: CognitoIdentityProviderClient, options: BootstrapOptions): Promise<string> {
  const pools = await client.send(new ListUserPoolsCommand({ MaxResults: 60 }))
  const existing = pools.UserPools?.find((pool) => pool.Name === options.poolName)?.Id
  if (existing !== undefined) {
    if (options.lambdaConfig !== undefined) await client.send(new UpdateUserPoolCommand({ UserPoolId: existing, LambdaConfig: options.lambdaConfig, AutoVerifiedAttributes: ['email'], Policies: { PasswordPolicy: LOCAL_PASSWORD_POLICY } }))
    return existing
  }
  const created = await client.send(new CreateUserPoolCommand({
    PoolName: options.poolName,
    UsernameAttributes: ['email'],
    AutoVerifiedAttributes: ['email'],
    Policies: { PasswordPolicy: LOCAL_PASSWORD_POLICY },
    ...(options.lambdaConfig === undefined ? {} : { LambdaConfig: options.lambdaConfig })
  }))
  return created.UserPool!.Id!
}

async function ensureClient (client: CognitoIdentityProviderClient, userPoolId: string, options: BootstrapOptions): Promise<string> {
  const clients = await client.send(new ListUserPoolClientsCommand({ UserPoolId: userPoolId, MaxResults: 60 }))
  const existing = clients.UserPoolClients?.find((c) => c.ClientName === options.clientName)?.ClientId
  const oauth = options.callbackUrls === undefined
    ? {}
    : { CallbackURLs: options.callbackUrls, AllowedOAuthFlows: ['code' as const], AllowedOAuthScopes: HOSTED_UI_DEFAULT_SCOPES.split(' '), AllowedOAuthFlowsUserPoolClient: true, SupportedIdentityProviders: ['COGNITO'] }
  if (existing !== undefined) {
    // A kept pool may have been made for another port: the callback URL must match this run.
    if (options.callbackUrls !== undefined) await client.send(new UpdateUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: existing, ...oauth }))
    return existing
  }
  const created = await client.send(new CreateUserPoolClientCommand({
    UserPoolId: userPoolId,
    ClientName: options.clientName,
    ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    AccessTokenValidity: 60,
    IdTokenValidity: 60,
    RefreshTokenValidity: 30,
    TokenValidityUnits: { AccessToken: 'minutes', IdToken: 'minutes', RefreshToken: 'days' },
    EnableTokenRevocation: true,
    PreventUserExistenceErrors: 'ENABLED',
    ...oauth
  }))
  return created.UserPoolClient!.ClientId!
}

async function ensureGroups (client: CognitoIdentityProviderClient, userPoolId: string): Promise<void> {
  const groups = await client.send(new ListGroupsCommand({ UserPoolId: userPoolId }))
  const have = new Set(groups.Groups?.map((g) => g.GroupName))
  for (const role of ROLES) {
    if (!have.has(role)) await client.send(new CreateGroupCommand({ UserPoolId: userPoolId, GroupName: role, Description: `IMS ${role}` }))
  }
}

/** Creates a confirmed user with a permanent password in `groups` (a test and demo helper). */
export async function createConfirmedUser (client: CognitoIdentityProviderClient, userPoolId: string, email: string, password: string, groups: string[]): Promise<void> {
  await client.send(new AdminCreateUserCommand({
    UserPoolId: userPoolId,
    Username: email,
    UserAttributes: [{ Name: 'email', Value: email }, { Name: 'email_verified', Value: 'true' }],
    MessageAction: 'SUPPRESS'
  }))
  await client.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: email, Password: password, Permanent: true }))
  for (const group of groups) await client.send(new AdminAddUserToGroupCommand({ UserPoolId: userPoolId, Username: email, GroupName: group }))
}

/** Creates the missing demo users; those kept from an earlier start get `password` again, so the banner holds. */
async function ensureDemoUsers (client: CognitoIdentityProviderClient, userPoolId: string, password: string): Promise<void> {
  for (const { email, role } of DEMO_USERS) {
    const exists = await client.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: email })).then(() => true, () => false)
    if (exists) await client.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: email, Password: password, Permanent: true }))
    else await createConfirmedUser(client, userPoolId, email, password, [role])
  }
}

/** Makes sure the pool, client, groups and demo users exist, and returns the pool and client ids. */
export async function bootstrapPool (client: CognitoIdentityProviderClient, options: BootstrapOptions): Promise<LocalPool> {
  const userPoolId = await ensurePool(client, options)
  const clientId = await ensureClient(client, userPoolId, options)
  await ensureGroups(client, userPoolId)
  if (options.demoPassword !== undefined) await ensureDemoUsers(client, userPoolId, options.demoPassword)
  return { userPoolId, clientId }
}
