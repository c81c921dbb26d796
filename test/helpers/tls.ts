// A throwaway TLS certificate for a loopback server (made with openssl), valid for 127.0.0.1 only.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** A self-signed certificate and its key, as files and as PEM; `remove` deletes them. */
export interface TestCertificate { keyFile: string, certFile: string, key: Buffer, cert: Buffer, remove: () => Promise<void> }

/**
 * A self-signed certificate for 127.0.0.1 (and no other name), valid for a day: nobody vouches for it unless a test
 * hands it over as a CA (NODE_EXTRA_CA_CERTS, or a client's `ca`).
 */
export async function selfSignedCertificate (): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'ims-tls-'))
  const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', keyFile, '-out', certFile])
  return { keyFile, certFile, key: await readFile(keyFile), cert: await readFile(certFile), remove: async () => { await rm(dir, { recursive: true, force: true }) } }
}
