// The fields every Cognito trigger event shares; each trigger's event type adds its own request and response.

/** The common header of a Cognito user pool trigger event (cognito-local sends `version: "0"`). */
export interface CognitoTriggerEvent {
  version: string
  triggerSource: string
  region: string
  userPoolId: string
  userName: string
  callerContext: { awsSdkVersion?: string, clientId?: string | null }
}
