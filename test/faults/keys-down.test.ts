// Bars 38 and 3: the key endpoint down after start (known keys verify, a cold cache fails closed) and random kids.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { TEST_PASSWORD } from '../helpers/emulator.js'
import { startFaultyCognito, type FaultyCognito } from '../helpers/faulty-cognito.js'
import { cognitoTokens, testApp } from '../helpers/app.js'
import { segment } from '../helpers/jwt.js'

let cognito: FaultyCognito
let app: FastifyInstance

t.before(async () => {
  cognito = await startFaultyCognito()
  app = await testApp(cognito)
})
t.teardown(async () => {
  await app?.close()
  await cognito?.stop()
})

const me = async (target: FastifyInstance, token: string) => await target.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } })

t.test('bar 38: with the key endpoint down after start, tokens signed by the loaded keys still verify', async (t) => {
  const email = await cognito.user(['MANAGER'])
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  for (const fault of ['refuse', 'hang'] as const) {
    cognito.keyEndpoint(fault)
    try {
      const started = performance.now()
      const response = await me(app, accessToken)
      t.equal(response.statusCode, 200, `verified while the key endpoint does "${fault}"`)
      t.equal(response.json().email, email)
      t.ok(performance.now() - started < 1000, 'without waiting for the key endpoint')
    } finally {
      cognito.keyEndpoint('none')
    }
  }
})

t.test('bar 38: with a cold key cache and the key endpoint down, requests fail closed within about 3.5 s, then recover', async (t) => {
  const email = await cognito.user(['LINE_LEADER'])
  for (const fault of ['hang', 'refuse'] as const) {
    cognito.keyEndpoint(fault)
    // Started while the keys cannot be had (JWKS_TIMEOUT_MS keeps its default, 3000).
    const cold = await testApp(cognito)
    try {
      const { accessToken } = await cognitoTokens(cold, email, TEST_PASSWORD)
      const started = performance.now()
      const response = await me(cold, accessToken)
      const ms = performance.now() - started
      t.ok([401, 503].includes(response.statusCode), `fails closed while the key endpoint does "${fault}" (${response.statusCode})`)
      t.ok(['UNAUTHENTICATED', 'UPSTREAM_UNAVAILABLE'].includes(response.json().error))
      t.ok(ms < 3800, `within about 3.5 s (${Math.round(ms)} ms)`)
      cognito.keyEndpoint('none')
      t.equal((await me(cold, accessToken)).statusCode, 200, 'verifies once the keys can be fetched again')
    } finally {
      cognito.keyEndpoint('none')
      await cold.close()
    }
  }
})

t.test('bar 3: 1,000 random kids cause at most one key fetch per 10 s', async (t) => {
  const email = await cognito.user(['ADMIN'])
  const { accessToken } = await cognitoTokens(app, email, TEST_PASSWORD)
  const [, body, signature] = accessToken.split('.')
  const before = cognito.keyFetches
  const started = performance.now()
  for (let i = 0; i < 1000; i++) {
    const header = segment({ alg: 'RS256', typ: 'JWT', kid: randomBytes(12).toString('base64url') })
    const response = await me(app, `${header}.${body}.${signature}`)
    if (response.statusCode !== 401) t.fail(`kid #${i} answered ${response.statusCode}`)
  }
  const windows = 1 + Math.floor((performance.now() - started) / 10_000)
  const fetches = cognito.keyFetches - before
  t.ok(fetches <= windows, `${fetches} key fetch(es) in ${windows} window(s) of 10 s`)
  t.equal((await me(app, accessToken)).statusCode, 200, 'the genuine token still verifies')
})
