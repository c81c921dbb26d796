// Bundles each Cognito trigger into one self-contained CommonJS file, dist/triggers/<trigger>.js, exporting `handler`.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** The triggers to bundle: triggers/<name>.ts → dist/triggers/<name>.js (deploy as index.js, handler `index.handler`). */
export const TRIGGERS = ['custom-email-sender', 'custom-message', 'pre-token-generation', 'post-confirmation'] as const

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Builds every trigger bundle into `outDir` (default dist/triggers). CommonJS, so Lambda's Node 20 runtime loads
 * `<file>.handler` without a package.json; the AWS SDK and Encryption SDK are bundled, not taken from the runtime.
 */
export async function buildTriggers (outDir = join(root, 'dist', 'triggers')): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  // The project is "type": "module"; this keeps Node treating the bundles as CommonJS when loaded from dist/.
  await writeFile(join(outDir, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n')
  const outputs: string[] = []
  for (const name of TRIGGERS) {
    const outfile = join(outDir, `${name}.js`)
    const result = await build({
      entryPoints: [join(root, 'triggers', `${name}.ts`)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      keepNames: true,
      sourcemap: true,
      legalComments: 'linked',
      metafile: true,
      logLevel: 'warning'
    })
    const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + (o.bytes ?? 0), 0)
    outputs.push(outfile)
    process.stdout.write(`built ${relative(root, outfile)} (${Math.round(bytes / 1024)} KiB with map)\n`)
  }
  return outputs
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildTriggers()
}
