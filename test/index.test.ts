// The package as another IMS service takes it: built by `npm run build`, imported by name with plain Node (no tsx), typed.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { buildLibrary } from '../scripts/build.js'
import { startEmulator, TEST_PASSWORD } from './helpers/emulator.js'
import { cognitoTokens, testApp } from './helpers/app.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

t.before(async () => { await buildLibrary() })

/** A service's own folder: the package and Fastify in its node_modules (links to this checkout's), nothing else. */
async function serviceFolder (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ims-service-'))
  await mkdir(join(dir, 'node_modules'))
  await symlink(root, join(dir, 'node_modules', 'ims-identity-adapter'))
  await symlink(join(root, 'node_modules', 'fastify'), join(dir, 'node_modules', 'fastify'))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'ims-planning', type: 'module', private: true }))
  return dir
}

t.test('a service running plain Node imports imsAuth and requireRole by the package\'s name and guards its routes', async (t) => {
  const emulator = await startEmulator()
  t.teardown(async () => { await emulator.stop() })
  const bff = await testApp(emulator)
  const manager = (await cognitoTokens(bff, await emulator.user(['MANAGER']), TEST_PASSWORD)).accessToken
  const leader = (await cognitoTokens(bff, await emulator.user(['LINE_LEADER']), TEST_PASSWORD)).accessToken
  await bff.close()
  const dir = await serviceFolder()
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'service.js'), `
import Fastify from 'fastify'
import { imsAuth, requireRole } from 'ims-identity-adapter'
const app = Fastify()
await app.register(imsAuth, { userPoolId: process.env.POOL, clientId: process.env.CLIENT, endpoint: process.env.ENDPOINT })
app.get('/planning/orders', { preHandler: requireRole('ADMIN', 'MANAGER') }, async () => ({ orders: [] }))
const status = async (token) => {
  const response = await app.inject({ url: '/planning/orders', headers: token ? { authorization: 'Bearer ' + token } : {} })
  return [response.statusCode, response.json().error ?? 'ok']
}
console.log(JSON.stringify([await status(process.env.MANAGER), await status(process.env.LEADER), await status(undefined)]))
await app.close()
`)
  // A clean environment: no loader inherited from the test runner, only what the service is given.
  const env = { PATH: process.env.PATH ?? '', POOL: emulator.userPoolId, CLIENT: emulator.clientId, ENDPOINT: emulator.endpoint, MANAGER: manager, LEADER: leader }
  const { stdout } = await run(process.execPath, ['service.js'], { cwd: dir, env })
  t.same(JSON.parse(stdout), [[200, 'ok'], [403, 'FORBIDDEN'], [401, 'UNAUTHENTICATED']], 'MANAGER passes, LINE_LEADER is refused, no token is 401')
})

t.test('a TypeScript service gets the package\'s types: its options and the user object are checked', async (t) => {
  const dir = await serviceFolder()
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['service.ts'] }))
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const check = async (source: string): Promise<string> => {
    await writeFile(join(dir, 'service.ts'), source)
    return await run(process.execPath, [tsc, '-p', dir]).then(() => '', (error: { stdout?: string }) => error.stdout ?? 'failed')
  }
  const service = `import Fastify from 'fastify'
import { imsAuth, requireRole, type User } from 'ims-identity-adapter'
const app = Fastify()
await app.register(imsAuth, { userPoolId: 'eu-west-1_abc', clientId: 'client', graceSeconds: 5 })
app.get('/orders', { preHandler: requireRole('MANAGER') }, async (request) => {
  const user: User | undefined = request.identity?.user
  return { by: user?.primaryRole }
})
`
  t.equal(await check(service), '', 'a well-typed service compiles')
  t.match(await check(service.replace("requireRole('MANAGER')", "requireRole('MANGER')")), /MANGER/, 'a misspelt role does not')
  t.match(await check(service.replace("clientId: 'client', ", '')), /clientId/, 'nor options without a client id')
})
