// GET /auth/login, /auth/callback and /auth/logout: the pool's managed login (code + PKCE) ending in the same session.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AppError } from '../../errors.js'
import { CALLBACK_REFUSED, type HostedUi } from '../../cognito/hosted-ui.js'
import { COOKIE_OPTIONS, PRE_AUTH_COOKIE, SESSION_COOKIE } from '../../plugins/session.js'
import { LOGIN_COOKIE, LOGIN_COOKIE_OPTIONS, LoginTransactions } from '../../session/login-transaction.js'
import { ErrorSchema, errorResponses } from '../schemas.js'
import { callbackErrorPage, prefersHtml } from './callback-page.js'

export interface HostedRoutesOptions {
  hostedUi: HostedUi
  /** The session key; the transaction cookies are sealed with a key derived from it. */
  encryptionKeyHex: string
  /** The login pages are served too: a failed callback's page takes their look. */
  pagesServed: boolean
}

const LoginQuery = Type.Object({ returnTo: Type.Optional(Type.String()) })
const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 2048 })),
  state: Type.Optional(Type.String({ maxLength: 512 })),
  error: Type.Optional(Type.String({ maxLength: 256 })),
  error_description: Type.Optional(Type.String({ maxLength: 2048 }))
})
const redirectResponse = { 302: Type.Null({ description: 'Redirect (Location header)' }), ...errorResponses }
/** A failed callback: the error body, or the page of callback-page.ts for a request that ranks HTML above JSON. */
const callbackFailure = {
  description: 'The error body; a browser\'s navigation (Accept ranking text/html above application/json) gets a page instead',
  content: {
    'application/json': { schema: Type.Ref(ErrorSchema) },
    'text/html': { schema: Type.String({ description: 'A page with a sentence and a way back' }) }
  }
}
const callbackResponse = { ...redirectResponse, '4xx': callbackFailure, '5xx': callbackFailure }

/** Headers by which browsers mark a request made ahead of a navigation the user may never make. */
const PURPOSE_HEADERS = ['sec-purpose', 'purpose', 'x-purpose']

/**
 * Whether a browser says the request is not a top-level navigation the user made (Fetch Metadata): an image, a
 * script's fetch, a frame, or a prefetch or prerender (which another page can ask for with speculation rules). The
 * cookie is SameSite=Strict, but another origin of the same site (a sibling subdomain) still sends it with those, so a
 * GET that ends the session must not act on them. Older browsers send no such header and are let through.
 */
function notANavigation (headers: Record<string, string | string[] | undefined>): boolean {
  const mode = headers['sec-fetch-mode']
  const destination = headers['sec-fetch-dest']
  const ahead = PURPOSE_HEADERS.some((name) => /prefetch|prerender/i.test(String(headers[name] ?? '')))
  return ahead || (mode !== undefined && mode !== 'navigate') || (destination !== undefined && destination !== 'document')
}

/** GET /auth/login, /auth/callback and /auth/logout: Cognito's managed login. */
const hosted: FastifyPluginAsyncTypebox<HostedRoutesOptions> = async (app, { hostedUi, encryptionKeyHex, pagesServed }) => {
  const transactions = new LoginTransactions(app.store, encryptionKeyHex, hostedUi.settings.transactionSeconds)
  const publicOrigin = new URL(hostedUi.settings.redirectUri)

  app.get('/login', {
    schema: { tags: ['auth'], summary: 'Starts the hosted (managed) login: 302 to the pool', querystring: LoginQuery, response: redirectResponse }
  }, async (request, reply) => {
    // Locally, localhost and 127.0.0.1 are different cookie jars: start where the callback will land.
    if (hostedUi.settings.emulator && request.host !== publicOrigin.host) {
      const here = new URL('/auth/login', publicOrigin)
      if (request.query.returnTo !== undefined) here.searchParams.set('returnTo', request.query.returnTo)
      return await reply.redirect(here.toString(), 302)
    }
    const transaction = hostedUi.newTransaction()
    const cookie = await transactions.start(transaction, request.query.returnTo ?? '/')
    reply.setCookie(LOGIN_COOKIE, cookie, { ...LOGIN_COOKIE_OPTIONS, maxAge: transactions.ttlSeconds })
    return await reply.redirect((await hostedUi.authorizationUrl(transaction)).toString(), 302)
  })

  app.get('/callback', {
    config: { oauthCallback: true },
    schema: { tags: ['auth'], summary: 'The pool returns here with a code: 302 to returnTo with a session', querystring: CallbackQuery, response: callbackResponse },
    // A person's browser lands here (Back, a double click, an expired login): the error handler's answer keeps its
    // status and headers, but a navigation that prefers HTML reads a page instead of the JSON body.
    onSend: async (request, reply, payload) => {
      if (reply.statusCode < 400 || !prefersHtml(request.headers)) return payload
      reply.type('text/html; charset=utf-8')
      return callbackErrorPage(reply.statusCode, request.headers, pagesServed)
    }
  }, async (request, reply) => {
    const refuse = (reason: string): AppError => {
      request.audit({ event: 'sign-in', method: 'hosted', outcome: 'refused', reason })
      return new AppError('VALIDATION_ERROR', CALLBACK_REFUSED)
    }
    const transaction = transactions.open(request.cookies[LOGIN_COOKIE])
    if (transaction === undefined) {
      reply.clearCookie(LOGIN_COOKIE, LOGIN_COOKIE_OPTIONS)
      throw refuse('no-transaction')
    }
    // A callback that is not this transaction's (a stray link, another tab's login) leaves it to the login under way.
    if (request.query.state === undefined || request.query.state !== transaction.state) throw refuse('state-mismatch')
    // This transaction's own callback: whatever happens next, it is over.
    reply.clearCookie(LOGIN_COOKIE, LOGIN_COOKIE_OPTIONS)
    if (!await transactions.consume(transaction)) throw refuse('transaction-used')
    if (request.query.error !== undefined || request.query.code === undefined) throw refuse('no-code')

    const rawUrl = request.raw.url ?? ''
    const rawQuery = rawUrl.includes('?') ? rawUrl.slice(rawUrl.indexOf('?') + 1) : ''
    let tokens
    try {
      tokens = await hostedUi.exchange(rawQuery, transaction)
    } catch (error) {
      request.audit({ event: 'sign-in', method: 'hosted', outcome: error instanceof AppError ? error.code : 'INTERNAL' })
      throw error
    }
    const claims = await app.verifier.verifyAccess(tokens.accessToken)
    // cognito-local's login form lets disabled users through; the custom sign-in refuses them, so this does too.
    if (app.cognito.gateway.emulator && !await app.cognito.auth.isEnabled(claims.username)) {
      if (tokens.refreshToken !== undefined) await app.cognito.auth.revoke(tokens.refreshToken)
      request.audit({ event: 'sign-in', method: 'hosted', outcome: 'INVALID_CREDENTIALS', sub: claims.sub })
      throw new AppError('INVALID_CREDENTIALS')
    }
    // Sign-in always issues a fresh session id; a session this browser had ends here.
    await app.endCookieSession(request)
    if (request.cookies[PRE_AUTH_COOKIE] !== undefined) reply.clearCookie(PRE_AUTH_COOKIE, COOKIE_OPTIONS)
    // Judged as begun with the transaction: a user whose sessions were ended since (a sign-out everywhere, an admin's
    // sign-out, a reset) signed in at the pool before that, with a code still to redeem. Refused, as a late challenge is.
    let user
    try {
      ({ user } = await app.startSession(reply, { tokens, startedAt: transaction.startedAt }))
    } catch (error) {
      request.audit({ event: 'sign-in', method: 'hosted', outcome: error instanceof AppError ? error.code : 'INTERNAL', sub: claims.sub })
      throw error
    }
    request.audit({ event: 'sign-in', method: 'hosted', outcome: 'success', sub: user.sub })
    return await reply.redirect(transaction.returnTo, 302)
  })

  app.get('/logout', {
    schema: { tags: ['auth'], summary: 'Ends the session, revokes the refresh token, then 302 to the pool\'s /logout', response: redirectResponse }
  }, async (request, reply) => {
    if (notANavigation(request.headers)) {
      request.audit({ event: 'csrf', outcome: 'CSRF_REQUIRED', method: request.method, path: '/auth/logout' })
      throw new AppError('CSRF_REQUIRED', 'Sign out by opening this address in the browser, not from within a page.')
    }
    try {
      const identity = await app.authenticate(request, reply, { refresh: false })
      await app.endSession(request, identity, app.cognito.gateway.budget())
      request.audit({ event: 'sign-out', method: 'hosted', outcome: 'success', sub: identity.user.sub })
    } catch (error) {
      // Logging out without a live session still ends at the pool's logout.
      if (!(error instanceof AppError) || error.code !== 'UNAUTHENTICATED') throw error
    }
    reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS)
    // cognito-local has no /logout: locally the browser comes straight back to the login page.
    return await reply.redirect(hostedUi.logoutUrl() ?? '/', 302)
  })
}

export default hosted
