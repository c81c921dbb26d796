// decomposeJwt gives exactly what aws-jwt-verify's decomposeUnverifiedJwt gives, parts or refusal, for every kind of token.
import { createPublicKey } from 'node:crypto'
import t from 'tap'
import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify'
import { decomposeUnverifiedJwt } from 'aws-jwt-verify/jwt'
import { decomposeJwt, withLeanDecomposition } from '../../src/auth/jwt-decomposition.js'
import { emulatorPrivateKey, segment, signRs256 } from '../helpers/jwt.js'

const HEADER = { alg: 'RS256', kid: 'CognitoLocal', typ: 'JWT' }
const PAYLOAD = { sub: 'a1b2', iss: 'http://127.0.0.1:9229/local_pool', token_use: 'access', 'cognito:groups': ['ims-admins'], exp: 2_000_000_000, iat: 1_900_000_000, jti: 'j-1', scope: 'aws.cognito.signin.user.admin' }
const SIGNATURE = Buffer.alloc(256, 7).toString('base64url')

/** A token from a header and a payload, each a value or the raw JSON text. */
function token (header: unknown, payload: unknown): string {
  return `${segment(header)}.${segment(payload)}.${SIGNATURE}`
}

/** Every own key of every object inside `value`, with its prototype, so two values compare on both. */
function shape (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape)
  if (typeof value !== 'object' || value === null) return value
  return { prototype: Object.getPrototypeOf(value) === Object.prototype ? 'Object' : 'other', keys: Reflect.ownKeys(value).map(String), values: Object.values(value).map(shape) }
}

/** What a decomposition yields: its parts, or the class and message of its refusal. */
function outcome (decompose: (jwt: unknown) => unknown, jwt: unknown): unknown {
  try {
    return { parts: shape(decompose(jwt)) }
  } catch (error) {
    return { refused: (error as Error).constructor.name, message: (error as Error).message }
  }
}

const cases: Array<[string, unknown]> = [
  ['a Cognito-shaped access token', token(HEADER, PAYLOAD)],
  ['padding on its parts', `${segment(HEADER)}=.${segment(PAYLOAD)}==.${SIGNATURE}`],
  ['__proto__ in the payload', token(HEADER, `{"sub":"x","__proto__":{"polluted":true},"exp":2000000000}`)],
  ['__proto__ nested in a claim', token(HEADER, `{"sub":"x","address":{"__proto__":{"polluted":true},"street":"1"}}`)],
  ['constructor in the payload', token(HEADER, `{"sub":"x","constructor":{"prototype":{"polluted":true}}}`)],
  ['__proto__ in the header', token(`{"alg":"RS256","__proto__":{"kid":"other"}}`, PAYLOAD)],
  ['__proto__ spelt with an escape', token(HEADER, `{"sub":"x","\\u005f_proto__":{"polluted":true}}`)],
  ['constructor spelt with an escape', token(HEADER, `{"sub":"x","c\\u006fnstructor":1}`)],
  ['an escape elsewhere', token(HEADER, `{"sub":"a\\"b","name":"line\\nbreak"}`)],
  ['text beyond ASCII', token(HEADER, { ...PAYLOAD, name: 'Zoë Łukasz 工場' })],
  ['an empty payload object', token(HEADER, {})],
  ['a payload that is an array', token(HEADER, [PAYLOAD])],
  ['a payload that is a string', token(HEADER, '"text"')],
  ['a payload that is null', token(HEADER, 'null')],
  ['a payload that is not JSON', token(HEADER, '{"sub":')],
  ['a header that is an array', token([HEADER], PAYLOAD)],
  ['a header that is null', token('null', PAYLOAD)],
  ['a header that is not JSON', token('{alg:RS256}', PAYLOAD)],
  ['a numeric alg', token({ ...HEADER, alg: 256 }, PAYLOAD)],
  ['a numeric kid', token({ ...HEADER, kid: 1 }, PAYLOAD)],
  ['exp as a string', token(HEADER, { ...PAYLOAD, exp: '2000000000' })],
  ['exp as null', token(HEADER, { ...PAYLOAD, exp: null })],
  ['nbf as a string', token(HEADER, { ...PAYLOAD, nbf: 'soon' })],
  ['iat as an object', token(HEADER, { ...PAYLOAD, iat: {} })],
  ['iss as a number', token(HEADER, { ...PAYLOAD, iss: 1 })],
  ['sub as a number', token(HEADER, { ...PAYLOAD, sub: 1 })],
  ['scope as a list', token(HEADER, { ...PAYLOAD, scope: ['a'] })],
  ['jti as a number', token(HEADER, { ...PAYLOAD, jti: 1 })],
  ['aud as a string', token(HEADER, { ...PAYLOAD, aud: 'client' })],
  ['aud as a list of strings', token(HEADER, { ...PAYLOAD, aud: ['a', 'b'] })],
  ['aud as a number', token(HEADER, { ...PAYLOAD, aud: 1 })],
  ['aud as a list holding a number', token(HEADER, { ...PAYLOAD, aud: ['a', 2] })],
  ['an exponent too large for a number', token(HEADER, `{"sub":"x","exp":1e400}`)],
  ['two parts', `${segment(HEADER)}.${segment(PAYLOAD)}`],
  ['four parts', `${token(HEADER, PAYLOAD)}.${SIGNATURE}`],
  ['three padding characters', `${segment(HEADER)}===.${segment(PAYLOAD)}.${SIGNATURE}`],
  ['standard base64 characters', `${segment(HEADER)}.${segment(PAYLOAD)}.ab+/cd`],
  ['an empty part', `.${segment(PAYLOAD)}.${SIGNATURE}`],
  ['spaces around it', ` ${token(HEADER, PAYLOAD)} `],
  ['an empty string', ''],
  ['not a string', 42],
  ['undefined', undefined]
]

t.test('decomposeJwt answers every kind of token as aws-jwt-verify does', async (t) => {
  let refused = 0
  for (const [label, jwt] of cases) {
    const expected = outcome(decomposeUnverifiedJwt, jwt)
    if ((expected as { refused?: string }).refused !== undefined) refused++
    t.same(outcome(decomposeJwt, jwt), expected, label)
  }
  // The corpus holds both kinds, so neither half of the comparison is empty.
  t.ok(refused >= 20 && refused < cases.length - 5, `${refused} of ${cases.length} refused by the library`)
})

t.test('a payload naming __proto__ or constructor loses those keys and pollutes nothing', async (t) => {
  for (const [label, jwt] of cases.slice(2, 8)) {
    const { header, payload } = decomposeJwt(jwt)
    t.notOk(Object.hasOwn(payload, '__proto__') || Object.hasOwn(payload, 'constructor') || Object.hasOwn(header, '__proto__'), label)
    t.equal(Object.getPrototypeOf(payload), Object.prototype, `${label}: the payload's prototype`)
    t.equal(header.kid, label === '__proto__ in the header' ? undefined : 'CognitoLocal', `${label}: the header's kid`)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
})

t.test('a verifier decomposing with decomposeJwt verifies and refuses as before; a verifier without the seam stops start-up', async (t) => {
  const issuer = 'http://127.0.0.1:9229/local_pool'
  const make = () => JwtVerifier.create({ issuer, audience: null, jwksUri: `${issuer}/.well-known/jwks.json` })
  const plain = make()
  const lean = withLeanDecomposition(make())
  for (const [label, jwt] of cases) {
    // No keys are loaded: a well-formed token of this issuer is refused for its key, anything else for its form.
    t.same(outcome((value) => lean.verifySync(value as string), jwt), outcome((value) => plain.verifySync(value as string), jwt), label)
  }
  t.throws(() => withLeanDecomposition({}), /review src\/auth\/jwt-decomposition\.ts/)
})

t.test('CognitoJwtVerifier (AWS mode) decomposing with decomposeJwt accepts and refuses what it did before', async (t) => {
  const userPoolId = 'eu-west-1_Abcdefghi'
  const clientId = 'app-client-1'
  const issuer = `https://cognito-idp.eu-west-1.amazonaws.com/${userPoolId}`
  const jwks = { keys: [{ ...createPublicKey(emulatorPrivateKey()).export({ format: 'jwk' }), kid: 'CognitoLocal', alg: 'RS256', use: 'sig' }] }
  const make = () => {
    const verifier = CognitoJwtVerifier.create({ userPoolId, clientId, tokenUse: 'access', groups: 'ims-admins' })
    verifier.cacheJwks(jwks as never)
    return verifier
  }
  const plain = make()
  const lean = withLeanDecomposition(make())
  const now = Math.floor(Date.now() / 1000)
  const claims = { ...PAYLOAD, iss: issuer, client_id: clientId, exp: now + 600, iat: now }
  const genuine = signRs256(claims)
  const [head, , signature] = genuine.split('.') as [string, string, string]
  const tokens: Array<[string, string]> = [
    ['a genuine access token', genuine],
    ['its claims changed under the same signature', `${head}.${segment({ ...claims, 'cognito:groups': ['ims-admins', 'ims-managers'] })}.${signature}`],
    ['another app client', signRs256({ ...claims, client_id: 'other' })],
    ['an ID token', signRs256({ ...claims, token_use: 'id' })],
    ['outside the required group', signRs256({ ...claims, 'cognito:groups': ['ims-managers'] })],
    ['expired', signRs256({ ...claims, exp: now - 600 })],
    ['another pool', signRs256({ ...claims, iss: `${issuer}x` })]
  ]
  for (const [label, token] of tokens) {
    const expected = outcome((value) => plain.verifySync(value as string), token)
    t.same(outcome((value) => lean.verifySync(value as string), token), expected, label)
    t.equal((expected as { refused?: string }).refused === undefined, label === 'a genuine access token', `${label}: ${label === 'a genuine access token' ? 'accepted' : 'refused'}`)
  }
})
