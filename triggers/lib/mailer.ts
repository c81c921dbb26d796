// Sends one rendered email through SES v2; a failure is re-thrown without SES's words, which can quote addresses.
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

/** Builds an SES v2 mailer; the client is created once. */
export function createSesMailer (options: MailerOptions): Mailer {
  const client = new SESv2Client(options.endpoint === undefined
    ? { region: options.region }
    : { region: options.region, endpoint: options.endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 })
  return async (email) => {
    try {
      const out = await client.send(new SendEmailCommand({
        FromEmailAddress: options.from,
        Destination: { ToAddresses: [email.to] },
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
