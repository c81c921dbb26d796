// Registers the Cognito gateway and its sign-in flows as `app.cognito`: the only door to the user pool.
import fp from 'fastify-plugin'
import { CognitoGateway, type CognitoSettings } from '../cognito/gateway.js'
import { CognitoAuth } from '../cognito/auth.js'
import { CognitoRecovery } from '../cognito/recovery.js'
import { CognitoAdmin } from '../cognito/admin.js'
import { checkAppClient } from '../cognito/app-client-check.js'
import type { RoleGroups } from '../role-mapping.js'

declare module 'fastify' {
  interface FastifyInstance {
    cognito: { gateway: CognitoGateway, auth: CognitoAuth, recovery: CognitoRecovery, admin: CognitoAdmin }
  }
}

/**
 * Decorates `app.cognito`: the gateway and the auth, recovery and admin operations over it. Once the server listens,
 * the app client's settings are checked in the background (src/cognito/app-client-check.ts): a slow or unreachable
 * Cognito delays nothing, and closing waits for the check so it never writes after the app closed.
 */
export default fp<CognitoSettings & { roleGroups?: RoleGroups }>(async (app, { roleGroups, ...settings }) => {
  const gateway = new CognitoGateway(settings)
  app.decorate('cognito', { gateway, auth: new CognitoAuth(gateway), recovery: new CognitoRecovery(gateway), admin: new CognitoAdmin(gateway, roleGroups) })
  let appClientChecked: Promise<void> | undefined
  app.addHook('onListen', async () => { appClientChecked = checkAppClient(gateway, app.log) })
  app.addHook('onClose', async () => {
    await appClientChecked
    gateway.destroy()
  })
}, { name: 'cognito' })
