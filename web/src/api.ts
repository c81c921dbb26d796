// Calls the adapter's JSON routes as the contract says (X-CSRF: 1, same-origin cookies); never sees a token.
import { lang } from './i18n.js'

/** An error answer of the contract, or a network failure (`code` NETWORK). */
export class ApiError extends Error {
  constructor (
    readonly code: string,
    message: string,
    readonly status: number,
    /** INVALID_PASSWORD: the unmet password rules. */
    readonly rules: string[] = [],
    /** 429 and 503: seconds to wait, from Retry-After. */
    readonly retryAfter?: number
  ) {
    super(message)
  }
}

/**
 * How long an answer may take before the page calls the network lost: the adapter answers within a few seconds, a 503
 * when Cognito is slow, so a request still open after this is stuck on the way (a phone's Wi-Fi gone, a stalled proxy).
 */
const ANSWER_TIMEOUT_MS = 20_000

/** Sends a JSON request to the adapter and returns the parsed body (undefined for 204); throws ApiError. */
export async function call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let response: Response
  // A timer, not AbortSignal.timeout, which browsers the pages are built for lack (Safari before 16).
  const deadline = new AbortController()
  const timer = setTimeout(() => { deadline.abort() }, ANSWER_TIMEOUT_MS)
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: deadline.signal,
      // The page's language, so that an account made here gets its emails in it (see /auth/sign-up).
      headers: method === 'GET'
        ? { accept: 'application/json', 'accept-language': lang() }
        : { accept: 'application/json', 'accept-language': lang(), 'content-type': 'application/json', 'x-csrf': '1' },
      ...(method === 'GET' ? {} : { body: JSON.stringify(body ?? {}) })
    })
  } catch {
    clearTimeout(timer)
    throw new ApiError('NETWORK', '', 0)
  }
  if (response.status === 204) {
    clearTimeout(timer)
    return undefined as T
  }
  const data = await response.json().catch(() => ({})).finally(() => { clearTimeout(timer) }) as Record<string, unknown>
  if (response.ok) return data as T
  const retry = Number(response.headers.get('retry-after'))
  throw new ApiError(
    typeof data.error === 'string' ? data.error : 'INTERNAL',
    // No sentence in a gateway's own page, nor in a status line over HTTP/2: the page words it (i18n.errorText).
    typeof data.message === 'string' ? data.message : '',
    response.status,
    Array.isArray(data.rules) ? data.rules.filter((r): r is string => typeof r === 'string') : [],
    Number.isFinite(retry) && retry > 0 ? retry : undefined
  )
}

/** The contract's user object. */
export interface User {
  sub: string
  username: string
  email: string | null
  roles: string[]
  primaryRole: string | null
  groups: string[]
}

/** What sign-in and challenge answers return. */
export type SignInAnswer =
  | { status: 'SIGNED_IN', user: User }
  | { status: 'CHALLENGE', challenge: string, destination?: string, options?: string[], secretCode?: string }

/** GET /auth/config. */
export interface PublicConfig {
  mode: 'local' | 'endpoint' | 'aws'
  hostedUi: { loginUrl: string } | null
}

/** An IMS area and the roles that may reach it (served by the pages plugin from the proxy's rules). */
export interface Area { path: string, roles: string[] }
