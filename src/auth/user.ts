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

/** Builds the user object; roles come only from Cognito groups, never from anything the client sent. */
export function toUser (claims: { sub: string, username: string, email: string | null, groups: string[] }, mapping: RoleGroups): User {
  const roles = rolesFromGroups(claims.groups, mapping)
  return { sub: claims.sub, username: claims.username, email: claims.email, roles, primaryRole: primaryRole(roles), groups: [...claims.groups] }
}
