// `npm run build`: each Cognito trigger as one self-contained CommonJS file (dist/triggers), and the package's exports for other services as JavaScript (dist/lib).
import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** The triggers to bundle: triggers/<name>.ts → dist/triggers/<name>.js (deploy as index.js, handler `index.handler`). */
export const TRIGGERS = ['custom-email-sender', 'custom-message', 'pre-token-generation', 'post-confirmation'] as const

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Builds every trigger bundle into `outDir` (default dist/triggers). CommonJS, so Lambda's Node.js runtimes (nodejs22.x,
 * nodejs24.x; see triggers/README.md) load `<file>.handler` without a package.json; Node 20's syntax, which they all run
 * and which this project's own Node runs in tests; the AWS SDK and Encryption SDK are bundled, not taken from the runtime.
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

/**
 * Builds what the package exports (src/index.ts: imsAuth, the role guards) for services that run plain Node: one ES
 * module, dist/lib/index.js, its dependencies left to the service's node_modules, and its type declarations under
 * dist/lib/types (tsconfig.lib.json). package.json's "exports" names both; `npm pack` and git installs build them first.
 */
export async function buildLibrary (): Promise<string> {
  const outDir = join(root, 'dist', 'lib')
  await rm(outDir, { recursive: true, force: true })
  const outfile = join(outDir, 'index.js')
  await build({
    entryPoints: [join(root, 'src', 'index.ts')],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    logLevel: 'warning'
  })
  await promisify(execFile)(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.lib.json')]).catch((error: { stdout?: string }) => {
    throw new Error(`the type declarations did not build:\n${error.stdout ?? ''}`)
  })
  process.stdout.write(`built ${relative(root, outfile)} and its type declarations\n`)
  return outfile
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildTriggers()
  await buildLibrary()
}
