// The local KMS: GenerateDataKey/Encrypt/Decrypt as the AWS SDK and the Encryption SDK's KMS keyring call them.
import t from 'tap'
import { buildClient, CommitmentPolicy, getClient, KmsKeyringNode } from '@aws-crypto/client-node'
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMS, KMSClient } from '@aws-sdk/client-kms'
import { createCodeDecrypter } from '../../triggers/lib/decrypt.js'
import { LOCAL_KMS_ALIAS, LOCAL_KMS_ALIAS_ARN, LOCAL_KMS_KEY_ARN, startLocalKms } from '../../src/local/kms.js'

const kms = await startLocalKms()
t.teardown(kms.close)
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' }
const client = new KMSClient({ endpoint: kms.endpoint, region: 'local', credentials, maxAttempts: 1 })
t.teardown(() => { client.destroy() })

t.test('listens on loopback and names its key by ARN', async (t) => {
  t.match(kms.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(kms.keyArn, LOCAL_KMS_KEY_ARN)
  t.equal(kms.aliasArn, LOCAL_KMS_ALIAS_ARN)
})

t.test('GenerateDataKey via the alias answers the key ARN; Decrypt via the ARN restores the data key', async (t) => {
  const context = { 'userpool-id': 'local_pool' }
  for (const keyId of [LOCAL_KMS_ALIAS, LOCAL_KMS_ALIAS_ARN, LOCAL_KMS_KEY_ARN]) {
    const generated = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, EncryptionContext: context }))
    t.equal(generated.KeyId, LOCAL_KMS_KEY_ARN, `${keyId} answers the ARN`)
    t.equal(generated.Plaintext?.length, 32)
    const decrypted = await client.send(new DecryptCommand({ KeyId: LOCAL_KMS_KEY_ARN, CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context }))
    t.same(Buffer.from(decrypted.Plaintext ?? []), Buffer.from(generated.Plaintext ?? []))
    t.equal(decrypted.KeyId, LOCAL_KMS_KEY_ARN)
  }
})

t.test('Encrypt binds the encryption context; a different context or a tampered blob is refused', async (t) => {
  const encrypted = await client.send(new EncryptCommand({ KeyId: LOCAL_KMS_ALIAS_ARN, Plaintext: Buffer.from('secret'), EncryptionContext: { a: '1', b: '2' } }))
  t.equal(encrypted.KeyId, LOCAL_KMS_KEY_ARN)
  const same = await client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { b: '2', a: '1' } }))
  t.equal(Buffer.from(same.Plaintext ?? []).toString(), 'secret', 'context key order does not matter')
  await t.rejects(client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { a: '1' } })), { name: 'InvalidCiphertextException' })
  const tampered = Buffer.from(encrypted.CiphertextBlob ?? [])
  tampered[tampered.length - 1] ^= 1
  await t.rejects(client.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { a: '1', b: '2' } })), { name: 'InvalidCiphertextException' })
})

t.test('unknown keys and operations are refused', async (t) => {
  await t.rejects(client.send(new EncryptCommand({ KeyId: 'alias/other', Plaintext: Buffer.from('x') })), { name: 'NotFoundException' })
  // Names every object inherits are no operations either (a plain table lookup would run Object or its toString).
  for (const operation of ['ScheduleKeyDeletion', 'constructor', 'toString', 'hasOwnProperty']) {
    const res = await fetch(kms.endpoint, { method: 'POST', headers: { 'x-amz-target': `TrentService.${operation}`, 'content-type': 'application/x-amz-json-1.1' }, body: '{"KeyId":"x"}' })
    t.equal(res.status, 400, operation)
    t.match(await res.json(), { __type: 'UnknownOperationException' }, operation)
  }
})

t.test('the Encryption SDK round trip cognito-local performs: alias generator + ARN key, decrypted by the trigger', async (t) => {
  // cognito-local's CryptoService: KmsKeyringNode({ generatorKeyId: KMSKeyAlias, keyIds: [KMSKeyId] }), committing suite.
  const keyring = new KmsKeyringNode({
    generatorKeyId: LOCAL_KMS_ALIAS_ARN,
    keyIds: [LOCAL_KMS_KEY_ARN],
    clientProvider: getClient(KMS, { endpoint: kms.endpoint, credentials })
  })
  const { result } = await buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT).encrypt(keyring, '482913')
  t.equal(result.readUInt16BE(1), 0x0578, 'committing suite, as cognito-local uses')
  const decrypt = createCodeDecrypter({ kind: 'kms', keyArn: LOCAL_KMS_KEY_ARN, endpoint: kms.endpoint })
  const { plaintext, encryptionContext } = await decrypt(result.toString('base64'))
  t.equal(plaintext, '482913')
  t.equal(encryptionContext['userpool-id'], undefined)
})

t.test('after close the port no longer answers', async (t) => {
  const other = await startLocalKms()
  await other.close()
  await t.rejects(fetch(other.endpoint, { method: 'POST', signal: AbortSignal.timeout(2000) }))
})
