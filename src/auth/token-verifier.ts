// Verifies Cognito access and ID tokens with aws-jwt-verify, with a bounded cache of tokens already verified.
import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify'
import { SimpleJwksCache } from 'aws-jwt-verify/jwk'
import type { Fetcher } from 'aws-jwt-verify/https'
import { JwksNotAvailableInCacheError, KidNotFoundInJwksError, FetchError, NonRetryableFetchError } from 'aws-jwt-verify/error'
import { AppError, unauthenticated, upstreamUnavailable } from '../errors.js'
import { sha256 } from '../digest.js'
import { withLeanDecomposition } from './jwt-decomposition.js'
import { andThen, type MaybePromise } from '../maybe-promise.js'

/** The claims of a verified access token that the adapter uses. */
export interface AccessClaims {
  sub: string
  username: string
  groups: string[]
  exp: number
  iat: number
  jti?: string
  originJti?: string
}

/** The claims of a verified ID token that the adapter uses. */
export interface IdClaims {
  sub: string
  email: string | null
}

/** Where the tokens come from and what to accept. */
export interface VerifierSettings {
  userPoolId: string
  clientId: string
  /** '' for AWS (CognitoJwtVerifier); otherwise the emulator's base URL, whose issuer is `<endpoint>/<pool>`. */
  endpoint: string
  graceSeconds: number
  jwksTimeoutMs: number
  /** How many verified tokens to remember. */
  cacheSize?: number
}

/** Tokens longer than this are refused before any parsing (a Cognito access token is about 1 KB). */
const MAX_TOKEN_LENGTH = 16 * 1024
/** A JWKS document larger than this is refused. */
const MAX_JWKS_BYTES = 256 * 1024

/** Fetches JWKS over http or https, within a deadline and a size limit (aws-jwt-verify's own fetcher is https-only). */
export class DeadlineFetcher implements Fetcher {
  /** Counts fetches, so tests and the readiness probe can see them. */
  fetches = 0

  constructor (private readonly timeoutMs: number) {}

  async fetch (uri: string): Promise<ArrayBuffer> {
    this.fetches++
    let response: Response
    try {
      response = await fetch(uri, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' })
    } catch (error) {
      throw new FetchError(uri, (error as Error).message)
    }
    if (response.status !== 200) throw new NonRetryableFetchError(uri, `status ${response.status}`)
    const body = await response.arrayBuffer()
    if (body.byteLength > MAX_JWKS_BYTES) throw new NonRetryableFetchError(uri, 'JWKS too large')
    return body
  }
}

/** What both aws-jwt-verify verifiers offer. */
interface LibraryVerifier { verify: (token: string) => Promise<unknown>, verifySync: (token: string) => unknown }

/** The contract's error for a failed verification: keys that cannot be had are 503, anything else 401. */
function refusal (error: unknown): AppError {
  if (error instanceof AppError) return error
  if (error instanceof JwksNotAvailableInCacheError || error instanceof FetchError) return upstreamUnavailable()
  return unauthenticated()
}

/**
 * Verifies synchronously with the cached keys (the common case, and the cheaper path: answered at once, no promise),
 * and falls back to the async path, which may fetch the JWKS (penalty-boxed), only when the keys are not cached or the
 * kid is unknown. A refusal is thrown, or rejects.
 */
function verifyPayload (verifier: LibraryVerifier, token: string): MaybePromise<Record<string, unknown>> {
  try {
    return verifier.verifySync(token) as Record<string, unknown>
  } catch (error) {
    if (!(error instanceof JwksNotAvailableInCacheError || error instanceof KidNotFoundInJwksError)) throw refusal(error)
  }
  return (verifier.verify(token) as Promise<Record<string, unknown>>).catch((error: unknown) => { throw refusal(error) })
}

/** Cognito always sets these; a token without them is not one of its tokens (aws-jwt-verify accepts a missing exp). */
function requireTimes (payload: { exp?: unknown, iat?: unknown }): void {
  if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number') throw new Error('exp and iat are required')
}

function stringArray (value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** One verifier per app: created once, keys loaded before listen. */
export class TokenVerifier {
  readonly fetcher: DeadlineFetcher
  private readonly access: LibraryVerifier
  private readonly id: LibraryVerifier
  private readonly hydrateKeys: () => Promise<void>
  private readonly cache = new Map<string, AccessClaims>()
  private readonly cacheSize: number
  private keysLoaded = false

  constructor (private readonly settings: VerifierSettings) {
    this.fetcher = new DeadlineFetcher(settings.jwksTimeoutMs)
    this.cacheSize = settings.cacheSize ?? 10_000
    const jwksCache = new SimpleJwksCache({ fetcher: this.fetcher })
    const { access, id } = TokenVerifier.libraryVerifiers(settings, jwksCache)
    this.access = access
    this.id = id
    this.hydrateKeys = async () => { await access.hydrate() }
  }

  /**
   * aws-jwt-verify's verifiers for this pool: Cognito's own on AWS, the generic one with Cognito's checks locally; each
   * decomposes tokens with decomposeJwt (same parts, without the JSON reviver's cost where it cannot matter).
   */
  private static libraryVerifiers (settings: VerifierSettings, jwksCache: SimpleJwksCache): { access: LibraryVerifier & { hydrate: () => Promise<void> }, id: LibraryVerifier } {
    const common = { graceSeconds: settings.graceSeconds }
    if (settings.endpoint === '') {
      const cognito = { userPoolId: settings.userPoolId, clientId: settings.clientId, ...common, customJwtCheck: ({ payload }: { payload: { exp?: unknown, iat?: unknown } }) => { requireTimes(payload) } }
      return {
        access: withLeanDecomposition(CognitoJwtVerifier.create({ ...cognito, tokenUse: 'access' }, { jwksCache })),
        id: withLeanDecomposition(CognitoJwtVerifier.create({ ...cognito, tokenUse: 'id' }, { jwksCache }))
      }
    } else {
      // cognito-local: CognitoJwtVerifier refuses its pool ids, so check what it would check ourselves.
      const issuer = `${settings.endpoint}/${settings.userPoolId}`
      const jwksUri = `${issuer}/.well-known/jwks.json`
      const access = withLeanDecomposition(JwtVerifier.create({
        issuer,
        jwksUri,
        audience: null,
        ...common,
        customJwtCheck: ({ payload }) => {
          requireTimes(payload)
          if (payload.token_use !== 'access') throw new Error('not an access token')
          if (payload.client_id !== settings.clientId) throw new Error('another app client')
        }
      }, { jwksCache }))
      const id = withLeanDecomposition(JwtVerifier.create({
        issuer,
        jwksUri,
        audience: settings.clientId,
        ...common,
        customJwtCheck: ({ payload }) => {
          requireTimes(payload)
          if (payload.token_use !== 'id') throw new Error('not an ID token')
        }
      }, { jwksCache }))
      return { access, id }
    }
  }

  /** Loads the signing keys; call before listening. */
  async hydrate (): Promise<void> {
    await this.hydrateKeys()
    this.keysLoaded = true
  }

  /** True once the signing keys have been loaded. */
  get ready (): boolean { return this.keysLoaded }

  /**
   * Verifies an access token of this app client (signature, issuer, expiry with grace, token_use, client_id). Answered
   * at once, without a promise, when the token was verified lately or the signing keys are at hand (the common case, on
   * every bearer request); otherwise a promise. A refusal is thrown, or rejects, with UNAUTHENTICATED, or
   * UPSTREAM_UNAVAILABLE when the keys cannot be had.
   */
  verifyAccess (token: string): MaybePromise<AccessClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated()
    const key = sha256(token)
    const cached = this.cache.get(key)
    if (cached !== undefined) {
      if (cached.exp + this.settings.graceSeconds > Date.now() / 1000) return cached
      this.cache.delete(key)
    }
    return andThen(verifyPayload(this.access, token), (payload) => this.remember(key, payload))
  }

  /** The claims of a token just verified, remembered under `key` (its cache key). */
  private remember (key: string, payload: Record<string, unknown>): AccessClaims {
    const claims: AccessClaims = {
      sub: String(payload.sub),
      username: String(payload.username ?? payload['cognito:username'] ?? payload.sub),
      groups: stringArray(payload['cognito:groups']),
      exp: Number(payload.exp),
      iat: Number(payload.iat)
    }
    if (typeof payload.jti === 'string') claims.jti = payload.jti
    if (typeof payload.origin_jti === 'string') claims.originJti = payload.origin_jti
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(key, claims)
    return claims
  }

  /** Verifies an ID token of this app client. */
  async verifyId (token: string): Promise<IdClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated()
    const payload = await verifyPayload(this.id, token)
    return { sub: String(payload.sub), email: typeof payload.email === 'string' ? payload.email : null }
  }
}
