// Token mode, two instances on one Redis: a sign-out with an access token, or with the refresh token alone, ends its sign-in, refresh token and refreshed tokens too; ending every session of a user ends all its sign-ins.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { TEST_PASSWORD } from '../../helpers/emulator.js'
import { startFaultyCognito, type FaultyCognito } from '../../helpers/faulty-cognito.js'
import { cognitoTokens, twoInstances } from '../../helpers/app.js'
import { sha256 } from '../../../src/digest.js'

let cognito: FaultyCognito
let a: FastifyInstance
let b: FastifyInstance

t.before(async () => {
  cognito = await startFaultyCognito()
  ;[a, b] = await twoInstances(cognito, { SESSION_MODE: 'token' })
})
t.teardown(async () => {
  await a?.close()
  await b?.close()
  await cognito?.stop()
})

interface Tokens { accessToken: string, refreshToken: string }

/** Signs `username` in (a new MANAGER when absent) and returns the tokens handed out. */
async function signIn (app: FastifyInstance, username?: string): Promise<Tokens> {
  const response = await app.inject({ method: 'POST', url: '/auth/sign-in', payload: { username: username ?? await cognito.user(['MANAGER']), password: TEST_PASSWORD } })
  return response.json().tokens as Tokens
}
const refresh = async (app: FastifyInstance, refreshToken: string) => await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
const me = async (app: FastifyInstance, accessToken: string) => (await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode
const signOut = async (app: FastifyInstance, accessToken: string, payload: Record<string, unknown>) =>
  await app.inject({ method: 'POST', url: '/auth/sign-out', headers: { authorization: `Bearer ${accessToken}` }, payload })

/** The refresh is refused as the contract says, with no tokens. */
function refused (t: Test, response: Awaited<ReturnType<typeof refresh>>, what: string): void {
  t.equal(response.statusCode, 401, `${what}: ${response.body}`)
  t.equal(response.json().error, 'UNAUTHENTICATED')
  t.notOk(response.json().tokens, 'no token is minted')
}

for (const payload of [{}, { global: true }]) {
  t.test(`a sign-out on B with ${JSON.stringify(payload)} and the sign-in's access token: its refresh token gets 401 on A and B`, async (t) => {
    const { accessToken, refreshToken } = await signIn(a)
    const out = await signOut(b, accessToken, payload)
    t.equal(out.statusCode, 204)
    t.equal(out.body, '', 'no body')
    t.equal(await me(a, accessToken), 401, 'the access token is refused on A')
    refused(t, await refresh(a, refreshToken), 'refresh on A')
    refused(t, await refresh(b, refreshToken), 'refresh on B')
  })
}

/** Two sign-ins of one user (two devices) on A, each with a token refreshed from it. */
async function twoDevices (): Promise<{ username: string, devices: Array<Tokens & { refreshed: string }> }> {
  const username = await cognito.user(['MANAGER'])
  const devices = []
  for (let i = 0; i < 2; i++) {
    const tokens = await signIn(a, username)
    const refreshed = await refresh(a, tokens.refreshToken)
    devices.push({ ...tokens, refreshed: refreshed.json().tokens.accessToken as string })
  }
  return { username, devices }
}

/** What ends every sign-in of a user, from another instance than the one that signed them in, and its answer's status. */
const endingEverySignIn: Record<string, { status: number, end: (username: string, accessToken: string) => Promise<number> }> = {
  'a sign-out everywhere on B': { status: 204, end: async (_username, accessToken) => (await signOut(b, accessToken, { global: true })).statusCode },
  'an admin sign-out on B': {
    status: 200,
    end: async (username) => {
      const admin = await signIn(b, await cognito.user(['ADMIN']))
      return (await b.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(username)}/sign-out`, headers: { authorization: `Bearer ${admin.accessToken}` } })).statusCode
    }
  }
}
for (const [ending, { status, end }] of Object.entries(endingEverySignIn)) {
  t.test(`${ending} ends every sign-in of the user: no device can refresh its way back in, on A or B`, async (t) => {
    const { username, devices } = await twoDevices()
    t.equal(await end(username, devices[0]!.accessToken), status)
    for (const [i, device] of devices.entries()) {
      for (const app of [a, b]) {
        t.equal(await me(app, device.accessToken), 401, `device ${i}: its first access token is refused`)
        t.equal(await me(app, device.refreshed), 401, `device ${i}: its refreshed access token is refused`)
      }
      refused(t, await refresh(a, device.refreshToken), `device ${i}: refresh on A`)
      refused(t, await refresh(b, device.refreshToken), `device ${i}: refresh on B`)
    }
    const again = await signIn(a, username)
    t.equal(await me(b, again.accessToken), 200, 'the user signs in again afterwards')
  })
}

t.test('a token refreshed before the sign-out is refused after it, whichever of the sign-in\'s tokens signs out', async (t) => {
  const first = await signIn(a)
  const refreshed = await refresh(b, first.refreshToken)
  t.equal(refreshed.statusCode, 200)
  const later: string = refreshed.json().tokens.accessToken
  t.equal(await me(a, later), 200, 'the refreshed token works until then')
  t.equal((await signOut(a, first.accessToken, {})).statusCode, 204)
  t.equal(await me(b, later), 401, 'the refreshed token is refused on B')
  t.equal(await me(a, later), 401, 'and on A')
  refused(t, await refresh(a, first.refreshToken), 'refresh')

  const second = await signIn(b)
  const next: string = (await refresh(a, second.refreshToken)).json().tokens.accessToken
  t.equal((await signOut(b, next, {})).statusCode, 204, 'signed out with the refreshed token')
  t.equal(await me(a, second.accessToken), 401, 'the sign-in\'s first token is refused')
  refused(t, await refresh(b, second.refreshToken), 'refresh')
})

/**
 * A refresh on A that Cognito answers late (it mints the new tokens at once, but its answer arrives after the
 * sign-out), a sign-out on B meanwhile (with `accessToken`, else with the refresh token alone): no token is handed out.
 */
async function signOutDuringRefresh (t: Test, refreshToken: string, accessToken?: string): Promise<void> {
  cognito.lateAnswers(2000, 'InitiateAuth')
  t.teardown(() => { cognito.lateAnswers(0) })
  const pending = refresh(a, refreshToken)
  await sleep(500)
  const out = accessToken === undefined
    ? await b.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken } })
    : await signOut(b, accessToken, {})
  t.equal(out.statusCode, 204)
  refused(t, await pending, 'the refresh in flight')
}

t.test('a refresh that Cognito answers while the sign-out runs hands out no token', async (t) => {
  const { accessToken, refreshToken } = await signIn(a)
  await signOutDuringRefresh(t, refreshToken, accessToken)
})

t.test('a sign-out on B with only the refresh token (the access token has lapsed or was lost) ends the sign-in: its first and refreshed access tokens get 401 on A and B', async (t) => {
  const first = await signIn(a)
  const refreshed = await refresh(a, first.refreshToken)
  t.equal(refreshed.statusCode, 200)
  const later: string = refreshed.json().tokens.accessToken
  const out = await b.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken: first.refreshToken } })
  t.equal(out.statusCode, 204)
  t.equal(await me(a, later), 401, 'the refreshed access token is refused on A')
  t.equal(await me(b, later), 401, 'and on B')
  t.equal(await me(a, first.accessToken), 401, 'the first access token is refused too')
  refused(t, await refresh(a, first.refreshToken), 'refresh')
  const again = await b.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken: first.refreshToken } })
  t.equal(again.statusCode, 204, 'a second sign-out is a harmless 204')
  const madeUp = randomBytes(64).toString('base64url')
  t.equal((await a.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken: madeUp } })).statusCode, 204, 'a made-up refresh token: 204 too')
  t.not(await a.store.get(`revoked-jti:refresh:${sha256(first.refreshToken)}`), undefined, 'the real one\'s sign-in is revoked in the store')
  t.equal(await a.store.get(`revoked-jti:refresh:${sha256(madeUp)}`), undefined, 'a value Cognito refuses to revoke writes nothing there')
})

t.test('a refresh in flight while a sign-out with only the refresh token runs, once the sign-in\'s access tokens have lapsed, hands out no token', async (t) => {
  const { refreshToken } = await signIn(a)
  // An hour later every access token handed out from this refresh token has lapsed, and so has the list the adapter
  // keeps of them (its members lapse with their tokens): let it go now, as its expiry would.
  await a.store.delete(`refresh-gave:${sha256(refreshToken)}`)
  await signOutDuringRefresh(t, refreshToken)
})

t.test('a refresh token taken straight from Cognito (the adapter handed nothing out from it): a refresh in flight during a sign-out with it hands out no token', async (t) => {
  const { refreshToken } = await cognitoTokens(a, await cognito.user(['MANAGER']), TEST_PASSWORD)
  await signOutDuringRefresh(t, refreshToken)
})

t.test('a sign-out with the refresh token while Cognito cannot be reached still ends the sign-in here: a refresh through the adapter afterwards is refused', async (t) => {
  const { refreshToken } = await signIn(a)
  // Slower than the app's Cognito deadline (4 s by default): the revocation cannot be asked.
  cognito.slowApi(6000)
  t.teardown(() => { cognito.slowApi(0) })
  t.equal((await b.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken } })).statusCode, 204)
  cognito.slowApi(0)
  // Cognito never heard of the sign-out and still honours the refresh token; the adapter hands out nothing for it.
  refused(t, await refresh(a, refreshToken), 'refresh on A once Cognito answers again')
})

t.test('a sign-out with a refresh token nothing here knows, while Cognito cannot be reached, is 503 for a retry and writes nothing', async (t) => {
  const madeUp = randomBytes(64).toString('base64url')
  cognito.slowApi(6000)
  t.teardown(() => { cognito.slowApi(0) })
  const out = await a.inject({ method: 'POST', url: '/auth/sign-out', payload: { refreshToken: madeUp } })
  t.equal(out.statusCode, 503)
  t.equal(out.json().error, 'UPSTREAM_UNAVAILABLE')
  t.ok(out.headers['retry-after'], 'with Retry-After')
  t.equal(await a.store.get(`revoked-jti:refresh:${sha256(madeUp)}`), undefined, 'nothing is written for it')
})
