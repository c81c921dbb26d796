// Schemas shared by several route folders: the user object, the error body, tokens.
import { Type, type TLiteral } from '@sinclair/typebox'
import { ROLES, type Role } from '../role-mapping.js'

/** One of the IMS roles. */
export const RoleSchema = Type.Union(ROLES.map((role) => Type.Literal(role)) as [TLiteral<Role>])

/** The contract's user object. */
export const UserSchema = Type.Object({
  sub: Type.String(),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(RoleSchema),
  primaryRole: Type.Union([RoleSchema, Type.Null()]),
  groups: Type.Array(Type.String())
}, { $id: 'User' })

/** The contract's error body. */
export const ErrorSchema = Type.Object({
  error: Type.String(),
  message: Type.String(),
  requestId: Type.String(),
  rules: Type.Optional(Type.Array(Type.String()))
}, { $id: 'Error' })

/** Token mode: the tokens in a sign-in, challenge or refresh answer. */
export const TokensSchema = Type.Object({
  accessToken: Type.String(),
  idToken: Type.String(),
  refreshToken: Type.Optional(Type.String()),
  expiresIn: Type.Integer()
})

/**
 * The longest username Cognito takes (its `Username` limit, which covers an email given as the username): every
 * username, email or sub a route accepts fits in it, and so does every path parameter the router passes on.
 */
export const MAX_USERNAME_LENGTH = 128

/** A username as typed: trimmed by the handlers, bounded here. */
export const UsernameSchema = Type.String({ minLength: 1, maxLength: MAX_USERNAME_LENGTH })
/** Passwords travel unchanged (Unicode and surrounding spaces included). */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: 256 })

/** The error responses every route may give, for the OpenAPI document. */
export const errorResponses = {
  '4xx': Type.Ref(ErrorSchema),
  '5xx': Type.Ref(ErrorSchema)
}
