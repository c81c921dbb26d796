// Pre Token Generation: the ims:roles claim from mapped groups, in the V1 (and cognito-local "0") and V2 event shapes.
import t from 'tap'
import { loadPreTokenConfig } from '../../triggers/config.js'
import { jsonLogger } from '../../triggers/lib/log.js'
import { createPreTokenGenerationDeps, handle, ROLES_CLAIM, type PreTokenGenerationEvent } from '../../triggers/pre-token-generation.js'

const quiet = jsonLogger(() => {})

function event (version: string, groups: string[] | undefined): PreTokenGenerationEvent {
  const v2 = Number(version) >= 2
  return {
    version,
    triggerSource: 'TokenGeneration_Authentication',
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_ImsTest01',
    userName: 'minh',
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '1example23456789' },
    request: {
      userAttributes: { sub: 'b6c1d0e2-0000-4000-8000-000000000001', email: 'minh@example.com' },
      groupConfiguration: { groupsToOverride: groups, iamRolesToOverride: [], preferredRole: null },
      ...(v2 ? { scopes: ['openid', 'aws.cognito.signin.user.admin'] } : {})
    },
    response: v2 ? { claimsAndScopeOverrideDetails: null } : { claimsOverrideDetails: null }
  }
}

t.test('V1: the ID token gets a comma-separated string, highest role first', async (t) => {
  const deps = createPreTokenGenerationDeps(loadPreTokenConfig({}), quiet)
  const out = await handle(event('1', ['LINE_LEADER', 'ADMIN', 'unrelated']), deps)
  t.same(out.response, { claimsOverrideDetails: { claimsToAddOrOverride: { [ROLES_CLAIM]: 'ADMIN,LINE_LEADER' } } })
})

t.test('cognito-local (version "0") gets the V1 shape', async (t) => {
  const deps = createPreTokenGenerationDeps(loadPreTokenConfig({}), quiet)
  const out = await handle(event('0', ['MANAGER']), deps)
  t.same(out.response.claimsOverrideDetails?.claimsToAddOrOverride, { [ROLES_CLAIM]: 'MANAGER' })
  t.equal(out.response.claimsAndScopeOverrideDetails, undefined)
})

t.test('V2: ID and access tokens get a JSON array', async (t) => {
  const deps = createPreTokenGenerationDeps(loadPreTokenConfig({}), quiet)
  const out = await handle(event('2', ['MANAGER', 'LINE_LEADER']), deps)
  t.same(out.response, {
    claimsAndScopeOverrideDetails: {
      idTokenGeneration: { claimsToAddOrOverride: { [ROLES_CLAIM]: ['MANAGER', 'LINE_LEADER'] } },
      accessTokenGeneration: { claimsToAddOrOverride: { [ROLES_CLAIM]: ['MANAGER', 'LINE_LEADER'] } }
    }
  })
})

t.test('ROLE_GROUPS maps custom group names; matching is case-sensitive', async (t) => {
  const deps = createPreTokenGenerationDeps(loadPreTokenConfig({ ROLE_GROUPS: '{"ADMIN": ["ims-admins"], "LINE_LEADER": ["leaders"]}' }), quiet)
  const out = await handle(event('2', ['ims-admins', 'Leaders', 'admin']), deps)
  t.same(out.response.claimsAndScopeOverrideDetails?.accessTokenGeneration?.claimsToAddOrOverride, { [ROLES_CLAIM]: ['ADMIN'] })
})

t.test('no mapped group gives an empty claim, not a missing one', async (t) => {
  const deps = createPreTokenGenerationDeps(loadPreTokenConfig({}), quiet)
  t.same((await handle(event('1', undefined), deps)).response.claimsOverrideDetails?.claimsToAddOrOverride, { [ROLES_CLAIM]: '' })
  t.same((await handle(event('2', ['admin']), deps)).response.claimsAndScopeOverrideDetails?.idTokenGeneration?.claimsToAddOrOverride, { [ROLES_CLAIM]: [] })
})

t.test('overrides already in the response are kept', async (t) => {
  const deps = createPreTokenGenerationDeps(loadPreTokenConfig({}), quiet)
  const ev = event('2', ['ADMIN'])
  ev.response.claimsAndScopeOverrideDetails = {
    idTokenGeneration: { claimsToSuppress: ['email'] },
    accessTokenGeneration: { claimsToAddOrOverride: { tenant: 'plant-1' }, scopesToAdd: ['ims/read'] }
  }
  const out = await handle(ev, deps)
  t.same(out.response.claimsAndScopeOverrideDetails, {
    idTokenGeneration: { claimsToSuppress: ['email'], claimsToAddOrOverride: { [ROLES_CLAIM]: ['ADMIN'] } },
    accessTokenGeneration: { claimsToAddOrOverride: { tenant: 'plant-1', [ROLES_CLAIM]: ['ADMIN'] }, scopesToAdd: ['ims/read'] }
  })
})

t.test('an invalid ROLE_GROUPS stops the cold start with a sentence naming it', async (t) => {
  t.throws(() => loadPreTokenConfig({ ROLE_GROUPS: '{"admin": ["x"]}' }), /ROLE_GROUPS names an unknown role "admin"/)
  t.throws(() => loadPreTokenConfig({ ROLE_GROUPS: 'nope' }), /ROLE_GROUPS must be JSON/)
})
