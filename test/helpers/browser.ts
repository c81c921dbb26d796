// The whole local stack (cognito-local, mailbox, triggers, the app on a real port) plus Debian's Chromium, for browser tests.
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { AdminAddUserToGroupCommand, AdminCreateUserCommand, type CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../fastify.config.js'
import { buildApp } from '../../src/app.js'
import { startLocalStack, type LocalStack } from '../../src/local/start-local.js'
import { createConfirmedUser, emulatorClient } from '../../src/local/bootstrap.js'
import { LogCapture } from './app.js'
import { TEST_PASSWORD, uniqueEmail } from './emulator.js'
import { freePort } from './ports.js'

/** Where screenshots go (git-ignored). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../screenshots/', import.meta.url))

/** Chromium flags for a headless run in a container. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

/** The running stack and browser of one test file. */
export interface BrowserStack {
  /** The adapter's origin, `http://127.0.0.1:<port>` (its PUBLIC_URL). */
  url: string
  stack: LocalStack
  app: FastifyInstance
  logs: LogCapture
  browser: Browser
  /** A fresh browser profile (its own cookie jar), optionally phone-sized (360 px wide, the narrowest common phone). */
  newContext: (options?: { phone?: boolean, locale?: string }) => Promise<BrowserContext>
  /** Creates a confirmed user with TEST_PASSWORD in `groups`; returns its email. */
  user: (groups: string[]) => Promise<string>
  /** Creates a user who must choose a new password at first sign-in. */
  invitedUser: (temporaryPassword: string, groups: string[]) => Promise<string>
  stop: () => Promise<void>
}

/** Saves a full-page screenshot as screenshots/<name>.png. */
export async function screenshot (page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true })
}

/** Starts the local stack on free ports in a temp dir, the app listening on 127.0.0.1, and Chromium. */
export async function startBrowserStack (env: Record<string, string> = {}): Promise<BrowserStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ims-browser-'))
  const port = await freePort()
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    COGNITO_LOCAL_PORT: String(await freePort()),
    SES_LOCAL_PORT: String(await freePort()),
    LOCAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...env
  })
  const stack = await startLocalStack(config)
  const logs = new LogCapture()
  let app: FastifyInstance | undefined
  let browser: Browser | undefined
  let admin: CognitoIdentityProviderClient | undefined
  const stop = async (): Promise<void> => {
    await browser?.close()
    await app?.close()
    admin?.destroy()
    await stack.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    app = await buildApp(stack.config, { localMode: true, logStream: logs })
    await app.listen({ port, host: '127.0.0.1' })
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  } catch (error) {
    await stop()
    throw error
  }
  const poolId = stack.config.cognito.userPoolId
  const client = emulatorClient(stack.cognitoEndpoint)
  admin = client
  const started = browser
  return {
    url: `http://127.0.0.1:${port}`,
    stack,
    app,
    logs,
    browser,
    newContext: async ({ phone = false, locale = 'en-GB' } = {}) => await started.newContext({
      locale,
      viewport: phone ? { width: 360, height: 740 } : { width: 1280, height: 860 },
      ...(phone ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {})
    }),
    user: async (groups) => {
      const email = uniqueEmail(groups[0]?.toLowerCase().replace('_', '-') ?? 'nogroup')
      await createConfirmedUser(client, poolId, email, TEST_PASSWORD, groups)
      return email
    },
    invitedUser: async (temporaryPassword, groups) => {
      const email = uniqueEmail('invited')
      await client.send(new AdminCreateUserCommand({
        UserPoolId: poolId,
        Username: email,
        TemporaryPassword: temporaryPassword,
        UserAttributes: [{ Name: 'email', Value: email }, { Name: 'email_verified', Value: 'true' }],
        MessageAction: 'SUPPRESS'
      }))
      for (const group of groups) await client.send(new AdminAddUserToGroupCommand({ UserPoolId: poolId, Username: email, GroupName: group }))
      return email
    },
    stop
  }
}
