// Sends one rendered email through SES v2; a failure is re-thrown without SES's words, which can quote addresses.
import { domainToASCII } from 'node:url'
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2'
import { AwsCallError, LOCAL_CREDENTIALS } from './aws.js'

/** One email ready to send. */
export interface OutgoingEmail {
  to: string
  subject: string
  html: string
  text: string
}

/** Sends an email and resolves with the SES message id. */
export type Mailer = (email: OutgoingEmail) => Promise<string | undefined>

/** Where and how the mailer sends. */
export interface MailerOptions {
  from: string
  region: string
  /** A local SES (aws-ses-v2-local) endpoint; local credentials are used with it. */
  endpoint?: string
  configurationSet?: string
}

/** Thrown when SES refuses or cannot be reached: reason `SES_REFUSED` (with the HTTP status) or `SES_UNREACHABLE`. */
export class EmailSendError extends AwsCallError {
  override name = 'EmailSendError'
}

const ASCII = /^[\x00-\x7f]*$/

/** A display name as RFC 2047 encoded-words (UTF-8, base64), each at most 75 characters long. */
function encodedWords (name: string): string {
  const words: string[] = []
  let chunk = ''
  for (const c of name) {
    if (Buffer.byteLength(chunk + c) > 45) { words.push(chunk); chunk = '' }
    chunk += c
  }
  words.push(chunk)
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ')
}

/**
 * An address (`name@domain` or `Name <name@domain>`) in the 7-bit ASCII SES requires (it has no SMTPUTF8): a Unicode
 * domain in Punycode, a Unicode display name as encoded-words. A Unicode local part is left as is (SES refuses it).
 */
export function sesAddress (value: string): string {
  const named = /^(.*?)\s*<([^<>]*)>$/.exec(value.trim())
  const address = named === null ? value.trim() : named[2] as string
  const at = address.lastIndexOf('@')
  const domain = address.slice(at + 1)
  const punycode = at < 0 || ASCII.test(domain) ? '' : domainToASCII(domain)
  const ascii = punycode === '' ? address : `${address.slice(0, at)}@${punycode}`
  if (named === null) return ascii
  const name = named[1] as string
  if (name === '' || ASCII.test(name)) return `${name === '' ? '' : `${name} `}<${ascii}>`
  const unquoted = /^"(.*)"$/.exec(name)?.[1]?.replace(/\\(.)/g, '$1') ?? name
  return `${encodedWords(unquoted)} <${ascii}>`
}

/** Builds an SES v2 mailer; the client is created once. */
export function createSesMailer (options: MailerOptions): Mailer {
  const client = new SESv2Client(options.endpoint === undefined
    ? { region: options.region }
    : { region: options.region, endpoint: options.endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 })
  const from = sesAddress(options.from)
  return async (email) => {
    try {
      const out = await client.send(new SendEmailCommand({
        FromEmailAddress: from,
        Destination: { ToAddresses: [sesAddress(email.to)] },
        ConfigurationSetName: options.configurationSet,
        Content: {
          Simple: {
            Subject: { Data: email.subject, Charset: 'UTF-8' },
            Body: { Html: { Data: email.html, Charset: 'UTF-8' }, Text: { Data: email.text, Charset: 'UTF-8' } }
          }
        }
      }))
      return out.MessageId
    } catch (err) {
      throw new EmailSendError('SES did not send the email', 'SES', err)
    }
  }
}
