// The account takeover notification's detail rows and links, built alike for every locale; a missing detail is left out.
import { ownEntry } from '../../src/own-entry.js'
import type { MessageContent, TakeoverDetails } from './types.js'

/** A value worth showing: a string with more than whitespace; otherwise undefined (Cognito sends some details as null). */
export function present (value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

/** What one locale calls each detail and link, and how it words each action Cognito took. */
export interface TakeoverLabels {
  time: string
  ipAddress: string
  location: string
  device: string
  action: string
  /** By `ACCOUNT_TAKE_OVER_ACTION` (BLOCK, NO_ACTION, MFA...); an action not listed is shown as sent. */
  actions: Record<string, string>
  linkValid: string
  linkInvalid: string
}

/**
 * The rows (time, IP address, location, device, action) and links ("this was me" / "this wasn't me") of an account
 * takeover notification in one locale's words. Only the details present are shown: no row for a missing one, and
 * the location is city and country, or the one of them Cognito knows.
 */
export function takeoverContent (t: TakeoverDetails, labels: TakeoverLabels): Required<Pick<MessageContent, 'fields' | 'actions'>> {
  const place = [present(t.city), present(t.country)].filter((x) => x !== undefined).join(', ')
  const action = present(t.action)
  const rows: Array<[string, string | undefined]> = [
    [labels.time, present(t.loginTime)],
    [labels.ipAddress, present(t.ipAddress)],
    [labels.location, present(place)],
    [labels.device, present(t.deviceName)],
    [labels.action, action === undefined ? undefined : ownEntry(labels.actions, action) ?? action]
  ]
  const links: Array<[string, string | undefined]> = [[labels.linkValid, present(t.linkValid)], [labels.linkInvalid, present(t.linkInvalid)]]
  return {
    fields: rows.filter((row): row is [string, string] => row[1] !== undefined),
    actions: links.filter((link): link is [string, string] => link[1] !== undefined).map(([label, href]) => ({ label, href }))
  }
}
