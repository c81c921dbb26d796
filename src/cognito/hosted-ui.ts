// The pool's managed login (hosted UI) through openid-client: authorization URL with PKCE, code exchange, logout URL.
import * as oidc from 'openid-client'
import type { Config } from '../../fastify.config.js'
import { AppError, upstreamUnavailable } from '../errors.js'
import type { CognitoTokens } from './auth.js'

/** Everything the hosted login needs to know about the pool and this adapter. */
export interface HostedUiSettings {
  /** Base URL of the pool's `/oauth2/*` and `/logout` endpoints. */
  domain: string
  /** The token issuer: `https://cognito-idp.<region>.amazonaws.com/<pool>` or `<emulator>/<pool>`. */
  issuer: string
  clientId: string
  /** '' for a public client. */
  clientSecret: string
  /** `<PUBLIC_URL>/auth/callback`, registered on the app client. */
  redirectUri: string
  /** Where the pool's `/logout` returns to; undefined where the pool has no `/logout` (cognito-local). */
  logoutUri: string | undefined
  scopes: string
  /** The Cognito emulator: plain http allowed, no `/logout`, and ID tokens without `nonce`. */
  emulator: boolean
  timeoutMs: number
  transactionSeconds: number
}

/** What one started login keeps (sealed in the transaction cookie) for its callback. */
export interface LoginTransaction {
  state: string
  nonce: string
  codeVerifier: string
}

/** The adapter's own origin: PUBLIC_URL, else `http://HOST:PORT` (a wildcard host is reached on loopback). */
export function publicUrl (config: Config): string {
  if (config.hostedUi.publicUrl !== '') return config.hostedUi.publicUrl
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`
}

/** The redirect URI the app client must list in its CallbackURLs. */
export function callbackUrl (config: Config): string {
  return `${publicUrl(config)}/auth/callback`
}

/**
 * The hosted login settings for a resolved configuration, or undefined when hosted login is off: it is on in local
 * mode (against the emulator) and wherever HOSTED_UI_DOMAIN is set, and only with cookie sessions.
 */
export function hostedUiSettings (config: Config, localMode: boolean): HostedUiSettings | undefined {
  if (config.session.mode !== 'cookie') return undefined
  const emulator = config.cognito.endpoint !== ''
  const domain = config.hostedUi.domain !== '' ? config.hostedUi.domain : localMode ? config.cognito.endpoint : ''
  if (domain === '') return undefined
  return {
    domain,
    issuer: emulator
      ? `${config.cognito.endpoint}/${config.cognito.userPoolId}`
      : `https://cognito-idp.${config.cognito.region}.amazonaws.com/${config.cognito.userPoolId}`,
    clientId: config.cognito.clientId,
    clientSecret: config.cognito.clientSecret,
    redirectUri: callbackUrl(config),
    logoutUri: emulator ? undefined : (config.hostedUi.logoutUri !== '' ? config.hostedUi.logoutUri : `${publicUrl(config)}/`),
    scopes: config.hostedUi.scopes,
    emulator,
    timeoutMs: config.cognito.timeoutMs,
    transactionSeconds: config.hostedUi.transactionSeconds
  }
}

/** Error codes of openid-client that mean the answer was not for this login (wrong nonce, issuer, audience...). */
const REFUSED_RESPONSE_CODES = new Set(['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED', 'OAUTH_INVALID_RESPONSE', 'OAUTH_MISSING_REQUIRED_CLAIM'])

/** The sentence a refused callback carries. */
export const CALLBACK_REFUSED = 'This sign-in could not be completed. Start the sign-in again.'

/** Turns what openid-client threw into an AppError: a refused code or a foreign answer is 400; anything else 503. */
function translate (error: unknown): AppError {
  if (error instanceof AppError) return error
  if (error instanceof oidc.AuthorizationResponseError) return new AppError('VALIDATION_ERROR', CALLBACK_REFUSED)
  if (error instanceof oidc.ResponseBodyError) return error.status < 500 ? new AppError('VALIDATION_ERROR', CALLBACK_REFUSED) : upstreamUnavailable()
  if (error instanceof oidc.ClientError && REFUSED_RESPONSE_CODES.has(error.code ?? '')) return new AppError('VALIDATION_ERROR', CALLBACK_REFUSED)
  return upstreamUnavailable()
}

/**
 * How the adapter authenticates at the token endpoint: public clients send only client_id; a confidential client uses
 * HTTP Basic, as Cognito documents, except against the emulator, which reads client_id from the body only.
 */
function clientAuthentication (settings: HostedUiSettings): oidc.ClientAuth {
  if (settings.clientSecret === '') return oidc.None()
  return settings.emulator ? oidc.ClientSecretPost(settings.clientSecret) : oidc.ClientSecretBasic(settings.clientSecret)
}

/** The hosted login of one app client. */
export class HostedUi {
  private readonly configuration: oidc.Configuration

  constructor (readonly settings: HostedUiSettings) {
    // Cognito's discovery document lists no managed-login endpoints (and cognito-local's names the wrong host): say them.
    this.configuration = new oidc.Configuration({
      issuer: settings.issuer,
      authorization_endpoint: `${settings.domain}/oauth2/authorize`,
      token_endpoint: `${settings.domain}/oauth2/token`,
      jwks_uri: `${settings.issuer}/.well-known/jwks.json`
    }, settings.clientId, settings.clientSecret === '' ? undefined : settings.clientSecret, clientAuthentication(settings))
    this.configuration.timeout = Math.max(1, Math.ceil(settings.timeoutMs / 1000))
    if (settings.emulator) oidc.allowInsecureRequests(this.configuration)
  }

  /** A fresh state, nonce and PKCE verifier for one login. */
  newTransaction (): LoginTransaction {
    return { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() }
  }

  /** The pool's authorize URL for `transaction` (PKCE S256). */
  async authorizationUrl (transaction: LoginTransaction): Promise<URL> {
    return oidc.buildAuthorizationUrl(this.configuration, {
      response_type: 'code',
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes,
      state: transaction.state,
      nonce: transaction.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(transaction.codeVerifier),
      code_challenge_method: 'S256'
    })
  }

  /**
   * Exchanges the callback's code for tokens, checking state, PKCE and the ID token's issuer, audience and nonce.
   * The emulator drops the nonce, so there an ID token must carry none; a real pool must echo the transaction's.
   * Throws VALIDATION_ERROR (400) when the answer is refused, UPSTREAM_UNAVAILABLE when the pool cannot be reached.
   */
  async exchange (callbackQuery: string, transaction: LoginTransaction): Promise<CognitoTokens> {
    try {
      const tokens = await oidc.authorizationCodeGrant(this.configuration, new URL(`${this.settings.redirectUri}?${callbackQuery}`), {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        idTokenExpected: true,
        ...(this.settings.emulator ? {} : { expectedNonce: transaction.nonce })
      }, { redirect_uri: this.settings.redirectUri })
      if (tokens.id_token === undefined || tokens.refresh_token === undefined) throw new AppError('VALIDATION_ERROR', CALLBACK_REFUSED)
      return { accessToken: tokens.access_token, idToken: tokens.id_token, refreshToken: tokens.refresh_token, expiresIn: tokens.expires_in ?? 3600 }
    } catch (error) {
      throw translate(error)
    }
  }

  /** Where to send the browser after the adapter has ended its session: the pool's `/logout`, or undefined. */
  logoutUrl (): string | undefined {
    if (this.settings.logoutUri === undefined) return undefined
    const url = new URL(`${this.settings.domain}/logout`)
    url.searchParams.set('client_id', this.settings.clientId)
    url.searchParams.set('logout_uri', this.settings.logoutUri)
    return url.toString()
  }
}
