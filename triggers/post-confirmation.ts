// Cognito Post Confirmation trigger: optionally puts a newly confirmed self-signed-up user into DEFAULT_GROUP.
import { AdminAddUserToGroupCommand } from '@aws-sdk/client-cognito-identity-provider'
import { loadPostConfirmationConfig, processEnv, type PostConfirmationConfig } from './config.js'
import { AwsCallError } from './lib/aws.js'
import { cognitoClients } from './lib/cognito.js'
import { failureFields, jsonLogger, type TriggerLogger } from './lib/log.js'
import { defineHandler } from './lib/runtime.js'
import type { CognitoTriggerEvent } from './lib/event.js'

/** The Post Confirmation event, as Cognito sends it. */
export interface PostConfirmationEvent extends CognitoTriggerEvent {
  request: { userAttributes: Record<string, string>, clientMetadata?: Record<string, string> }
  response: Record<string, unknown>
}

/** Adds a user to a group of a pool. */
export type AddUserToGroup = (userPoolId: string, username: string, groupName: string) => Promise<void>

/** What the trigger needs. */
export interface PostConfirmationDeps {
  /** The group to join; undefined turns the trigger into a no-op (the default). */
  defaultGroup?: string
  addUserToGroup: AddUserToGroup
  log: TriggerLogger
}

/** True when this event should put the user into the default group: self sign-up confirmations only. */
export function shouldAddToDefaultGroup (event: PostConfirmationEvent, defaultGroup: string | undefined): defaultGroup is string {
  return defaultGroup !== undefined && event.triggerSource === 'PostConfirmation_ConfirmSignUp'
}

/** Thrown when Cognito refuses AdminAddUserToGroup or cannot be reached (reason `COGNITO_REFUSED` or `COGNITO_UNREACHABLE`). */
export class DefaultGroupError extends AwsCallError {
  override name = 'DefaultGroupError'
}

/** Adds the confirmed user to the default group when configured; otherwise returns the event untouched. */
export async function handle (event: PostConfirmationEvent, deps: PostConfirmationDeps): Promise<PostConfirmationEvent> {
  if (!shouldAddToDefaultGroup(event, deps.defaultGroup)) return event
  const logged = { triggerSource: event.triggerSource, userPoolId: event.userPoolId, sub: event.request.userAttributes?.sub, group: deps.defaultGroup }
  try {
    await deps.addUserToGroup(event.userPoolId, event.userName, deps.defaultGroup)
  } catch (err) {
    deps.log.error('user not added to the default group', { ...logged, ...failureFields(err) })
    throw err
  }
  deps.log.info('user added to the default group', logged)
  return event
}

/**
 * An {@link AddUserToGroup} over AdminAddUserToGroup (clients from {@link cognitoClients}); a failure is a
 * {@link DefaultGroupError}, without the SDK's exception name or message.
 */
export function cognitoAddUserToGroup (endpoint?: string): AddUserToGroup {
  const clientFor = cognitoClients(endpoint)
  return async (userPoolId, username, groupName) => {
    const client = clientFor(userPoolId)
    try {
      await client.send(new AdminAddUserToGroupCommand({ UserPoolId: userPoolId, Username: username, GroupName: groupName }))
    } catch (err) {
      throw new DefaultGroupError('Cognito did not add the user to the default group', 'COGNITO', err)
    }
  }
}

/** Builds the deps from configuration. */
export function createPostConfirmationDeps (config: PostConfirmationConfig, log: TriggerLogger = jsonLogger()): PostConfirmationDeps {
  return { defaultGroup: config.defaultGroup, addUserToGroup: cognitoAddUserToGroup(config.cognitoEndpoint), log }
}

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = defineHandler(handle, () => createPostConfirmationDeps(loadPostConfirmationConfig(processEnv())))
