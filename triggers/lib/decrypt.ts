// Decrypts the Custom Email Sender's `request.code` with the AWS Encryption SDK (KMS keyring, or raw AES in tests).
import {
  buildClient,
  cacheClients,
  CommitmentPolicy,
  getClient,
  KmsKeyringNode,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  type KeyringNode
} from '@aws-crypto/client-node'
import { KMS, type KMSClientConfig } from '@aws-sdk/client-kms'
import type { DecryptionConfig } from '../config.js'
import { LOCAL_CREDENTIALS } from './aws.js'

/** A decrypted code and the encryption context it was bound to. */
export interface DecryptedCode {
  plaintext: string
  encryptionContext: Record<string, string>
}

/** Decrypts a base64 Encryption SDK message. */
export type CodeDecrypter = (ciphertextBase64: string) => Promise<DecryptedCode>

/**
 * Thrown when a code cannot be decrypted (another key, KMS refusing or unreachable, a damaged message). The
 * Encryption SDK's own error is not kept: its message carries the stack of every KMS error (exception names, ARNs).
 */
export class CodeDecryptError extends Error {
  override name = 'CodeDecryptError'
}


// Cognito encrypts with a non-committing signed suite: decrypting it needs REQUIRE_ENCRYPT_ALLOW_DECRYPT.
const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)

/**
 * Builds the keyring for `config`: a KMS keyring on the key ARN (the aggregated `KMS` client, which the keyring
 * calls as `client.decrypt()`), or a raw AES-256 keyring for tests and local runs without KMS.
 */
export function buildKeyring (config: DecryptionConfig): KeyringNode {
  if (config.kind === 'raw-aes') {
    return new RawAesKeyringNode({
      keyName: config.keyName,
      keyNamespace: config.keyNamespace,
      unencryptedMasterKey: new Uint8Array(config.key),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING
    })
  }
  const clientConfig: KMSClientConfig = config.endpoint === undefined
    ? {}
    : { endpoint: config.endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }
  return new KmsKeyringNode({
    keyIds: [config.keyArn],
    clientProvider: cacheClients(getClient(KMS, clientConfig))
  })
}

/** Returns a decrypter bound to one keyring, built once; a failure is a {@link CodeDecryptError}. */
export function createCodeDecrypter (config: DecryptionConfig): CodeDecrypter {
  const keyring = buildKeyring(config)
  return async (ciphertextBase64) => {
    let decrypted: Awaited<ReturnType<typeof decrypt>>
    try {
      decrypted = await decrypt(keyring, Buffer.from(ciphertextBase64, 'base64'))
    } catch {
      throw new CodeDecryptError(`The code could not be decrypted with the ${config.kind === 'kms' ? 'KMS' : 'raw AES'} keyring (another key, KMS refusing or unreachable, or a damaged message).`)
    }
    const { plaintext, messageHeader } = decrypted
    return { plaintext: plaintext.toString('utf8'), encryptionContext: { ...messageHeader.encryptionContext } }
  }
}
