// Picks the SharedStore the configuration asks for.
import type { Config } from '../../fastify.config.js'
import { MemoryStore, type SharedStore } from './shared-store.js'
import { RedisStore } from './redis-store.js'
import type { StoreLog } from './redis-faults.js'

/** Memory for one instance; Redis when `SESSION_STORE=redis` (its connection's changes told to `log`). */
export function createStore (config: Config, log: StoreLog): SharedStore {
  return config.session.store === 'redis' ? new RedisStore(config.session.redisUrl, { log }) : new MemoryStore()
}
