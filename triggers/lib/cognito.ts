// The triggers' Cognito clients: one per region of the pools the events name, created on first use and kept.
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider'
import { LOCAL_CREDENTIALS } from './aws.js'

/** The region of a user pool id (`eu-west-1_AbC` → `eu-west-1`; cognito-local's `local_x` → `local`). */
export function regionOfPool (userPoolId: string): string {
  const region = userPoolId.split('_')[0]
  if (region === undefined || region === '' || region === userPoolId) throw new Error('The event names no valid userPoolId.')
  return region
}

/** Gives the Cognito client for a user pool's region. */
export type CognitoClients = (userPoolId: string) => CognitoIdentityProviderClient

/**
 * Returns the clients of one trigger's deps: each region's client is created on its first use and kept for the
 * container's life. `endpoint` (`COGNITO_ENDPOINT`, local mode and tests only) points them at cognito-local.
 */
export function cognitoClients (endpoint?: string): CognitoClients {
  const clients = new Map<string, CognitoIdentityProviderClient>()
  return (userPoolId) => {
    const region = regionOfPool(userPoolId)
    let client = clients.get(region)
    if (client === undefined) {
      client = new CognitoIdentityProviderClient(endpoint === undefined
        ? { region }
        : { region, endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 })
      clients.set(region, client)
    }
    return client
  }
}
