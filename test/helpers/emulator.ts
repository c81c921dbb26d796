// Starts a real cognito-local for one test file, with a bootstrapped pool, and helpers to make users in it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import {
  AdminAddUserToGroupCommand, AdminDisableUserCommand, AdminCreateUserCommand, type CognitoIdentityProviderClient, type LambdaConfigType
} from '@aws-sdk/client-cognito-identity-provider'
import { startCognitoLocal } from '../../src/local/cognito-local.js'
import { bootstrapPool, createConfirmedUser, emulatorClient, type LocalPool } from '../../src/local/bootstrap.js'
import { freePort } from './ports.js'

/** The password of every user the helpers create (meets the local pool's policy). */
export const TEST_PASSWORD = 'Test-Passw0rd!'

/** A running emulator with one pool and an admin client for it. */
export interface Emulator extends LocalPool {
  endpoint: string
  client: CognitoIdentityProviderClient
  dataDir: string
  /** Creates a confirmed user with `TEST_PASSWORD` in the given groups; returns its email. */
  user: (groups: string[], password?: string) => Promise<string>
  /** Creates a user that must set a new password at first sign-in; returns its email. */
  invitedUser: (temporaryPassword: string, groups?: string[]) => Promise<string>
  disable: (email: string) => Promise<void>
  stop: () => Promise<void>
}

export interface EmulatorOptions {
  /** cognito-local's CODE: every code and temporary password it makes. */
  code?: string
  extraConfig?: Record<string, unknown>
  lambdaConfig?: LambdaConfigType
  callbackUrls?: string[]
  /** The tokens' issuer base when the app reaches the emulator through another address (a faulty proxy). */
  issuerDomain?: string
}

/** A unique email, so tests never share users. */
export function uniqueEmail (prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@ims.test`
}

/** A bare cognito-local (no pool yet) and an admin client for it. */
export interface BareEmulator { endpoint: string, client: CognitoIdentityProviderClient, dataDir: string, stop: () => Promise<void> }

/** Starts cognito-local on `port` (default: a free one) with its data in a temp dir that `stop` removes. */
export async function startBareEmulator (options: Pick<EmulatorOptions, 'code' | 'extraConfig' | 'issuerDomain'> & { port?: number } = {}): Promise<BareEmulator> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ims-cognito-'))
  const emulator = await startCognitoLocal({ port: options.port ?? await freePort(), dataDir, code: options.code, extraConfig: options.extraConfig, issuerDomain: options.issuerDomain })
  const client = emulatorClient(emulator.endpoint)
  return {
    endpoint: emulator.endpoint,
    client,
    dataDir,
    stop: async () => {
      client.destroy()
      await emulator.stop()
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}

/** Starts cognito-local on a free port in a temp dir and bootstraps a pool with the three role groups. */
export async function startEmulator (options: EmulatorOptions = {}): Promise<Emulator> {
  const { endpoint, client, dataDir, stop } = await startBareEmulator(options)
  const pool = await bootstrapPool(client, {
    poolName: 'ims-test',
    clientName: 'ims-bff-test',
    lambdaConfig: options.lambdaConfig,
    callbackUrls: options.callbackUrls
  })
  return {
    ...pool,
    endpoint,
    client,
    dataDir,
    user: async (groups, password = TEST_PASSWORD) => {
      const email = uniqueEmail(groups[0]?.toLowerCase() ?? 'nogroup')
      await createConfirmedUser(client, pool.userPoolId, email, password, groups)
      return email
    },
    invitedUser: async (temporaryPassword, groups = []) => {
      const email = uniqueEmail('invited')
      await client.send(new AdminCreateUserCommand({
        UserPoolId: pool.userPoolId,
        Username: email,
        TemporaryPassword: temporaryPassword,
        UserAttributes: [{ Name: 'email', Value: email }, { Name: 'email_verified', Value: 'true' }],
        MessageAction: 'SUPPRESS'
      }))
      for (const group of groups) {
        await client.send(new AdminAddUserToGroupCommand({ UserPoolId: pool.userPoolId, Username: email, GroupName: group }))
      }
      return email
    },
    disable: async (email) => { await client.send(new AdminDisableUserCommand({ UserPoolId: pool.userPoolId, Username: email })) },
    stop
  }
}
