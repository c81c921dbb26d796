// The account takeover notification's detail rows and links, built alike for every locale; a missing detail is left out.
import { ownEntry } from '../../src/own-entry.js'
import type { MessageContent, TakeoverDetails } from './types.js'
import { HIDDEN_OR_BREAK, readsAsLinkOrAddress } from './shown-text.js'

/** A value worth showing: a string with more than whitespace; otherwise undefined (Cognito sends some details as null). */
export function present (value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

/** The longest detail shown: a device such as "(Opera 74, Linux)", a city. */
const MAX_DETAIL = 80

/**
 * A detail Cognito derived from what the sign-in sent (the device from its User-Agent, the place from its address),
 * which whoever signed in may have shaped: shown as one short line, its spaces collapsed, and only when it holds no
 * hidden character or line break and reads as no link or address; otherwise left out like a missing one.
 */
function shownDetail (value: string | null | undefined): string | undefined {
  const text = present(value)?.trim()
  if (text === undefined || HIDDEN_OR_BREAK.test(text) || readsAsLinkOrAddress(text)) return undefined
  const line = text.replace(/\s+/gu, ' ')
  return Array.from(line).length > MAX_DETAIL ? undefined : line
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
 * takeover notification in one locale's words. Only the details present (and, for device and place, fit to show) are
 * shown: no row for a missing one, and the location is city and country, or the one of them Cognito knows.
 */
export function takeoverContent (t: TakeoverDetails, labels: TakeoverLabels): Required<Pick<MessageContent, 'fields' | 'actions'>> {
  const place = [shownDetail(t.city), shownDetail(t.country)].filter((x) => x !== undefined).join(', ')
  const action = present(t.action)
  const rows: Array<[string, string | undefined]> = [
    [labels.time, present(t.loginTime)],
    [labels.ipAddress, present(t.ipAddress)],
    [labels.location, present(place)],
    [labels.device, shownDetail(t.deviceName)],
    [labels.action, action === undefined ? undefined : ownEntry(labels.actions, action) ?? action]
  ]
  const links: Array<[string, string | undefined]> = [[labels.linkValid, present(t.linkValid)], [labels.linkInvalid, present(t.linkInvalid)]]
  return {
    fields: rows.filter((row): row is [string, string] => row[1] !== undefined),
    actions: links.filter((link): link is [string, string] => link[1] !== undefined).map(([label, href]) => ({ label, href }))
  }
}
