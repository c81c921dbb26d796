// Sends one rendered email through SES v2; a failure is re-thrown without SES's words, which can quote addresses.
import { domainToASCII } from 'node:url'
import addressparser from 'nodemailer/lib/addressparser'
import { encodeWord, quoteString } from 'nodemailer/lib/mime-funcs'
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

/**
 * A display name as an address header carries it: bare, quoted, or when not ASCII wholly as RFC 2047 encoded-words
 * (as nodemailer writes its own addresses), so none of its commas or parentheses is left bare as address syntax.
 */
function displayName (name: string): string {
  if (/^[\w ]*$/.test(name)) return name
  return ASCII.test(name) ? quoteString(name) : encodeWord(name, 'B', 52)
}

/**
 * An address (`name@domain` or `Name <name@domain>`, read with nodemailer's parser) in the 7-bit ASCII SES requires
 * (it has no SMTPUTF8): a Unicode domain in Punycode, a Unicode display name as encoded-words (nodemailer's, UTF-8 and
 * base64, each within 75 characters). A Unicode local part is left as is (SES refuses it); a value that is not one
 * address is passed on for SES to refuse.
 */
export function sesAddress (value: string): string {
  const parsed = addressparser(value, { flatten: true })
  if (parsed.length !== 1) return value
  const { name, address } = parsed[0] as { name: string, address: string }
  const at = address.lastIndexOf('@')
  const domain = address.slice(at + 1)
  const ascii = at < 0 || ASCII.test(domain) ? address : `${address.slice(0, at)}@${domainToASCII(domain)}`
  return name === '' ? ascii : `${displayName(name)} <${ascii}>`
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
