// A KMS-compatible endpoint for local mode and tests: GenerateDataKey, Encrypt, Decrypt over AWS JSON 1.1, one key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ownEntry } from '../own-entry.js'

/** The local key's ARN; the region `local` matches cognito-local's. */
export const LOCAL_KMS_KEY_ARN = 'arn:aws:kms:local:000000000000:key/1a2b3c4d-0000-4000-8000-00000000c0de'
/** The alias of the local key (both `alias/ims-local-ces` and its ARN resolve to the key). */
export const LOCAL_KMS_ALIAS = 'alias/ims-local-ces'
export const LOCAL_KMS_ALIAS_ARN = 'arn:aws:kms:local:000000000000:alias/ims-local-ces'

/** A running local KMS. */
export interface LocalKms {
  endpoint: string
  keyArn: string
  aliasArn: string
  close: () => Promise<void>
}

class KmsError extends Error {
  constructor (readonly type: string, message: string) { super(message) }
}

const KEY_NAMES = new Set([LOCAL_KMS_KEY_ARN, LOCAL_KMS_KEY_ARN.split('/')[1], LOCAL_KMS_ALIAS, LOCAL_KMS_ALIAS_ARN])

function resolveKey (keyId: unknown): string {
  if (typeof keyId !== 'string' || !KEY_NAMES.has(keyId)) throw new KmsError('NotFoundException', `Key '${String(keyId)}' does not exist`)
  return LOCAL_KMS_KEY_ARN
}

/** The encryption context as additional authenticated data: sorted, so the order of keys does not matter. */
function aad (context: unknown): Buffer {
  const entries = Object.entries((context ?? {}) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Buffer.from(JSON.stringify(entries))
}

/**
 * Starts the local KMS on 127.0.0.1 (port 0 = a free port). The master key lives in memory only: ciphertexts do not
 * survive a restart, which suits Cognito codes (encrypted and decrypted within one request).
 */
export async function startLocalKms ({ port = 0, host = '127.0.0.1' }: { port?: number, host?: string } = {}): Promise<LocalKms> {
  const master = randomBytes(32)
  const seal = (plaintext: Buffer, context: unknown): Buffer => {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', master, iv).setAAD(aad(context))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body])
  }
  const open = (blob: Buffer, context: unknown): Buffer => {
    try {
      if (blob[0] !== 1) throw new Error('version')
      const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(1, 13)).setAAD(aad(context))
      decipher.setAuthTag(blob.subarray(13, 29))
      return Buffer.concat([decipher.update(blob.subarray(29)), decipher.final()])
    } catch {
      throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or its encryption context does not match.')
    }
  }
  const b64 = (value: unknown, field: string): Buffer => {
    if (typeof value !== 'string') throw new KmsError('ValidationException', `${field} is required`)
    return Buffer.from(value, 'base64')
  }
  const operations: Record<string, (req: Record<string, unknown>) => Record<string, unknown>> = {
    GenerateDataKey (req) {
      const KeyId = resolveKey(req.KeyId)
      const size = typeof req.NumberOfBytes === 'number' ? req.NumberOfBytes : req.KeySpec === 'AES_128' ? 16 : 32
      if (size < 1 || size > 1024) throw new KmsError('ValidationException', 'NumberOfBytes must be between 1 and 1024')
      const dataKey = randomBytes(size)
      return { KeyId, Plaintext: dataKey.toString('base64'), CiphertextBlob: seal(dataKey, req.EncryptionContext).toString('base64') }
    },
    Encrypt (req) {
      const KeyId = resolveKey(req.KeyId)
      const CiphertextBlob = seal(b64(req.Plaintext, 'Plaintext'), req.EncryptionContext).toString('base64')
      return { KeyId, CiphertextBlob, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }
    },
    Decrypt (req) {
      const KeyId = req.KeyId === undefined ? LOCAL_KMS_KEY_ARN : resolveKey(req.KeyId)
      const plaintext = open(b64(req.CiphertextBlob, 'CiphertextBlob'), req.EncryptionContext)
      return { KeyId, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '')
      const operation = target.startsWith('TrentService.') ? ownEntry(operations, target.slice('TrentService.'.length)) : undefined
      let status = 200
      let body: Record<string, unknown>
      try {
        if (req.method !== 'POST' || operation === undefined) throw new KmsError('UnknownOperationException', `Unsupported operation ${target}`)
        body = operation(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>)
      } catch (err) {
        status = 400
        body = err instanceof KmsError ? { __type: err.type, message: err.message } : { __type: 'SerializationException', message: 'Malformed request' }
      }
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomBytes(8).toString('hex') })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve) })
  const address = server.address() as AddressInfo
  return {
    endpoint: `http://${host}:${address.port}`,
    keyArn: LOCAL_KMS_KEY_ARN,
    aliasArn: LOCAL_KMS_ALIAS_ARN,
    close: async () => { await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }) }
  }
}
