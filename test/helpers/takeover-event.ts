// The account takeover notification event as real Cognito sends it, for the Custom Email Sender's tests.
import type { CustomEmailSenderEvent } from '../../triggers/custom-email-sender.js'
import type { LocalPool } from '../../src/local/bootstrap.js'

/**
 * A CustomEmailSender_AccountTakeOverNotification exactly as real Cognito sends it (captured events published in
 * DefinitelyTyped PR #52111): the attributes hold only the risk details, no email, locale nor given_name; CITY,
 * COUNTRY and DEVICE_NAME may be null; code and clientMetadata are null. `details` replaces some of them.
 */
export function takeoverEvent ({ userPoolId, clientId }: LocalPool, userName: string, details: Record<string, string | null> = {}): CustomEmailSenderEvent {
  return {
    version: '1',
    triggerSource: 'CustomEmailSender_AccountTakeOverNotification',
    region: 'eu-west-1',
    userPoolId,
    userName,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId },
    request: {
      type: 'customEmailSenderRequestV1',
      code: null,
      clientMetadata: null,
      userAttributes: {
        LOGIN_TIME: 'Friday, March 19, 2021 02:25 PM UTC',
        CITY: null,
        COUNTRY: null,
        ACCOUNT_TAKE_OVER_ACTION: 'BLOCK',
        FEEDBACK_TOKEN: 'fb-token',
        ONE_CLICK_LINK_VALID: 'https://ims.auth.eu-west-1.amazoncognito.com/valid?token=a',
        DEVICE_NAME: null,
        EVENT_ID: 'ev-1',
        IP_ADDRESS: '203.0.113.7',
        USER_NAME: userName,
        ONE_CLICK_LINK_INVALID: 'https://ims.auth.eu-west-1.amazoncognito.com/invalid?token=b',
        ...details
      }
    },
    response: {}
  }
}
