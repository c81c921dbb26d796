// Registers the Cognito gateway and its sign-in flows as `app.cognito`: the only door to the user pool.
import fp from 'fastify-plugin'
import { CognitoGateway, type CognitoSettings } from '../cognito/gateway.js'
import { CognitoAuth } from '../cognito/auth.js'

declare module 'fastify' {
  interface FastifyInstance {
    cognito: { gateway: CognitoGateway, auth: CognitoAuth }
  }
}

export default fp<CognitoSettings>(async (app, settings) => {
  const gateway = new CognitoGateway(settings)
  app.decorate('cognito', { gateway, auth: new CognitoAuth(gateway) })
  app.addHook('onClose', async () => { gateway.destroy() })
}, { name: 'cognito' })
