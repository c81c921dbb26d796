// Security bar A (1-9): forged, foreign, expired and malformed tokens are refused with 401, never 500.
import { createServer, type Server } from 'node:http'
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { startEmulator, TEST_PASSWORD, type Emulator } from '../helpers/emulator.js'
import { cognitoTokens, testApp } from '../helpers/app.js'
import { emulatorPublicPem, payloadOf, segment, signHs256, signRs256, unsigned } from '../helpers/jwt.js'
import { TokenVerifier } from '../../src/auth/token-verifier.js'
import { AppError } from '../../src/errors.js'

let emulator: Emulator
let app: FastifyInstance
let genuine: { accessToken: string, idToken: string }
let claims: Record<string, unknown>
/** A loopback server that counts every request: jku/x5u/jwk headers must never make the app call it. */
let trap: Server
let trapHits = 0
let trapUrl = ''

t.before(async () => {
  emulator = await startEmulator()
  app = await testApp(emulator, { TOKEN_GRACE_SECONDS: '5' })
  const email = await emulator.user(['ADMIN'])
  genuine = await cognitoTokens(app, email, TEST_PASSWORD)
  claims = payloadOf(genuine.accessToken)
  trap = createServer((_req, res) => { trapHits++; res.end('{"keys":[]}') })
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
  const address = trap.address()
  trapUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
})
t.teardown(async () => {
  await app?.close()
  await emulator?.stop()
  trap?.close()
})

async function me (token: string) {
  return await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } })
}

async function expect401 (t: Test, token: string, label: string) {
  const response = await me(token)
  t.equal(response.statusCode, 401, label)
  t.equal(response.json().error, 'UNAUTHENTICATED', `${label}: error code`)
}

t.test('the genuine token works (the baseline every case below departs from)', async (t) => {
  const response = await me(genuine.accessToken)
  t.equal(response.statusCode, 200)
  t.same(response.json().roles, ['ADMIN'])
})

t.test('bar 1: alg none in any case, stripped, truncated or null signatures, HMAC with an empty secret', async (t) => {
  for (const alg of ['none', 'NONE', 'None', 'nOnE']) await expect401(t, unsigned(claims, alg), `alg ${alg}`)
  const [head, body, sig] = genuine.accessToken.split('.') as [string, string, string]
  await expect401(t, `${head}.${body}.`, 'stripped signature')
  await expect401(t, `${head}.${body}.${sig.slice(0, sig.length / 2)}`, 'truncated signature')
  await expect401(t, `${head}.${body}.${Buffer.alloc(256).toString('base64url')}`, 'null signature')
  await expect401(t, `${head}.${body}.null`, 'the word null as signature')
  await expect401(t, signHs256(claims, ''), 'HS256 with an empty secret')
  const tampered = `${head}.${segment({ ...claims, 'cognito:groups': ['ADMIN', 'MANAGER'] })}.${sig}`
  await expect401(t, tampered, 'payload changed under a genuine signature')
})

t.test('bar 2: HS256 re-signed with the public RSA key as the secret (key confusion)', async (t) => {
  await expect401(t, signHs256(claims, emulatorPublicPem(), { kid: 'CognitoLocal' }), 'HS256 with the PEM')
})

t.test('bar 3: jwk, jku and x5u headers and odd kids get 401 and cause no fetch; random kids are rate limited', async (t) => {
  const before = app.verifier.fetcher.fetches
  await expect401(t, signRs256(claims, { jku: `${trapUrl}/jwks.json`, kid: 'attacker' }), 'jku header')
  await expect401(t, signRs256(claims, { x5u: `${trapUrl}/cert.pem`, kid: 'attacker' }), 'x5u header')
  await expect401(t, signRs256(claims, { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' }, kid: 'attacker' }), 'embedded jwk header')
  for (const kid of ['', ' ', '../../../../etc/passwd', "' OR 1=1 --", 'CognitoLocal\u0000']) {
    await expect401(t, signRs256(claims, { kid }), `kid ${JSON.stringify(kid)}`)
  }
  t.equal(trapHits, 0, 'nothing fetched from attacker-named URLs')
  for (let i = 0; i < 1000; i++) {
    const response = await me(signRs256(claims, { kid: randomUUID() }))
    if (response.statusCode !== 401) t.fail(`random kid answered ${response.statusCode}`)
  }
  t.ok(app.verifier.fetcher.fetches - before <= 1, `at most one key fetch for 1,000+ unknown kids (saw ${app.verifier.fetcher.fetches - before})`)
  t.equal((await me(genuine.accessToken)).statusCode, 200, 'the genuine token still works afterwards')
})

t.test('bar 4: expired beyond the grace, future nbf, non-numeric exp', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  await expect401(t, signRs256({ ...claims, iat: now - 7200, exp: now - 60 }), 'expired 60 s ago with a 5 s grace')
  await expect401(t, signRs256({ ...claims, nbf: now + 600 }), 'nbf in the future')
  await expect401(t, signRs256({ ...claims, exp: 'tomorrow' }), 'non-numeric exp')
  await expect401(t, signRs256({ ...claims, exp: undefined }), 'no exp')
  const inGrace = await me(signRs256({ ...claims, exp: now - 2 }))
  t.equal(inGrace.statusCode, 200, 'expired 2 s ago is within the 5 s grace')
})

t.test('bar 5: a token of another pool, or the emulator\'s token in AWS mode', async (t) => {
  await expect401(t, signRs256({ ...claims, iss: `${emulator.endpoint}/local_otherpool` }), 'other pool issuer')
  await expect401(t, signRs256({ ...claims, iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc' }), 'AWS issuer on the emulator')
  const awsVerifier = new TokenVerifier({ userPoolId: 'eu-west-1_Abc123', clientId: emulator.clientId, endpoint: '', graceSeconds: 0, jwksTimeoutMs: 500 })
  const refusal = await (async () => await awsVerifier.verifyAccess(genuine.accessToken))().then(() => undefined, (error: unknown) => error)
  t.ok(refusal instanceof AppError && refusal.code === 'UNAUTHENTICATED', 'AWS-mode verifier refuses the emulator token')
})

t.test('bar 6: an access token of another app client; an ID token of another audience', async (t) => {
  await expect401(t, signRs256({ ...claims, client_id: 'another-client' }), 'other client_id')
  const idClaims = payloadOf(genuine.idToken)
  const foreignId = signRs256({ ...idClaims, aud: 'another-client' })
  const refusal = await app.verifier.verifyId(foreignId).then(() => undefined, (error: unknown) => error)
  t.ok(refusal instanceof AppError && refusal.code === 'UNAUTHENTICATED', 'ID token of another audience refused')
  t.ok((await app.verifier.verifyId(genuine.idToken)).sub, 'the genuine ID token verifies')
})

t.test('bar 7: an ID token where an access token is expected', async (t) => {
  await expect401(t, genuine.idToken, 'ID token as bearer')
  await expect401(t, signRs256({ ...claims, token_use: 'id' }), 'token_use id')
})

t.test('bar 9: malformed tokens get 401, never 500', async (t) => {
  const [head, body, sig] = genuine.accessToken.split('.') as [string, string, string]
  await expect401(t, `${head}.${body}`, '2 segments')
  await expect401(t, `${head}.${body}.${sig}.${sig}`, '4 segments')
  await expect401(t, `${segment('not json')}.${body}.${sig}`, 'non-JSON header')
  await expect401(t, 'a'.repeat(100), 'no dots')
  const basic = await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } })
  t.equal(basic.statusCode, 401, 'another Authorization scheme')
  // 64 KB over a real socket: beyond Node's default header limit, still a 401 in the contract's shape.
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const big = await fetch(`${address}/auth/me`, { headers: { authorization: `Bearer ${head}.${'A'.repeat(64 * 1024)}.${sig}` } })
  t.equal(big.status, 401, '64 KB token')
  t.equal((await big.json() as { error: string }).error, 'UNAUTHENTICATED')
})
