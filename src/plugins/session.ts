// Sessions for the browser: the __Host- cookie, CSRF, bearer tokens, refresh before expiry, revocation; `request.identity`.
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError, unauthenticated } from '../errors.js'
import type { SharedStore } from '../store/shared-store.js'
import { SessionManager, type Session, type SessionLimits, type SessionRecord } from '../session/sessions.js'
import { Revocations, tokenIdentity } from '../session/revocations.js'
import { Sealer } from '../session/sealing.js'
import { TokenSignIns } from '../session/token-sign-ins.js'
import { subkey } from '../session/keys.js'
import { toUser, userOf, type User } from '../auth/user.js'
import { bearerToken, claimsFromBearer } from '../auth/bearer.js'
import type { CognitoTokens, IssuedTokens } from '../cognito/auth.js'
import { CognitoBudget } from '../cognito/budget.js'
import type { AccessClaims } from '../auth/token-verifier.js'
import type { RoleGroups } from '../role-mapping.js'
import { andThen, type MaybePromise } from '../maybe-promise.js'

export const SESSION_COOKIE = '__Host-ims-session'
export const PRE_AUTH_COOKIE = '__Host-ims-preauth'

/** Who is calling, and with which access token. */
export interface Identity {
  user: User
  accessToken: string
  via: 'bearer' | 'session'
  session?: Session
  /** The access token's claims as revocations judge them; absent for a session token that carries no token id. */
  claims?: AccessClaims
}

export interface SessionPluginOptions extends SessionLimits {
  mode: 'cookie' | 'token'
  store: SharedStore
  encryptionKeyHex: string
  refreshSkewSeconds: number
  /** How long a sign-in can go on being refreshed (the refresh-token validity): a sign-out revokes it that long. */
  signInSeconds: number
  roleGroups: RoleGroups
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionManager
    revocations: Revocations
    sessionMode: 'cookie' | 'token'
    store: SharedStore
    /**
     * Resolves the caller from a bearer token or the session cookie; throws UNAUTHENTICATED. Near expiry the
     * session's tokens are refreshed first, unless `refresh` is false (signing out needs no fresh token). A caller
     * known at once (a token verified lately, a session at hand) is answered without a promise.
     */
    authenticate: (request: FastifyRequest, reply: FastifyReply, options?: { refresh?: boolean }) => MaybePromise<Identity>
    /**
     * Gets new Cognito tokens for a session now and revokes the access token they replace; a rejected refresh token
     * ends the session (UNAUTHENTICATED).
     */
    refreshSession: (session: Session) => Promise<Session>
    /**
     * POST /auth/refresh: refreshSession, then the session moved to a fresh id.
     * Concurrent calls for one session on this instance (two tabs) share one outcome, so both get the same new id.
     */
    renewSession: (session: Session) => Promise<Session>
    /**
     * The live session a cookie names, none when it is malformed, unknown, expired or its access token was revoked.
     * Answered at once when at hand (see SessionManager.find).
     */
    findSession: (id: string | undefined) => MaybePromise<Session | undefined>
    /**
     * Ends the session behind the request's cookie, if any (sign-in always issues a fresh one; a sign-out ends it too):
     * deletes it, revokes its refresh token at Cognito and its access token everywhere.
     */
    endCookieSession: (request: FastifyRequest) => Promise<void>
    /**
     * Turns fresh Cognito tokens into a session (cookie mode) or a token body (token mode) and the user; refused when
     * the user's sessions were ended after `startedAt` (ms), when the sign-in that earned the tokens began, and when
     * `admitted` rejects (see IssuedTokens).
     */
    startSession: (reply: FastifyReply, issued: IssuedTokens) => Promise<{ user: User, tokens?: CognitoTokens }>
    /**
     * Token mode's POST /auth/refresh: new tokens from Cognito for a refresh token the client holds (`username` feeds
     * SECRET_HASH); UNAUTHENTICATED when Cognito refuses it or the new access token is revoked (its sign-in ended).
     */
    refreshTokens: (refreshToken: string, username: string) => Promise<CognitoTokens>
    /**
     * Ends every session of a user (in token mode, every sign-in) and revokes their tokens, on every instance. Each
     * `end…` waits on Cognito's revocations only within `budget` (see CognitoBudget); the adapter's own always apply.
     */
    endUserSessions: (sub: string, budget?: CognitoBudget) => Promise<void>
    /**
     * Ends the caller's own session: deletes it, revokes its refresh token at Cognito and its access token everywhere.
     * A bearer caller's sign-in is revoked (in token mode, the refresh token it was handed out with too), and the
     * session behind the request's cookie ends too, if it has one.
     */
    endSession: (request: FastifyRequest, identity: Identity, budget?: CognitoBudget) => Promise<void>
    /** Ends the session a stale cookie's id was moved into lately (a refresh elsewhere), revoking its tokens. */
    endMovedSession: (id: string, budget?: CognitoBudget) => Promise<void>
    /**
     * A sign-out that brings a refresh token: revokes it at Cognito and, in token mode, ends the sign-in it belongs to
     * (every access token the adapter handed out from it, on every instance), whatever state its access tokens are in.
     */
    endRefreshToken: (refreshToken: string, budget?: CognitoBudget) => Promise<void>
    /** Clears the request's session cookie (it found no session), unless that session just moved to a new id. */
    forgetCookie: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    identity?: Identity
  }
  interface FastifyContextConfig {
    /** The route may create a cookie session, so unsafe requests to it need X-CSRF like authenticated ones. */
    createsSession?: boolean
  }
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** The cookie attributes of the contract: __Host- prefix, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain. */
export const COOKIE_OPTIONS = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const

/** Sessions, cookies, CSRF and `app.authenticate` for the app (see the decorations above). */
export default fp<SessionPluginOptions>(async (app, options) => {
  await app.register(cookie)
  const sealer = new Sealer(subkey(options.encryptionKeyHex, 'session store'))
  const sessions = new SessionManager(options.store, sealer, options)
  const revocations = new Revocations(options.store, options.signInSeconds)
  const tokenSignIns = new TokenSignIns(options.store, sealer, revocations, async (refreshToken, budget) => await app.cognito.auth.revoke(refreshToken, budget), options)
  app.decorate('sessions', sessions)
  app.decorate('revocations', revocations)
  app.decorate('sessionMode', options.mode)
  app.decorate('store', options.store)
  app.decorateRequest('identity', undefined)
  app.addHook('onClose', async () => { await options.store.close() })
  // Serve once the store has connected and revocations from other instances arrive (each bounded; fatal only for a
  // server that cannot hold the store).
  app.addHook('onReady', async () => { await Promise.all([options.store.ready(), revocations.ready()]) })

  /**
   * CSRF: unsafe requests riding on (or creating) a cookie session must say X-CSRF: 1 and not come cross-site. A bearer
   * call carries no cookie and creates none. Whatever Authorization a request carries, one that rides on a cookie or
   * creates one is checked: those routes read the cookie, or set it, and never look at Authorization.
   */
  function lacksCsrfProof (request: FastifyRequest): boolean {
    if (!UNSAFE_METHODS.has(request.method)) return false
    const cookieRiding = request.cookies[SESSION_COOKIE] !== undefined || request.cookies[PRE_AUTH_COOKIE] !== undefined
    const creating = options.mode === 'cookie' && request.routeOptions.config?.createsSession === true
    if (!cookieRiding && !creating) return false
    return request.headers['x-csrf'] !== '1' || request.headers['sec-fetch-site'] === 'cross-site'
  }
  // Callback-style: an async hook would cost every request its promises.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!lacksCsrfProof(request)) return done()
    request.audit({ event: 'csrf', outcome: 'CSRF_REQUIRED', method: request.method, path: request.routeOptions.url ?? request.url.split('?')[0] })
    done(new AppError('CSRF_REQUIRED'))
  })

  /**
   * Tells the browser to drop a session cookie that finds nothing, unless another instance or request has just moved
   * that session to a new id: the browser may already hold the new cookie, which a late clearing would wipe.
   */
  async function forgetCookie (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const id = request.cookies[SESSION_COOKIE]
    if (id !== undefined && !await sessions.movedRecently(id)) reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS)
  }
  app.decorate('forgetCookie', forgetCookie)

  /** Runs `work` for a session unless it is already running for that session id here, whose outcome is then shared. */
  function sharedPerSession (running: Map<string, Promise<Session>>, work: (session: Session) => Promise<Session>): (session: Session) => Promise<Session> {
    return async (session) => {
      let pending = running.get(session.id)
      if (pending === undefined) {
        pending = work(session).finally(() => running.delete(session.id))
        running.set(session.id, pending)
      }
      return await pending
    }
  }

  /** Refreshes a session's Cognito tokens now; concurrent calls for one session share one Cognito call. */
  const refreshNow = sharedPerSession(new Map(), refreshSession)

  function nearExpiry (session: Session): boolean {
    return session.record.accessExpiresAt - Date.now() <= options.refreshSkewSeconds * 1000
  }

  /** Refreshes the session's Cognito tokens (they are about to expire); a transient failure keeps the session. */
  async function freshen (session: Session): Promise<Session> {
    const expiresIn = session.record.accessExpiresAt - Date.now()
    try {
      return await refreshNow(session)
    } catch (error) {
      if (error instanceof AppError && error.code === 'UPSTREAM_UNAVAILABLE' && expiresIn > 0) return session
      throw error
    }
  }

  async function refreshSession (session: Session): Promise<Session> {
    const refreshToken = sessions.refreshToken(session.record)
    if (refreshToken === undefined) throw unauthenticated()
    let tokens: CognitoTokens
    let claims: AccessClaims
    try {
      tokens = await app.cognito.auth.refresh(refreshToken, session.record.username)
      claims = await app.verifier.verifyAccess(tokens.accessToken)
    } catch (error) {
      // Only Cognito refusing the refresh token ends the session.
      if (error instanceof AppError && error.code === 'UNAUTHENTICATED') await sessions.destroy(session.id, session.record)
      throw error
    }
    // UNAUTHENTICATED when the session ended meanwhile: nothing to end. A session moved or refreshed meanwhile (another
    // tab's refresh and rotation, another request near expiry, on any instance) is answered with the tokens it holds now
    // (see SessionManager.update).
    const updated = await sessions.update(session, {
      accessToken: tokens.accessToken,
      accessExpiresAt: Date.now() + tokens.expiresIn * 1000,
      groups: claims.groups,
      ...(tokens.refreshToken === undefined ? {} : { refreshToken: tokens.refreshToken })
    })
    // The token it replaces is revoked at once (a sign-out revokes only the session's current one); not its sign-in,
    // which the new token continues. When the session moved or was refreshed meanwhile (another tab's refresh, another
    // request near expiry, on any instance), these tokens were not written: the session holds its own, which may be the
    // one read here, so it is this refresh's unused token that is revoked.
    // Work the replaced token authorised (an /api stream) goes on under its successor in the session.
    if (updated.record.accessToken === tokens.accessToken) await revocations.revokeToken(session.record.accessToken, tokens.accessToken)
    else await revocations.revokeToken(tokens.accessToken)
    return updated
  }

  /** Remembers who is calling on the request, for the guards and the routes after them. */
  function identify (request: FastifyRequest, identity: Identity): Identity {
    request.identity = identity
    return identity
  }

  /** The claims revocations judge a session's access token by, read once per record (the token was verified when stored). */
  const sessionClaims = new WeakMap<SessionRecord, AccessClaims | null>()
  function claimsOf (record: SessionRecord): AccessClaims | null {
    let claims = sessionClaims.get(record)
    if (claims === undefined) {
      const token = tokenIdentity(record.accessToken)
      claims = token === undefined ? null : { ...token, sub: record.sub, username: record.username, groups: record.groups }
      sessionClaims.set(record, claims)
    }
    return claims
  }

  function isSessionRevoked (record: SessionRecord): MaybePromise<boolean> {
    const claims = claimsOf(record)
    return claims === null ? false : revocations.isRevoked(claims)
  }

  /**
   * The session behind a cookie. From a remote store, only while its access token is not revoked: a delete the store
   * lost must not bring a signed-out session back (see src/session/revocations.ts). A store in this process loses no
   * delete, so its sessions skip the check.
   */
  function findSession (id: string | undefined): MaybePromise<Session | undefined> {
    const found = sessions.find(id)
    if (options.store.readNow !== undefined) return found
    return andThen(found, (session) => {
      if (session === undefined) return undefined
      return andThen(isSessionRevoked(session.record), (revoked) => revoked ? findUnrevokedInStore(session) : session)
    })
  }

  /** The copy at hand had a revoked token; the store's may be newer (a refresh elsewhere revoked the token it replaced). */
  async function findUnrevokedInStore (seen: Session): Promise<Session | undefined> {
    const stored = await sessions.findInStore(seen.id)
    if (stored === undefined || stored.record.accessToken === seen.record.accessToken) return undefined
    return await isSessionRevoked(stored.record) ? undefined : stored
  }
  app.decorate('findSession', findSession)

  function sessionIdentity (session: Session): Identity {
    const claims = claimsOf(session.record) ?? undefined
    return { user: userOf(session.record, options.roleGroups), accessToken: session.record.accessToken, via: 'session', session, claims }
  }

  app.decorate('authenticate', (request: FastifyRequest, reply: FastifyReply, { refresh = true }: { refresh?: boolean } = {}): MaybePromise<Identity> => {
    if (request.identity !== undefined) return request.identity
    const token = bearerToken(request)
    if (token !== undefined) {
      const claims = claimsFromBearer(app.verifier, token, (verified) => revocations.isRevoked(verified))
      return andThen(claims, (known) => identify(request, { user: userOf(known, options.roleGroups), accessToken: token, via: 'bearer', claims: known }))
    }
    return andThen(findSession(request.cookies[SESSION_COOKIE]), (found) => {
      if (found === undefined) return forgetCookie(request, reply).then(() => { throw unauthenticated() })
      if (refresh && nearExpiry(found)) {
        return freshen(found).then((session) => identify(request, sessionIdentity(session)), (error: unknown) => {
          request.audit({ event: 'refresh', outcome: error instanceof AppError ? error.code : 'INTERNAL', sub: found.record.sub })
          throw error
        })
      }
      return identify(request, sessionIdentity(found))
    })
  })

  app.decorate('startSession', async (reply: FastifyReply, { tokens, startedAt, admitted }: IssuedTokens) => {
    const [verified, id] = await Promise.all([app.verifier.verifyAccess(tokens.accessToken), app.verifier.verifyId(tokens.idToken)])
    // Both tokens came from one Cognito answer; they must name the same user.
    if (id.sub !== verified.sub) throw unauthenticated()
    // Judged as issued when the sign-in began: a challenge answered after the user's sessions were ended (a reset, an
    // admin sign-out) began with a password or a session that no longer holds.
    const access = { ...verified, iat: Math.min(verified.iat, Math.floor(startedAt / 1000)) }
    const user = toUser({ ...access, email: id.email }, options.roleGroups)
    if (tokens.refreshToken === undefined) throw new AppError('INTERNAL')
    // The checks above grant nothing, so they ran while the emulator was still asked whether the account is enabled.
    if (admitted !== undefined) await admitted
    // Beyond SESSION_MAX_PER_USER, the account's oldest sign-ins (token mode) or sessions end as a sign-out ends them.
    if (options.mode === 'token') {
      if (!await tokenSignIns.start(access, tokens.refreshToken)) throw unauthenticated()
      return { user, tokens }
    }
    const session = await sessions.create({
      sub: access.sub,
      username: access.username,
      email: id.email,
      groups: access.groups,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessExpiresAt: Date.now() + tokens.expiresIn * 1000
    })
    // Every session of the user may have ended while these tokens were being issued (a role change, a reset, an admin
    // sign-out): that revoked them, and ending the sessions either found this one or ran before it was listed.
    if (await revocations.isRevoked(access)) {
      await sessions.destroy(session.id, session.record)
      throw unauthenticated()
    }
    if (session.listed > options.maxPerUser) await revokeEnded(await sessions.makeRoom(access.sub, session.id))
    reply.setCookie(SESSION_COOKIE, session.id, COOKIE_OPTIONS)
    return { user }
  })

  app.decorate('refreshTokens', async (refreshToken: string, username: string) => {
    const tokens = await app.cognito.auth.refresh(refreshToken, username)
    // Whatever Cognito still honours, a sign-in ended here gives no more tokens (see src/session/token-sign-ins.ts).
    const access = await app.verifier.verifyAccess(tokens.accessToken)
    if (!await tokenSignIns.handOut(access, tokens.refreshToken ?? refreshToken)) throw unauthenticated()
    return tokens
  })

  app.decorate('refreshSession', refreshNow)

  app.decorate('renewSession', sharedPerSession(new Map(), async (session) => {
    const refreshed = await refreshNow(session)
    return await sessions.rotate(refreshed)
  }))

  /**
   * Revokes a session's tokens (see revokeEnded), then deletes it. In that order: a store that fails between the two
   * (503) leaves a session whose token is revoked, which no retry finds; the other order left a deleted session whose
   * tokens nobody revoked, and the retry found nothing to end. A refresh on another tab or instance may have written
   * new tokens into it (or into the id it moved to) since it was read: those are revoked too, or a delete the store
   * loses (a failover) would bring back a session whose token nothing refuses.
   */
  async function end (session: Session, budget = CognitoBudget.UNBOUNDED): Promise<void> {
    await revokeEnded([session.record], budget)
    const taken = await sessions.destroy(session.id, session.record)
    await revokeEnded(taken.filter((record) => record.accessToken !== session.record.accessToken), budget)
  }

  async function endCookieSession (request: FastifyRequest, budget = CognitoBudget.UNBOUNDED): Promise<void> {
    const found = await findSession(request.cookies[SESSION_COOKIE])
    if (found !== undefined) await end(found, budget)
  }
  app.decorate('endCookieSession', endCookieSession)

  app.decorate('endSession', async (request: FastifyRequest, { session, accessToken }: Identity, budget = CognitoBudget.UNBOUNDED) => {
    if (session !== undefined) return await end(session, budget)
    // The refresh token first (see revokeEnded); only token mode hands tokens out, and so keeps their refresh tokens.
    if (options.mode === 'token') await tokenSignIns.end(accessToken, budget)
    await revocations.revokeSignIn(accessToken)
    // The cookie is cleared with this answer: its session must not outlive it.
    await endCookieSession(request, budget)
  })

  /**
   * Revokes the tokens of sessions: their refresh tokens at Cognito (which never fails the call), then their sign-ins
   * everywhere (which a store failure may): a retry after that failure finds the session still unrevoked.
   */
  async function revokeEnded (records: SessionRecord[], budget = CognitoBudget.UNBOUNDED): Promise<void> {
    await Promise.all(records.map(async (record) => {
      const refreshToken = sessions.refreshToken(record)
      if (refreshToken !== undefined) await app.cognito.auth.revoke(refreshToken, budget)
      await revocations.revokeSignIn(record.accessToken)
    }))
  }

  app.decorate('endUserSessions', async (sub: string, budget = CognitoBudget.UNBOUNDED) => {
    const tokensPassFrom = await revocations.revokeUser(sub)
    await revokeEnded(await sessions.destroyUser(sub), budget)
    // Token mode: the sign-ins whose refresh tokens the clients hold end too, as their cookie sessions would.
    if (options.mode === 'token') await tokenSignIns.endUser(sub, budget)
    // The mark's second has begun during that work, or soon will: only then may the answer go (see revokeUser).
    const wait = tokensPassFrom - Date.now()
    if (wait > 0) await sleep(wait)
  })

  app.decorate('endRefreshToken', async (refreshToken: string, budget = CognitoBudget.UNBOUNDED) => {
    if (options.mode === 'token') await tokenSignIns.endByRefreshToken(refreshToken, budget)
    else await app.cognito.auth.revoke(refreshToken, budget)
  })

  app.decorate('endMovedSession', async (id: string, budget = CognitoBudget.UNBOUNDED) => {
    await revokeEnded(await sessions.endMovedFrom(id), budget)
  })
}, { name: 'session', dependencies: ['audit', 'cognito', 'verifier'] })
