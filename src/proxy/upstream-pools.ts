import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/index.js';

export interface Upstream { readonly name: string; readonly pool: Pool; readonly config: UpstreamConfig }

/** One keep-alive undici Pool per configured upstream, built once at start. */
export function buildUpstreamPools(upstreams: Readonly<Record<string, UpstreamConfig>>): Map<string, Upstream> {
  const out = new Map<string, Upstream>();
  for (const [name, config] of Object.entries(upstreams)) {
    const pool = new Pool(config.url, {
      connections: config.connections,
      pipelining: 1,
      headersTimeout: config.timeout_ms,
      bodyTimeout: config.timeout_ms,
      connect: { timeout: config.connect_timeout_ms },
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 60000,
    });
    out.set(name, Object.freeze({ name, pool, config }));
  }
  return out;
}

export async function closeUpstreamPools(pools: Map<string, Upstream>): Promise<void> {
  await Promise.allSettled([...pools.values()].map((u) => u.pool.close()));
}
