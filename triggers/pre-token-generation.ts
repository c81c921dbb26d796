// Cognito Pre Token Generation trigger: adds the user's IMS roles (mapped from groups) as the `ims:roles` claim.
import { rolesFromGroups, type Role, type RoleGroups } from '../src/role-mapping.js'
import { loadPreTokenConfig, processEnv, type PreTokenConfig } from './config.js'
import { jsonLogger, type TriggerLogger } from './lib/log.js'
import { defineHandler } from './lib/runtime.js'
import type { CognitoTriggerEvent } from './lib/event.js'

/**
 * The claim this trigger adds. V1 events (ID token only) carry it as a comma-separated string, because V1 claim
 * values are strings: `"ADMIN,MANAGER"`. V2/V3 events carry it as a JSON array in both the ID and the access token:
 * `["ADMIN", "MANAGER"]`. No role gives `""` (V1) or `[]` (V2).
 */
export const ROLES_CLAIM = 'ims:roles'

interface ClaimsOverride {
  claimsToAddOrOverride?: Record<string, unknown>
  claimsToSuppress?: string[]
}

/** The Pre Token Generation event, V1 (`version` "1", cognito-local sends "0") or V2/V3 (`version` "2"/"3"). */
export interface PreTokenGenerationEvent extends CognitoTriggerEvent {
  request: {
    userAttributes: Record<string, string>
    groupConfiguration?: { groupsToOverride?: string[], iamRolesToOverride?: string[], preferredRole?: string | null }
    scopes?: string[]
    clientMetadata?: Record<string, string>
  }
  response: {
    claimsOverrideDetails?: (ClaimsOverride & { groupOverrideDetails?: unknown }) | null
    claimsAndScopeOverrideDetails?: {
      idTokenGeneration?: ClaimsOverride
      accessTokenGeneration?: ClaimsOverride & { scopesToAdd?: string[], scopesToSuppress?: string[] }
      groupOverrideDetails?: unknown
    } | null
  }
}

/** What the trigger needs. */
export interface PreTokenGenerationDeps {
  roleGroups: RoleGroups
  log: TriggerLogger
}

/** True when the event uses the V2/V3 response shape (claimsAndScopeOverrideDetails). */
export function isV2Event (event: Pick<PreTokenGenerationEvent, 'version'>): boolean {
  return Number.parseInt(event.version, 10) >= 2
}

/** The IMS roles granted by the groups in the event. */
export function rolesOfEvent (event: PreTokenGenerationEvent, roleGroups: RoleGroups): Role[] {
  const groups = event.request.groupConfiguration?.groupsToOverride ?? []
  return rolesFromGroups(groups, roleGroups)
}

/** Adds {@link ROLES_CLAIM} in the shape the event's version expects, keeping any overrides already present. */
export async function handle (event: PreTokenGenerationEvent, deps: PreTokenGenerationDeps): Promise<PreTokenGenerationEvent> {
  const roles = rolesOfEvent(event, deps.roleGroups)
  if (isV2Event(event)) {
    const details = event.response.claimsAndScopeOverrideDetails ?? {}
    event.response.claimsAndScopeOverrideDetails = {
      ...details,
      idTokenGeneration: {
        ...details.idTokenGeneration,
        claimsToAddOrOverride: { ...details.idTokenGeneration?.claimsToAddOrOverride, [ROLES_CLAIM]: roles }
      },
      accessTokenGeneration: {
        ...details.accessTokenGeneration,
        claimsToAddOrOverride: { ...details.accessTokenGeneration?.claimsToAddOrOverride, [ROLES_CLAIM]: roles }
      }
    }
  } else {
    const details = event.response.claimsOverrideDetails ?? {}
    event.response.claimsOverrideDetails = {
      ...details,
      claimsToAddOrOverride: { ...details.claimsToAddOrOverride, [ROLES_CLAIM]: roles.join(',') }
    }
  }
  deps.log.info('roles claim added', { triggerSource: event.triggerSource, userPoolId: event.userPoolId, sub: event.request.userAttributes?.sub, roles: roles.join(',') })
  return event
}

/** Builds the deps from configuration. */
export function createPreTokenGenerationDeps (config: PreTokenConfig, log: TriggerLogger = jsonLogger()): PreTokenGenerationDeps {
  return { roleGroups: config.roleGroups, log }
}

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = defineHandler(handle, () => createPreTokenGenerationDeps(loadPreTokenConfig(processEnv())))
