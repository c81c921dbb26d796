// /admin/users (ADMIN only): list, invite, set roles, disable, enable, sign out; every action audited, access changes apply at once.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { AppError } from '../../errors.js'
import type { CognitoBudget } from '../../cognito/budget.js'
import { requireRole } from '../../plugins/roles.js'
import { ROLES, type Role } from '../../role-mapping.js'
import type { AdminUser } from '../../cognito/admin.js'
import { MAX_USERNAME_LENGTH, RoleSchema, errorResponses } from '../schemas.js'

const RolesSchema = Type.Array(RoleSchema, { uniqueItems: true, maxItems: ROLES.length })

/** A user as the administration pages show it. */
export const AdminUserSchema = Type.Object({
  sub: Type.String(),
  username: Type.String({ description: 'Cognito username (a UUID in email pools): the :username of the routes below.' }),
  email: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(RoleSchema),
  primaryRole: Type.Union([RoleSchema, Type.Null()]),
  groups: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  status: Type.String({ description: 'Cognito UserStatus: CONFIRMED, FORCE_CHANGE_PASSWORD, RESET_REQUIRED, ...' }),
  createdAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})

const ListQuery = Type.Object({
  role: Type.Optional(RoleSchema),
  /** 1 to 60 (Cognito's page size limit); 20 when absent. */
  limit: Type.Optional(Type.String({ pattern: '^([1-9]|[1-5][0-9]|60)$' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[A-Za-z0-9_-]+$' }))
}, { additionalProperties: false })

const UserPageSchema = Type.Object({
  users: Type.Array(AdminUserSchema),
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: Type.Union([Type.String(), Type.Null()])
})

const CreateBody = Type.Object({
  email: Type.String({ format: 'email', minLength: 3, maxLength: MAX_USERNAME_LENGTH }),
  roles: RolesSchema
}, { additionalProperties: false })

const RolesBody = Type.Object({ roles: RolesSchema }, { additionalProperties: false })
/** Action routes take no body; an empty JSON object is accepted too. */
const EmptyBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()])
const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: MAX_USERNAME_LENGTH }) })

const SignOutResponse = Type.Object({
  status: Type.Literal('SIGNED_OUT'),
  /** False where Cognito could not revoke refresh tokens held outside this adapter (the local emulator). */
  cognitoGlobalSignOut: Type.Boolean()
})

const DEFAULT_LIMIT = 20

const common: { tags: string[], security: Array<Record<string, string[]>> } = { tags: ['admin'], security: [{ session: [] }, { bearer: [] }] }

/** The shared-store lock under which changes that take administrator powers away run, and how long it can be held. */
const ADMIN_GUARD_KEY = 'admin-guard'
const ADMIN_GUARD_SECONDS = 60
/** How long a change waits for another to finish before answering 409, and how often it looks. */
const ADMIN_GUARD_WAIT_MS = 5000
const ADMIN_GUARD_POLL_MS = 50

/** The /admin/users routes, ADMIN only, each audited. */
const adminUsers: FastifyPluginAsyncTypebox = async (app) => {
  const admin = app.cognito.admin

  /** Runs one admin action and writes its audit line: who (sub), what (event), whom (target sub), outcome, details. */
  async function audited<T> (request: FastifyRequest, action: string, run: (note: Record<string, unknown>) => Promise<T>): Promise<T> {
    const note: Record<string, unknown> = {}
    const who = request.identity!.user.sub
    try {
      const result = await run(note)
      request.audit({ event: `admin.${action}`, outcome: 'success', sub: who, ...note })
      return result
    } catch (error) {
      request.audit({ event: `admin.${action}`, outcome: error instanceof AppError ? error.code : 'INTERNAL', sub: who, ...note })
      throw error
    }
  }

  /**
   * Ends every session and token of `user` here and asks Cognito to revoke the rest, at once (Cognito's
   * AdminUserGlobalSignOut needs no token of the user, so nothing here must come first); says whether Cognito did, and
   * notes both steps for the audit line. A failure of Cognito (throttling, an outage) reaches the caller, but only once
   * the sessions here have ended. Cognito is waited for within the request's `budget`: one still unanswered then counts
   * as not done (false), and goes on in the background.
   */
  async function endAccess (user: AdminUser, note: Record<string, unknown>, budget: CognitoBudget): Promise<boolean> {
    const [ended, cognito] = await Promise.allSettled([
      app.endUserSessions(user.sub, budget),
      budget.within(admin.globalSignOut(user.username), () => false)
    ])
    if (ended.status === 'rejected') throw ended.reason
    note.sessionsEnded = true
    if (cognito.status === 'rejected') throw cognito.reason
    note.cognitoGlobalSignOut = cognito.value
    return cognito.value
  }

  /** Refuses, with `message`, an action that would lock the calling administrator out. */
  function refuseSelfLockout (request: FastifyRequest, target: AdminUser, message: string): void {
    if (target.sub === request.identity!.user.sub) throw new AppError('CONFLICT', message)
  }

  /**
   * Runs `work` one at a time across every instance (a lock in the shared store that only its holder releases). The
   * changes that give or take administrator powers (a promotion, an ADMIN invitation, enabling, a demotion, a disable)
   * read their target and act under it, and only while the caller is still an ADMIN ({@link callerStillAdmin}): an
   * administrator demoted while a request of theirs was under way makes no other one. Nobody can demote or disable
   * themselves, so an administrator always remains, and two administrators acting on each other cannot both win.
   */
  async function oneAtATime<T> (work: () => Promise<T>): Promise<T> {
    const holder = randomUUID()
    // Another admin's change usually takes a moment: wait for it a little, then say so.
    const giveUpAt = Date.now() + ADMIN_GUARD_WAIT_MS
    while (!await app.store.setIfAbsent(ADMIN_GUARD_KEY, holder, ADMIN_GUARD_SECONDS)) {
      if (Date.now() >= giveUpAt) throw new AppError('CONFLICT', 'Another change to the administrators is under way; try again in a moment.').retryAfter(1)
      await sleep(ADMIN_GUARD_POLL_MS)
    }
    try {
      return await work()
    } finally {
      await app.store.deleteIfHolds(ADMIN_GUARD_KEY, holder)
    }
  }

  /** 403 unless the caller is, by Cognito's word now (not their session's), still an enabled ADMIN. */
  async function callerStillAdmin (request: FastifyRequest): Promise<void> {
    const caller = await admin.getUser(request.identity!.user.username)
    if (!caller.enabled || !caller.roles.includes('ADMIN')) throw new AppError('FORBIDDEN', 'You are no longer an administrator.')
  }

  app.get('/users', {
    preValidation: requireRole('ADMIN'),
    schema: { ...common, querystring: ListQuery, response: { 200: UserPageSchema, ...errorResponses } }
  }, async (request) => {
    const { role, limit, cursor } = request.query
    return await audited(request, 'list-users', async (note) => {
      note.role = role ?? null
      return await admin.listUsers({ ...(role === undefined ? {} : { role }), limit: limit === undefined ? DEFAULT_LIMIT : Number(limit), ...(cursor === undefined ? {} : { cursor }) })
    })
  })

  app.post('/users', {
    preValidation: requireRole('ADMIN'),
    schema: { ...common, body: CreateBody, response: { 201: AdminUserSchema, ...errorResponses } }
  }, async (request, reply) => {
    const email = request.body.email.toLowerCase()
    const roles = request.body.roles
    const user = await audited(request, 'create-user', async (note) => {
      note.username = email
      note.roles = roles
      const create = async (): Promise<AdminUser> => {
        if (roles.includes('ADMIN')) await callerStillAdmin(request)
        return await admin.createUser(email, roles)
      }
      const created = roles.includes('ADMIN') ? await oneAtATime(create) : await create()
      note.target = created.sub
      return created
    })
    return await reply.code(201).send(user)
  })

  app.put('/users/:username/roles', {
    preValidation: requireRole('ADMIN'),
    schema: { ...common, params: UsernameParams, body: RolesBody, response: { 200: AdminUserSchema, ...errorResponses } }
  }, async (request) => {
    const roles: Role[] = request.body.roles
    const budget = app.cognito.gateway.budget()
    return await audited(request, 'set-roles', async (note) => {
      note.roles = roles
      const acted: { target?: AdminUser, endsAccess?: boolean } = {}
      const apply = async (): Promise<AdminUser> => {
        const target = await admin.getUser(request.params.username)
        acted.target = target
        note.target = target.sub
        note.previousRoles = target.roles
        if (roles.includes('ADMIN') !== target.roles.includes('ADMIN')) {
          if (!roles.includes('ADMIN')) refuseSelfLockout(request, target, 'You cannot remove your own ADMIN role; ask another administrator.')
          await callerStillAdmin(request)
        }
        const change = admin.roleChange(target, roles)
        note.changed = change !== undefined
        // Once any membership may have changed, even by a change that failed part-way, no session keeps the old roles.
        // Also when Cognito already matches: an earlier attempt may have changed it and then failed to end the sessions
        // (not for the caller's own unchanged roles: that would only sign them out).
        acted.endsAccess = change !== undefined || target.sub !== request.identity!.user.sub
        return change === undefined ? target : await admin.changeRoles(target.username, change)
      }
      try {
        // Every role change reads its target under the lock: whether it gives or takes ADMIN shows only then.
        return await oneAtATime(apply)
      } finally {
        if (acted.endsAccess === true && acted.target !== undefined) await endAccess(acted.target, note, budget)
      }
    })
  })

  app.post('/users/:username/disable', {
    preValidation: requireRole('ADMIN'),
    schema: { ...common, params: UsernameParams, body: EmptyBody, response: { 200: AdminUserSchema, ...errorResponses } }
  }, async (request) => {
    const budget = app.cognito.gateway.budget()
    return await audited(request, 'disable-user', async (note) => {
      const acted: { target?: AdminUser } = {}
      try {
        // Read under the lock: a user promoted meanwhile is judged as the ADMIN they now are.
        await oneAtATime(async () => {
          const user = await admin.getUser(request.params.username)
          note.target = user.sub
          refuseSelfLockout(request, user, 'You cannot disable yourself; ask another administrator.')
          if (user.roles.includes('ADMIN')) await callerStillAdmin(request)
          // Once Cognito is asked, the user may be disabled whatever it answers (an answer too late is a 503): from
          // here on, the user's sessions end either way.
          acted.target = user
          await admin.setEnabled(user.username, false)
        })
      } finally {
        if (acted.target !== undefined) await endAccess(acted.target, note, budget)
      }
      return { ...acted.target!, enabled: false }
    })
  })

  app.post('/users/:username/enable', {
    preValidation: requireRole('ADMIN'),
    schema: { ...common, params: UsernameParams, body: EmptyBody, response: { 200: AdminUserSchema, ...errorResponses } }
  }, async (request) => {
    return await audited(request, 'enable-user', async (note) => {
      // Read under the lock: enabling a disabled ADMIN gives administrator powers back, as a promotion does.
      const target = await oneAtATime(async () => {
        const user = await admin.getUser(request.params.username)
        note.target = user.sub
        if (user.roles.includes('ADMIN')) await callerStillAdmin(request)
        await admin.setEnabled(user.username, true)
        return user
      })
      return { ...target, enabled: true }
    })
  })

  app.post('/users/:username/sign-out', {
    preValidation: requireRole('ADMIN'),
    schema: { ...common, params: UsernameParams, body: EmptyBody, response: { 200: SignOutResponse, ...errorResponses } }
  }, async (request) => {
    const budget = app.cognito.gateway.budget()
    return await audited(request, 'sign-out-user', async (note) => {
      const target = await admin.getUser(request.params.username)
      note.target = target.sub
      const cognitoGlobalSignOut = await endAccess(target, note, budget)
      return { status: 'SIGNED_OUT' as const, cognitoGlobalSignOut }
    })
  })
}

export default adminUsers
