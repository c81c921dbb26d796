// User administration against the user pool, in the contract's terms: users with roles, invitations, roles, enable, sign-out.
import {
  AdminAddUserToGroupCommand, AdminCreateUserCommand, AdminDisableUserCommand, AdminEnableUserCommand, AdminListGroupsForUserCommand, AdminRemoveUserFromGroupCommand, AdminUserGlobalSignOutCommand, ListUsersCommand,
  ListUsersInGroupCommand, type AdminCreateUserCommandOutput, type AdminListGroupsForUserCommandOutput, type AttributeType, type ListUsersCommandOutput,
  type ListUsersInGroupCommandOutput
} from '@aws-sdk/client-cognito-identity-provider'
import { AppError, UnsupportedByEmulatorError } from '../errors.js'
import { DEFAULT_ROLE_GROUPS, groupsForRoles, rolesFromGroups, type Role, type RoleGroups } from '../role-mapping.js'
import type { CognitoGateway, Translation } from './gateway.js'
import { toUser, type User } from '../auth/user.js'

/** A user as an administrator sees it: the contract's user object plus account state. */
export interface AdminUser extends User {
  enabled: boolean
  /** Cognito's UserStatus: CONFIRMED, FORCE_CHANGE_PASSWORD, RESET_REQUIRED, UNCONFIRMED, ... */
  status: string
  createdAt: string | null
  updatedAt: string | null
}

/** Group memberships to change so that a user holds exactly the roles asked for. */
export interface RoleChange { add: string[], remove: string[] }

/** One page of users and the cursor of the next, or null at the end. */
export interface UserPage { users: AdminUser[], nextCursor: string | null }

/** Admin calls name users the caller picked: an unknown one is 404, and an admin-rights failure is ours, not the caller's. */
const ADMIN_TRANSLATION: Translation = {
  UserNotFoundException: 'NOT_FOUND',
  ResourceNotFoundException: 'NOT_FOUND',
  NotAuthorizedException: 'INTERNAL'
}

/** Cognito's page size limit for ListUsers and ListUsersInGroup. */
export const MAX_PAGE_SIZE = 60
/** Group lookups run this many at a time while a page is assembled. */
const LOOKUP_CONCURRENCY = 5
/** AdminListGroupsForUser pages read at most (60 groups each). */
const MAX_GROUP_PAGES = 10

/** Where a listing stands: which role's group, Cognito's token, and how many of that page were already shown. */
interface Cursor { role: Role | null, group: number, token?: string, skip: number }

function encodeCursor (cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

function decodeCursor (value: string, role: Role | null): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Cursor
    const valid = cursor.role === role && Number.isInteger(cursor.group) && cursor.group >= 0 &&
      Number.isInteger(cursor.skip) && cursor.skip >= 0 && (cursor.token === undefined || typeof cursor.token === 'string')
    if (valid) return cursor
  } catch { /* falls through to the refusal */ }
  throw new AppError('VALIDATION_ERROR', 'The cursor is not valid for this listing; start again without it.')
}

function attribute (attributes: AttributeType[] | undefined, name: string): string | null {
  return attributes?.find((a) => a.Name === name)?.Value ?? null
}

/** Runs `fn` over `items`, `limit` at a time, keeping their order. */
async function mapLimited<T, R> (items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (let i = 0; i < items.length; i += limit) results.push(...await Promise.all(items.slice(i, i + limit).map(fn)))
  return results
}

/** Cognito's fields of a user, as ListUsers and AdminGetUser each spell them. */
interface CognitoUser {
  Username?: string
  Attributes?: AttributeType[]
  Enabled?: boolean
  UserStatus?: string
  UserCreateDate?: Date
  UserLastModifiedDate?: Date
}

/** Administration of one user pool, with the group-to-role mapping of the configuration. */
export class CognitoAdmin {
  constructor (private readonly gateway: CognitoGateway, private readonly roleGroups: RoleGroups = DEFAULT_ROLE_GROUPS) {}

  private get userPoolId (): string { return this.gateway.settings.userPoolId }

  /**
   * A page of users, of one role (members of the role's groups, via ListUsersInGroup) or of all (ListUsers).
   * Pages hold at most `limit` users, also where Cognito (or the emulator, which ignores Limit) returns more. A user in
   * several of the role's groups is shown with the first of them only, so a page may hold fewer.
   */
  async listUsers (options: { role?: Role, limit: number, cursor?: string }): Promise<UserPage> {
    const role = options.role ?? null
    const cursor: Cursor = options.cursor === undefined ? { role, group: 0, skip: 0 } : decodeCursor(options.cursor, role)
    const groups = role === null ? [] : this.roleGroups[role]
    if (role !== null && cursor.group >= groups.length) throw new AppError('VALIDATION_ERROR', 'The cursor is not valid for this listing; start again without it.')
    const limit = Math.min(options.limit, MAX_PAGE_SIZE)
    const page = role === null ? await this.usersPage(limit, cursor.token) : await this.groupPage(groups[cursor.group]!, limit, cursor.token)
    const rest = page.users.slice(cursor.skip)
    let next: Cursor | null
    if (rest.length > limit) next = { ...cursor, skip: cursor.skip + limit }
    else if (page.next !== undefined) next = { role, group: cursor.group, token: page.next, skip: 0 }
    else if (cursor.group + 1 < groups.length) next = { role, group: cursor.group + 1, skip: 0 }
    else next = null
    // Members of the role's earlier groups were shown with those; ListUsers (no role) has no earlier group.
    const shownEarlier = new Set(groups.slice(0, cursor.group))
    const users = (await mapLimited(rest.slice(0, limit), LOOKUP_CONCURRENCY, async (user) => await this.withGroups(user)))
      .filter((user) => !user.groups.some((group) => shownEarlier.has(group)))
    return { users, nextCursor: next === null ? null : encodeCursor(next) }
  }

  private async usersPage (limit: number, token?: string): Promise<{ users: CognitoUser[], next?: string }> {
    const output = await this.gateway.call<ListUsersCommandOutput>(new ListUsersCommand({ UserPoolId: this.userPoolId, Limit: limit, PaginationToken: token }), ADMIN_TRANSLATION)
    return { users: output.Users ?? [], ...(output.PaginationToken === undefined ? {} : { next: output.PaginationToken }) }
  }

  /** Members of one of a role's groups; none where ROLE_GROUPS names a group the pool does not have (yet). */
  private async groupPage (group: string, limit: number, token?: string): Promise<{ users: CognitoUser[], next?: string }> {
    let output: ListUsersInGroupCommandOutput
    try {
      output = await this.gateway.call<ListUsersInGroupCommandOutput>(
        new ListUsersInGroupCommand({ UserPoolId: this.userPoolId, GroupName: group, Limit: limit, NextToken: token }), ADMIN_TRANSLATION)
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return { users: [] }
      throw error
    }
    return { users: output.Users ?? [], ...(output.NextToken === undefined ? {} : { next: output.NextToken }) }
  }

  /**
   * One user by Cognito username, email or sub; 404 NOT_FOUND when there is none. Its groups are read with its
   * canonical Username: cognito-local finds a user by email but lists its groups only under that Username.
   */
  async getUser (username: string): Promise<AdminUser> {
    const output = await this.gateway.adminGetUser(username, ADMIN_TRANSLATION)
    if (output === undefined) throw new AppError('NOT_FOUND', 'There is no such user.')
    return await this.withGroups({ ...output, Attributes: output.UserAttributes })
  }

  private async withGroups (user: CognitoUser): Promise<AdminUser> {
    const username = user.Username ?? ''
    const groups: string[] = []
    let token: string | undefined
    for (let page = 0; page < MAX_GROUP_PAGES; page++) {
      const output = await this.gateway.call<AdminListGroupsForUserCommandOutput>(
        new AdminListGroupsForUserCommand({ UserPoolId: this.userPoolId, Username: username, NextToken: token }), ADMIN_TRANSLATION)
      groups.push(...(output.Groups ?? []).map((g) => g.GroupName).filter((g): g is string => g !== undefined))
      token = output.NextToken
      if (token === undefined) break
    }
    return {
      ...toUser({ sub: attribute(user.Attributes, 'sub') ?? username, username, email: attribute(user.Attributes, 'email'), groups: groups.sort() }, this.roleGroups),
      enabled: user.Enabled !== false,
      status: user.UserStatus ?? 'UNKNOWN',
      createdAt: user.UserCreateDate?.toISOString() ?? null,
      updatedAt: user.UserLastModifiedDate?.toISOString() ?? null
    }
  }

  /**
   * Creates a user with a verified email and puts it in the groups of `roles`. Cognito makes the temporary password
   * and sends the invitation by email (through the Custom Email Sender trigger where the pool has one).
   * An existing email is 409 USERNAME_EXISTS.
   */
  async createUser (email: string, roles: Role[]): Promise<AdminUser> {
    const output = await this.gateway.call<AdminCreateUserCommandOutput>(new AdminCreateUserCommand({
      UserPoolId: this.userPoolId,
      Username: email,
      UserAttributes: [{ Name: 'email', Value: email }, { Name: 'email_verified', Value: 'true' }],
      DesiredDeliveryMediums: ['EMAIL']
    }), ADMIN_TRANSLATION)
    const username = output.User?.Username
    if (username === undefined) throw new AppError('INTERNAL')
    for (const group of groupsForRoles(roles, this.roleGroups)) await this.addToGroup(username, group)
    return await this.getUser(username)
  }

  /**
   * The group changes that make the user's roles exactly `roles`: add the first group of each missing role, remove every
   * group that grants a role not asked for; groups that grant no role are left alone. Undefined when none is needed.
   */
  roleChange (user: AdminUser, roles: Role[]): RoleChange | undefined {
    const unwanted = new Set(Object.entries(this.roleGroups).filter(([role]) => !roles.includes(role as Role)).flatMap(([, groups]) => groups))
    const remove = user.groups.filter((group) => unwanted.has(group))
    const kept = rolesFromGroups(user.groups.filter((group) => !unwanted.has(group)), this.roleGroups)
    const add = groupsForRoles(roles.filter((role) => !kept.includes(role)), this.roleGroups)
    return add.length + remove.length > 0 ? { add, remove } : undefined
  }

  /**
   * Makes a role change and returns the user as it is now. Removals first: mid-change the user never holds more than
   * either the old or the new roles. A failure part-way leaves the steps before it made.
   */
  async changeRoles (username: string, change: RoleChange): Promise<AdminUser> {
    for (const group of change.remove) {
      await this.gateway.call(new AdminRemoveUserFromGroupCommand({ UserPoolId: this.userPoolId, Username: username, GroupName: group }), ADMIN_TRANSLATION)
    }
    for (const group of change.add) await this.addToGroup(username, group)
    return await this.getUser(username)
  }

  /** Adds the user to a group; a group the pool lacks (ROLE_GROUPS names one that was never created) is 409 CONFLICT. */
  private async addToGroup (username: string, group: string): Promise<void> {
    await this.gateway.call(new AdminAddUserToGroupCommand({ UserPoolId: this.userPoolId, Username: username, GroupName: group }), {
      ...ADMIN_TRANSLATION,
      ResourceNotFoundException: () => new AppError('CONFLICT', `The user pool has no group "${group}", which ROLE_GROUPS maps a role to; create the group or correct the mapping.`)
    })
  }

  /** Enables or disables the account (a disabled user cannot sign in or refresh). */
  async setEnabled (username: string, enabled: boolean): Promise<void> {
    const command = enabled
      ? new AdminEnableUserCommand({ UserPoolId: this.userPoolId, Username: username })
      : new AdminDisableUserCommand({ UserPoolId: this.userPoolId, Username: username })
    await this.gateway.call(command, ADMIN_TRANSLATION)
  }

  /**
   * Cognito AdminUserGlobalSignOut: revokes every refresh token of the user, including those held outside this
   * adapter. Returns false where the emulator cannot (cognito-local answers "unsupported").
   */
  async globalSignOut (username: string): Promise<boolean> {
    try {
      await this.gateway.call(new AdminUserGlobalSignOutCommand({ UserPoolId: this.userPoolId, Username: username }), ADMIN_TRANSLATION)
      return true
    } catch (error) {
      if (error instanceof UnsupportedByEmulatorError) return false
      throw error
    }
  }
}
