// English copy of the IMS emails.
import type { EmailParams, LocaleCopy, MessageContent } from './types.js'
import { takeoverContent } from './takeover.js'

const greeting = (p: EmailParams): string => (p.givenName !== undefined ? `Hello ${p.givenName},` : 'Hello,')

const ACTIONS: Record<string, string> = {
  BLOCK: 'Sign-in blocked',
  NO_ACTION: 'Sign-in allowed',
  MFA: 'Extra verification requested',
  MFA_IF_CONFIGURED: 'Extra verification requested',
  MFA_REQUIRED: 'Extra verification requested'
}

function codeMail (p: EmailParams, subject: string, heading: string, paragraph: string, label: string, note: string): MessageContent {
  return { subject, preheader: subject, heading, greeting: greeting(p), paragraphs: [paragraph], code: { label, value: p.code ?? '' }, note }
}

/** English copy. */
export const en: LocaleCopy = {
  locale: 'en',
  footer: ['IMS · Manufacturing operations', 'This is an automated message; please do not reply.'],
  messages: {
    SignUp: (p) => codeMail(p, 'Confirm your IMS account', 'Welcome to IMS',
      'Use this code to confirm your account.', 'Confirmation code',
      'The code expires in 24 hours. If you did not sign up for IMS, ignore this email.'),
    ResendCode: (p) => codeMail(p, 'Your IMS confirmation code', 'Your confirmation code',
      'Here is the new code you asked for.', 'Confirmation code',
      'The code expires in 24 hours. If you did not ask for it, ignore this email.'),
    ForgotPassword: (p) => codeMail(p, 'Reset your IMS password', 'Reset your password',
      'We received a request to reset the password of your IMS account. Enter this code to choose a new password.',
      'Reset code',
      'The code expires in 1 hour. If you did not ask for a reset, ignore this email; your password stays unchanged.'),
    UpdateUserAttribute: (p) => codeMail(p, 'Confirm your new IMS email address', 'Confirm your new email address',
      'Enter this code in IMS to confirm the new address of your account.', 'Verification code',
      'If you did not change your email address, contact your IMS administrator.'),
    VerifyUserAttribute: (p) => codeMail(p, 'Verify your IMS email address', 'Verify your email address',
      'Enter this code in IMS to verify your email address.', 'Verification code',
      'If you did not ask for this, ignore this email.'),
    AdminCreateUser: (p) => ({
      subject: 'Your IMS account is ready',
      preheader: 'An administrator created an IMS account for you.',
      heading: 'Your IMS account is ready',
      greeting: greeting(p),
      paragraphs: ['An administrator created an IMS account for you. Sign in with the username and temporary password below; you will then choose a new password.'],
      fields: [['Username', p.username ?? '']],
      code: { label: 'Temporary password', value: p.code ?? '' },
      note: 'The temporary password expires in 7 days. Never share it with anyone.'
    }),
    Authentication: (p) => codeMail(p, 'Your IMS sign-in code', 'Your sign-in code',
      'Enter this code to finish signing in to IMS.', 'Sign-in code',
      'If you are not signing in, change your password now: someone may know it.'),
    AccountTakeOverNotification: (p) => {
      const { fields, actions } = takeoverContent(p.takeover ?? {}, {
        time: 'Time',
        ipAddress: 'IP address',
        location: 'Location',
        device: 'Device',
        action: 'Action taken',
        actions: ACTIONS,
        linkValid: 'This was me',
        linkInvalid: 'This wasn\'t me'
      })
      return {
        subject: 'Unusual sign-in to your IMS account',
        preheader: 'We noticed an unusual sign-in to your IMS account.',
        heading: 'We noticed an unusual sign-in',
        greeting: greeting(p),
        paragraphs: ['Someone signed in, or tried to sign in, to your IMS account in a way that looked unusual.'],
        fields,
        actions,
        note: 'If it wasn\'t you, change your password now and tell your IMS administrator.'
      }
    }
  }
}
