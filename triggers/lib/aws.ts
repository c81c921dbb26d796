// Shared AWS client settings for triggers.

/** Credentials for local emulators (cognito-local, aws-ses-v2-local, the local KMS), which accept any signature. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' }
