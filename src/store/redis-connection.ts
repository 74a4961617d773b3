import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/index.js';

export type RedisClient = Redis | Cluster;

/**
 * One ioredis client for the configured form (URL, Sentinel or Cluster).
 * Settings make a command fail fast instead of waiting: no offline queue (a
 * command issued while disconnected is rejected at once), no retries and no
 * re-send after a reconnect (the request that wanted it has moved on), and
 * `command_timeout_ms` for a server that accepts but does not answer.
 * Reconnection itself keeps going in the background, so the store recovers on
 * its own when Redis comes back.
 */
export function createRedisClient(cfg: RedisConfig, opts: { subscriber?: boolean } = {}): RedisClient {
  const password = readPassword(cfg);
  const base: RedisOptions = {
    connectTimeout: cfg.connect_timeout_ms,
    commandTimeout: cfg.command_timeout_ms,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // the invalidation feed resubscribes itself, so it knows when to flush the cache
    autoResubscribe: !opts.subscriber,
    ...(password !== undefined ? { password } : {}),
  };
  // capped so a restarted Redis is noticed within a second
  const retry = (attempt: number) => Math.min(attempt * 100, 1000);

  if (cfg.cluster) {
    const nodes = cfg.cluster.map((u) => { const url = new URL(u); return { host: url.hostname, port: Number(url.port || 6379) }; });
    const tls = cfg.cluster.some((u) => u.startsWith('rediss:'));
    return new Cluster(nodes, {
      enableOfflineQueue: false,
      clusterRetryStrategy: retry,
      redisOptions: { ...base, ...(tls ? { tls: {} } : {}) },
    });
  }
  if (cfg.sentinels) {
    const sentinels = cfg.sentinels.map((hp) => { const i = hp.lastIndexOf(':'); return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) }; });
    return new Redis({ ...base, sentinels, name: cfg.name!, enableOfflineQueue: false, retryStrategy: retry, sentinelRetryStrategy: retry });
  }
  return new Redis(cfg.url!, { ...base, enableOfflineQueue: false, retryStrategy: retry });
}

function readPassword(cfg: RedisConfig): string | undefined {
  if (cfg.password_env === undefined) return undefined;
  const v = process.env[cfg.password_env];
  if (v === undefined || v === '') throw new Error(`store.redis.password_env: environment variable ${cfg.password_env} is not set`);
  return v;
}

/** Resolves once the client is ready; rejects after `timeoutMs` (the CLI must not hang on a dead Redis). */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (e: Error) => { lastError = e; };
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (err) reject(err); else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(new Error(`Redis not reachable within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`)), timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/** A short description of where the client points, for messages (never the password). */
export function describeRedis(cfg: RedisConfig): string {
  if (cfg.cluster) return `cluster ${cfg.cluster.map(redact).join(',')}`;
  if (cfg.sentinels) return `sentinel ${cfg.name} via ${cfg.sentinels.join(',')}`;
  return redact(cfg.url!);
}

function redact(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString().replace(/\/$/, '');
  } catch { return u; }
}
