// Refuses a local-mode port that another program already holds, with a sentence naming the setting.
import { createServer } from 'node:net'

/** The refusal for `setting` (COGNITO_LOCAL_PORT, SES_LOCAL_PORT) when `port` is taken. */
export function portInUse (setting: string, port: number): Error {
  return new Error(`${setting} ${port} is in use: another program listens there (perhaps an earlier start); stop it or set ${setting} to a free port.`)
}

/** Resolves when `port` on `host` is free to listen on; rejects with {@link portInUse} when another program holds it. */
export async function ensurePortFree (setting: string, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (error: NodeJS.ErrnoException) => { reject(error.code === 'EADDRINUSE' ? portInUse(setting, port) : error) })
    probe.listen(port, host, () => { probe.close(() => { resolve() }) })
  })
}
