// GET /auth/config: what a frontend needs to know about this adapter (no secrets).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas.js'

export interface PublicConfig {
  mode: 'local' | 'endpoint' | 'aws'
  region: string
  userPoolId: string
  clientId: string
  sessionMode: 'cookie' | 'token'
  hostedUi: { loginUrl: string } | null
}

const ConfigResponse = Type.Object({
  mode: Type.Union([Type.Literal('local'), Type.Literal('endpoint'), Type.Literal('aws')]),
  region: Type.String(),
  userPoolId: Type.String(),
  clientId: Type.String(),
  sessionMode: Type.Union([Type.Literal('cookie'), Type.Literal('token')]),
  hostedUi: Type.Union([Type.Object({ loginUrl: Type.String() }), Type.Null()])
})

/** GET /auth/config. */
const config: FastifyPluginAsyncTypebox<{ publicConfig: PublicConfig }> = async (app, { publicConfig }) => {
  app.get('/config', { schema: { tags: ['auth'], response: { 200: ConfigResponse, ...errorResponses } } }, async () => publicConfig)
}

export default config
