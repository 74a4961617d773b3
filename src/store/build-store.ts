import type { Config } from '../config/index.js';
import type { AdminStore } from './admin-types.js';
import { CachedAssignmentStore } from './cached-store.js';
import { RedisInvalidationFeed } from './invalidation.js';
import { MemoryAdminStore } from './memory-admin-store.js';
import { MemoryAssignmentStore } from './memory-store.js';
import { RedisAdminStore } from './redis-admin-store.js';
import { createRedisClient, describeRedis, type RedisClient } from './redis-connection.js';
import { redisKeys } from './redis-keys.js';
import { RedisAssignmentStore } from './redis-store.js';
import { loadSeed } from './seed.js';
import type { AssignmentStore, StoreHooks, StoreLogger } from './types.js';

/**
 * The store the config names: Redis (behind this instance's cache) when
 * `store.redis` is set, else the in-memory store seeded from `store.seed`.
 * Returns at once: Redis connects in the background, reads fail closed until
 * it answers, and /readyz reports it through healthy().
 */
export function buildAssignmentStore(config: Config, hooks: StoreHooks, logger: StoreLogger): AssignmentStore {
  const s = config.store;
  if (!s.redis) return new MemoryAssignmentStore(s.seed ? loadSeed(s.seed) : undefined);
  if (s.seed) logger.warn({ seed: s.seed }, 'store.seed is ignored with store.redis; load it with `rolegate import`');

  const keys = redisKeys(s.redis.prefix);
  const where = describeRedis(s.redis);
  const client = createRedisClient(s.redis);
  watchConnection(client, 'commands', where, logger);
  const backend = new RedisAssignmentStore(client, keys, hooks);
  // also with the cache off (max_entries 0): the feed tells this instance when custom or default roles change
  const sub = createRedisClient(s.redis, { subscriber: true });
  watchConnection(sub, 'invalidations', where, logger);
  const feed = new RedisInvalidationFeed(sub, keys.channel, logger, () => hooks.error('subscribe'));
  return new CachedAssignmentStore(backend, feed, { maxEntries: s.cache.max_entries, ttlMs: s.cache.ttl_ms, staleIfErrorMs: s.stale_if_error_ms }, hooks);
}

/**
 * The admin API's store, beside the assignment store this process reads: on
 * Redis, its own connection, made in the background like the gateway's (the
 * gateway starts while Redis is down; admin calls answer store_unavailable
 * until it is up); in memory, writing into that same MemoryAssignmentStore, so
 * the gateway sees a change at its next request.
 */
export function buildAdminStore(config: Config, assignments: AssignmentStore, logger: StoreLogger): AdminStore {
  const opts = { auditMaxEntries: config.admin?.audit_max_entries ?? 10000 };
  const redis = config.store.redis;
  if (redis) {
    const client = createRedisClient(redis);
    watchConnection(client, 'admin', describeRedis(redis), logger);
    return new RedisAdminStore(client, redisKeys(redis.prefix), opts);
  }
  if (!(assignments instanceof MemoryAssignmentStore)) throw new Error(`the in-memory admin store needs the in-memory assignment store, got ${assignments.kind}`);
  return new MemoryAdminStore(assignments, opts);
}

/**
 * Logs connection changes once each, not every retry: a Redis outage would
 * otherwise write a line per reconnect attempt. The 'error' listener also keeps
 * ioredis from printing "Unhandled error event".
 */
function watchConnection(client: RedisClient, role: string, where: string, logger: StoreLogger): void {
  let up = false;
  let reported = false;
  client.on('ready', () => {
    up = true;
    reported = false;
    logger.info({ redis: where, connection: role }, 'store connected');
  });
  client.on('close', () => {
    if (!up) return;
    up = false;
    reported = true;
    // a close we asked for moves straight on to 'end': not worth a warning
    setImmediate(() => {
      if (client.status !== 'end') logger.warn({ redis: where, connection: role }, 'store connection lost; uncached reads fail closed until it returns');
    });
  });
  client.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    logger.warn({ redis: where, connection: role, err: err.message }, 'store not reachable; uncached reads fail closed until it is');
  });
}
