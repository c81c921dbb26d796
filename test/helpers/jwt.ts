// Signs JWTs the way an attacker (or cognito-local, with the key it ships) would, for the forged-token tests.
import { createHmac, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** cognito-local's signing key, shipped in its package: tokens signed with it are "genuine" emulator tokens. */
export function emulatorPrivateKey (): KeyObject {
  const { jwk } = require('cognito-local/lib/keys/cognitoLocal.private.json') as { jwk: Record<string, string> }
  return createPrivateKey({ key: jwk, format: 'jwk' })
}

/** The emulator's public key as PEM (what an attacker can read from the JWKS). */
export function emulatorPublicPem (): string {
  const { jwk } = require('cognito-local/lib/keys/cognitoLocal.public.json') as { jwk: Record<string, string> }
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** An RS256 JWT signed with `key` (by default the emulator's key, kid CognitoLocal). */
export function signRs256 (payload: Record<string, unknown>, header: Record<string, unknown> = {}, key: KeyObject = emulatorPrivateKey()): string {
  const head = b64({ alg: 'RS256', typ: 'JWT', kid: 'CognitoLocal', ...header })
  const body = b64(payload)
  return `${head}.${body}.${sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`
}

/** An HS256 JWT with `secret` as the HMAC key. */
export function signHs256 (payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = {}): string {
  const head = b64({ alg: 'HS256', typ: 'JWT', ...header })
  const body = b64(payload)
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`
}

/** An unsigned JWT with the given `alg` spelling (none, NONE, nOnE…). */
export function unsigned (payload: Record<string, unknown>, alg: string): string {
  return `${b64({ alg, typ: 'JWT' })}.${b64(payload)}.`
}

/** Decodes a JWT's payload without checking anything. */
export function payloadOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** Encodes a header or payload segment. */
export const segment = b64
