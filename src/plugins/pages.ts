// Serves the built-in login pages at `/`: web/public as static files and web/src bundled by esbuild into memory at start.
import { sha256 } from '../digest.js'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import fastifyStatic from '@fastify/static'
import type { Role } from '../role-mapping.js'

/** An IMS area the signed-in page lists, with the roles that may reach it. */
export interface PageArea { path: string, roles: Role[] }

export interface PagesOptions {
  /** What the signed-in page shows under "IMS areas". */
  areas: PageArea[]
}

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url))

/**
 * Bundles the pages' TypeScript (web/src/main.ts) with esbuild into one ES module, in memory. esbuild is loaded only
 * here, so a server that does not serve the pages never needs it.
 */
export async function bundlePages (): Promise<string> {
  const esbuild = await import('esbuild')
  const result = await esbuild.build({
    entryPoints: [`${WEB_DIR}src/main.ts`],
    bundle: true,
    write: false,
    format: 'esm',
    target: ['es2020'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent'
  })
  return result.outputFiles[0]!.text
}

/** The pages, encapsulated: their hooks touch only their own routes. */
const pages: FastifyPluginAsync<PagesOptions> = async (app, { areas }) => {
  const script = await bundlePages()
  const etag = `"${sha256(script).slice(0, 22)}"`
  // Pages and assets are revalidated on every load, so a restart with new pages is seen at once.
  app.addHook('onSend', async (_request, reply) => { reply.header('Cache-Control', 'no-cache') })
  await app.register(fastifyStatic, { root: `${WEB_DIR}public`, prefix: '/', wildcard: false, decorateReply: false, cacheControl: false })

  app.get('/app.js', { schema: { hide: true } }, async (request, reply) => {
    reply.header('ETag', etag).type('text/javascript; charset=utf-8')
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send()
    return script
  })

  app.get('/areas.json', { schema: { hide: true } }, async () => ({ areas }))
}

export default pages
