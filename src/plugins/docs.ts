// The OpenAPI document generated from the route schemas (/docs/json) and its UI (/docs).
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/** What an OpenAPI 3.0 schema says of null: a nullable type, or a union that has one. */
interface NullableSchema { nullable?: boolean, anyOf?: NullableSchema[], oneOf?: NullableSchema[] }
/** The parts of the document and its operations this file looks at. */
interface Operation { requestBody?: { required?: boolean, content?: Record<string, { schema?: NullableSchema }> } }
interface Paths { paths?: Record<string, Record<string, unknown> | undefined> }

function acceptsNull (schema: NullableSchema | undefined): boolean {
  return schema !== undefined && (schema.nullable === true || [...schema.anyOf ?? [], ...schema.oneOf ?? []].some(acceptsNull))
}

/**
 * @fastify/swagger calls every body a route has a schema for required; Fastify takes none where that schema accepts
 * null (as refresh, sign-out and the admin actions do), so those bodies are documented as optional.
 */
function optionalNullableBodies (document: Paths): void {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item ?? {})) {
      const body = (operation as Operation | undefined)?.requestBody
      if (body?.content !== undefined && Object.values(body.content).every((media) => acceptsNull(media.schema))) body.required = false
    }
  }
}

/** Serves the OpenAPI document at /docs/json and its UI at /docs. */
export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'IMS identity adapter',
        version: '0.1.0',
        description: 'Sign-in, sessions, roles, recovery, administration and the IMS API proxy, in front of Amazon Cognito. ' +
          'Unsafe requests (POST, PUT, PATCH, DELETE) that ride on or create a cookie session must carry the header `X-CSRF: 1`; this page\'s requests do.'
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: '__Host-ims-session' },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'Cognito access token' }
        }
      }
    },
    transformObject: (documentObject) => {
      const { openapiObject } = documentObject as { openapiObject: Paths }
      optionalNullableBodies(openapiObject)
      return openapiObject
    }
  })
  // No staticCSP: swagger-ui's own policy (frame-ancestors 'self') would replace the adapter's, which the UI works under.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // "Try it out" calls the routes from this same origin, as the login pages do, so it says X-CSRF: 1 as they do. The
    // function is sent to the browser as its source text.
    uiConfig: { requestInterceptor: (request) => { request.headers['X-CSRF'] = '1'; return request } }
  })
}, { name: 'docs' })
