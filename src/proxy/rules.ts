// Which roles may call which part of the IMS API: role rules by path prefix, the longest covering one wins (API_ROLE_RULES).
import { ROLES, type Role } from '../role-mapping.js'
import { foldCase } from './path.js'

/** Path prefix (case-folded, under /api) to the roles allowed there. */
export type ApiRoleRules = Record<string, Role[]>

/** The contract's defaults; `/api` itself covers every path no longer prefix names. */
export const DEFAULT_API_ROLE_RULES: ApiRoleRules = {
  '/api': ['ADMIN', 'MANAGER', 'LINE_LEADER'],
  '/api/admin': ['ADMIN'],
  '/api/planning': ['ADMIN', 'MANAGER'],
  '/api/shop-floor': ['ADMIN', 'MANAGER', 'LINE_LEADER']
}

/** A prefix as rules keep it: case-folded as judged paths are (see foldCase), no trailing slash. */
function canonicalPrefix (prefix: string): string {
  const folded = foldCase(prefix)
  return folded.length > 4 && folded.endsWith('/') ? folded.replace(/\/+$/, '') : folded
}

/**
 * Prefix text that would not match what its author meant: paths are judged decoded, with `//` merged and `;parameters`
 * cut, and prefixes match as plain text, not patterns; such a rule would leave its paths to a shorter prefix.
 */
const UNMATCHABLE_PREFIX = /[*%;]|\/\//

/**
 * Parses an `API_ROLE_RULES` JSON value such as `{"/api/reports": ["ADMIN", "MANAGER"]}`. The given rules are laid
 * over the defaults (a prefix named again replaces its default), so adding a rule never opens `/api/admin`.
 * Throws an Error naming `settingName` when the value is not such an object.
 */
export function parseApiRoleRules (json: string, settingName = 'API_ROLE_RULES'): ApiRoleRules {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    throw new Error(`${settingName} must be JSON such as {"/api/reports": ["ADMIN", "MANAGER"]}; it could not be parsed.`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${settingName} must be a JSON object mapping path prefixes under /api to arrays of roles.`)
  }
  const rules: ApiRoleRules = { ...DEFAULT_API_ROLE_RULES }
  for (const [prefix, roles] of Object.entries(parsed)) {
    if (!/^\/api(\/[^\s?#\\]*)?$/i.test(prefix) || /(^|\/)\.\.?(\/|$)/.test(prefix)) {
      throw new Error(`${settingName} names "${prefix}", which is not a path prefix under /api.`)
    }
    if (UNMATCHABLE_PREFIX.test(prefix)) {
      throw new Error(`${settingName} names "${prefix}", but prefixes match request paths as plain decoded text: write it without "*" wildcards, "%" escapes, ";" parameters or "//".`)
    }
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => (ROLES as readonly unknown[]).includes(r))) {
      throw new Error(`${settingName}["${prefix}"] must be a non-empty array of ${ROLES.join(', ')}.`)
    }
    rules[canonicalPrefix(prefix)] = [...new Set(roles as Role[])]
  }
  return rules
}

/**
 * The roles allowed on `path` (a normalised, decoded, case-folded path under /api): those of the rule with the longest
 * prefix that covers `path` whole segments at a time (`/api/planning` covers `/api/planning/x`, not
 * `/api/planning-x`), narrowed by every longer rule whose prefix `path` merely starts with: an ambiguous path such
 * as `/api/admin-tools` is judged by the stricter of the rules it could mean.
 */
export function rolesForPath (rules: ApiRoleRules, path: string): Role[] {
  let covering: string | undefined
  for (const prefix of Object.keys(rules)) {
    const covers = path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/')
    if (covers && (covering === undefined || prefix.length > covering.length)) covering = prefix
  }
  if (covering === undefined) return []
  let roles = rules[covering]!
  for (const [prefix, allowed] of Object.entries(rules)) {
    if (prefix.length > covering.length && path.startsWith(prefix)) roles = roles.filter((role) => allowed.includes(role))
  }
  return roles
}
