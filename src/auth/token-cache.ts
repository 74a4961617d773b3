import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from './types.js';

// lru-cache's get() defaults its options argument to `{}` (an allocation per
// call) and writes `status` into it; one shared object keeps the hit path allocation-free.
const GET_OPTIONS: LRUCache.GetOptions<string, VerifiedToken, unknown> = {};

/**
 * Verified tokens by their exact string. Only successes go in; an entry lives
 * until the token's exp or `maxTtlMs`, whichever is first. The cap (the JWKS
 * cache TTL) bounds how long a token stays honoured after its key is rotated
 * out of the JWKS.
 */
export class TokenCache {
  private readonly lru: LRUCache<string, VerifiedToken> | undefined;

  constructor(maxEntries: number, private readonly maxTtlMs: number) {
    this.lru = maxEntries > 0 ? new LRUCache<string, VerifiedToken>({ max: maxEntries }) : undefined;
  }

  get(token: string): VerifiedToken | undefined {
    if (this.lru === undefined) return undefined;
    const hit = this.lru.get(token, GET_OPTIONS);
    if (hit === undefined) return undefined;
    // lru-cache's TTL clock is performance.now() with 1ms resolution; exp is wall-clock, so check it too.
    if (hit.expiresAtMs <= Date.now()) {
      this.lru.delete(token);
      return undefined;
    }
    return hit;
  }

  set(verified: VerifiedToken): void {
    if (this.lru === undefined) return;
    const ttl = Math.floor(Math.min(verified.expiresAtMs - Date.now(), this.maxTtlMs));
    if (ttl >= 1) this.lru.set(verified.token, verified, { ttl });
  }

  get size(): number { return this.lru?.size ?? 0; }
}
