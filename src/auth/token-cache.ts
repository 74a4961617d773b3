import type { VerifiedToken } from './types.js';

interface Entry { readonly verified: VerifiedToken; readonly expiresAtMs: number; /** `inserts` when it was last put at the end. */ movedAt: number }

/**
 * The map key: the token's last characters (signature bytes). Hashing a whole
 * token (hundreds of characters, a fresh string each request) was most of a
 * hit's cost; a hit still requires the whole token to be equal (`get`), so two
 * tokens sharing a tail only displace each other's entry.
 */
const keyOf = (token: string): string => token.slice(-32);

/**
 * Verified tokens by their exact string. Only successes go in; an entry lives
 * until the token's exp or `maxTtlMs`, whichever is first. The cap (the JWKS
 * cache TTL) bounds how long a token stays honoured after its key is rotated
 * out of the JWKS. Least recently used entries go first past `maxEntries`.
 *
 * A Map kept in use order rather than lru-cache: a hit is on every request, and
 * lru-cache's per-entry TTL bookkeeping (its clock, stale checks) cost more than
 * the whole lookup here. A hit moves its entry to the end only once half the
 * cache has been inserted since its last move (a delete and a set saved on
 * almost every hit); an entry used at least that often is still never the oldest.
 */
export class TokenCache {
  /** By keyOf(token), oldest use first: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();
  /** Entries put at the end so far (inserts and moves). */
  private inserts = 0;

  constructor(private readonly maxEntries: number, private readonly maxTtlMs: number) {}

  get(token: string): VerifiedToken | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (entry === undefined || entry.verified.token !== token) return undefined;
    if (entry.expiresAtMs <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.inserts - entry.movedAt > this.maxEntries >> 1) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      entry.movedAt = this.inserts++;
    }
    return entry.verified;
  }

  set(verified: VerifiedToken): void {
    if (this.maxEntries <= 0) return;
    const now = Date.now();
    const ttl = Math.floor(Math.min(verified.expiresAtMs - now, this.maxTtlMs));
    if (ttl < 1) return;
    const key = keyOf(verified.token);
    this.entries.delete(key);
    this.entries.set(key, { verified, expiresAtMs: now + ttl, movedAt: this.inserts++ });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number { return this.entries.size; }
}
