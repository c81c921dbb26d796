// Maps Cognito group names to IMS roles; pure functions shared by the server, the guards and the triggers.

/** The IMS roles, highest first. */
export const ROLES = ['ADMIN', 'MANAGER', 'LINE_LEADER'] as const
export type Role = (typeof ROLES)[number]

/** Which Cognito groups grant each role. Group names are matched exactly (case-sensitive). */
export type RoleGroups = Record<Role, string[]>

/** The contract's default mapping: each role is granted by the group of the same name. */
export const DEFAULT_ROLE_GROUPS: RoleGroups = {
  ADMIN: ['ADMIN'],
  MANAGER: ['MANAGER'],
  LINE_LEADER: ['LINE_LEADER']
}

/** Returns the roles granted by `groups`, highest first, without duplicates. */
export function rolesFromGroups (groups: readonly string[], mapping: RoleGroups = DEFAULT_ROLE_GROUPS): Role[] {
  return ROLES.filter((role) => mapping[role].some((group) => groups.includes(group)))
}

/** The highest of ADMIN > MANAGER > LINE_LEADER among `roles`, or null. */
export function primaryRole (roles: readonly Role[]): Role | null {
  return ROLES.find((role) => roles.includes(role)) ?? null
}

/** Returns the Cognito groups that grant exactly `roles` (the first group named for each role). */
export function groupsForRoles (roles: readonly Role[], mapping: RoleGroups = DEFAULT_ROLE_GROUPS): string[] {
  return roles.map((role) => mapping[role][0]).filter((group): group is string => group !== undefined)
}

/**
 * Parses a `ROLE_GROUPS` JSON value such as `{"ADMIN": ["ims-admins"]}`; roles left out keep their default.
 * Throws an Error naming `settingName` when the value is not such an object.
 */
export function parseRoleGroups (json: string, settingName = 'ROLE_GROUPS'): RoleGroups {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    throw new Error(`${settingName} must be JSON such as {"ADMIN": ["ADMIN"]}; it could not be parsed.`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${settingName} must be a JSON object mapping ADMIN, MANAGER and LINE_LEADER to arrays of group names.`)
  }
  const mapping: RoleGroups = { ...DEFAULT_ROLE_GROUPS }
  for (const [role, groups] of Object.entries(parsed)) {
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new Error(`${settingName} names an unknown role "${role}"; the roles are ${ROLES.join(', ')}.`)
    }
    if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g === 'string' && g.length > 0)) {
      throw new Error(`${settingName}.${role} must be a non-empty array of group names.`)
    }
    mapping[role as Role] = groups
  }
  return mapping
}
