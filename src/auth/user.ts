// The contract's user object, built from token claims and the group-to-role mapping.
import { primaryRole, rolesFromGroups, type Role, type RoleGroups } from '../role-mapping.js'

/** The user object of the HTTP contract. */
export interface User {
  sub: string
  username: string
  email: string | null
  roles: Role[]
  primaryRole: Role | null
  groups: string[]
}

/** What a user object is built from: verified token claims, or a session record. */
export interface UserSource { sub: string, username: string, groups: string[], email?: string | null }

/** Builds the user object; roles come only from Cognito groups, never from anything the client sent. */
export function toUser (claims: UserSource, mapping: RoleGroups): User {
  const roles = rolesFromGroups(claims.groups, mapping)
  return { sub: claims.sub, username: claims.username, email: claims.email ?? null, roles, primaryRole: primaryRole(roles), groups: [...claims.groups] }
}

/** Users already built, per source object (cached claims and session records are never changed, only replaced). */
const built = new WeakMap<UserSource, { mapping: RoleGroups, user: User }>()

/** toUser, remembered per source: a token or session seen again costs no rebuilding (nor a new object to answer). */
export function userOf (source: UserSource, mapping: RoleGroups): User {
  const known = built.get(source)
  if (known?.mapping === mapping) return known.user
  const user = toUser(source, mapping)
  built.set(source, { mapping, user })
  return user
}
