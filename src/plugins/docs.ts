// The OpenAPI document generated from the route schemas (/docs/json) and its UI (/docs).
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/** Serves the OpenAPI document at /docs/json and its UI at /docs. */
export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      info: { title: 'IMS identity adapter', version: '0.1.0', description: 'Sign-in, sessions, roles, recovery, administration and the IMS API proxy, in front of Amazon Cognito.' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: '__Host-ims-session' },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'Cognito access token' }
        }
      }
    }
  })
  // No staticCSP: swagger-ui's own policy (frame-ancestors 'self') would replace the adapter's, which the UI works under.
  await app.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'docs' })
