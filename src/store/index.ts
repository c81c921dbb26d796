// Picks the SharedStore the configuration asks for.
import type { Config } from '../../fastify.config.js'
import { MemoryStore, type SharedStore } from './shared-store.js'
import { RedisStore } from './redis-store.js'

/** Memory for one instance; Redis when `SESSION_STORE=redis`. */
export function createStore (config: Config): SharedStore {
  return config.session.store === 'redis' ? new RedisStore(config.session.redisUrl) : new MemoryStore()
}
