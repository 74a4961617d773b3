import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import type { RecordFacts, RecordRelation } from '../policy/index.js';
import type { PolicyOverlay } from './admin-types.js';
import { cacheKey, OVERLAY_KEYS } from './redis-keys.js';
import type { Invalidation, InvalidationFeed } from './invalidation.js';
import type { AssignmentStore, MemberRecord, StoreHooks } from './types.js';

export interface CacheOptions {
  /** 0: keep nothing (every read goes to the backend); the feed still runs, for watchPolicyOverlay. */
  maxEntries: number;
  ttlMs: number;
  /** How long past its TTL an entry may still be served when the backend fails (0: never). */
  staleIfErrorMs: number;
  /** Monotonic milliseconds; tests pass a fake clock. */
  now?: () => number;
}

interface Entry { readonly value: unknown; readonly freshUntil: number }
interface Flight { invalidated: boolean; readonly promise: Promise<unknown> }

/**
 * This instance's bounded TTL cache in front of an async store. Hot path: a
 * fresh entry is returned as a plain value (no Promise, no network), and
 * "not a member" is cached like any other answer.
 *
 * Correctness rests on three rules:
 * - every write publishes the keys it changed; hearing one drops those entries,
 *   and marks a read already in flight for them so its (older) answer is not cached;
 * - while the invalidation feed is down, messages may be missed, so entries are
 *   not trusted: reads go to the backend and use the cache only if it fails;
 * - when the feed is (re)subscribed, everything cached before is flushed.
 */
export class CachedAssignmentStore implements AssignmentStore {
  readonly kind: string;
  private readonly cache: LRUCache<string, Entry>;
  private readonly inflight = new Map<string, Flight>();
  private readonly now: () => number;
  private trusted: boolean;
  /**
   * Present when the backend has it. Not cached: writes publish the record's
   * key, not the principal's reverse sets, so a cached set could not be
   * invalidated. One backend read per list request; a failure is
   * store_unavailable (fail closed, no stale answer).
   */
  readonly getPrincipalRecords?: (principal: string, resource: string, relation: RecordRelation) => Promise<ReadonlySet<string>>;
  /** Present when the backend has it; never cached (read off the request path, when watchPolicyOverlay says so). */
  readonly getPolicyOverlay?: () => Promise<PolicyOverlay>;
  private readonly overlayWatchers: (() => void)[] = [];

  constructor(
    private readonly backend: AssignmentStore,
    private readonly feed: InvalidationFeed | null,
    private readonly opts: CacheOptions,
    private readonly hooks: StoreHooks,
  ) {
    this.kind = backend.kind;
    this.cache = new LRUCache<string, Entry>({ max: Math.max(1, opts.maxEntries) });
    this.now = opts.now ?? (() => performance.now());
    // with no feed nothing reports writes, and the TTL alone bounds staleness
    this.trusted = feed === null;
    const principalRecords = backend.getPrincipalRecords?.bind(backend);
    if (principalRecords) {
      this.getPrincipalRecords = (principal, resource, relation) => Promise.resolve().then(() => principalRecords(principal, resource, relation)).catch((err: unknown) => {
        throw err instanceof GatewayError ? err : new GatewayError('store_unavailable', (err as Error)?.message, undefined, { cause: err });
      });
    }
    this.getPolicyOverlay = backend.getPolicyOverlay?.bind(backend);
    feed?.start({
      message: (inv) => this.apply(inv),
      // changes may have been missed while unsubscribed: the overlay is re-read too
      subscribed: () => { this.flush(); this.trusted = true; this.overlayChanged(); },
      lost: () => { this.trusted = false; },
    });
  }

  /** Calls `changed` when a write on any instance touched custom or default roles, on a flush-all, and on every (re)subscribe. */
  watchPolicyOverlay(changed: () => void): void { this.overlayWatchers.push(changed); }

  getMember(id: string): MemberRecord | null | Promise<MemberRecord | null> {
    return this.read(cacheKey.member(id), () => this.backend.getMember(id));
  }

  getRelations(ref: string): RecordFacts | null | Promise<RecordFacts | null> {
    return this.read(cacheKey.relations(ref), () => this.backend.getRelations(ref));
  }

  getPartnerGroups(partner: string): readonly string[] | null | Promise<readonly string[] | null> {
    return this.read(cacheKey.partner(partner), () => this.backend.getPartnerGroups(partner));
  }

  healthy(): boolean { return this.backend.healthy() && (this.feed === null || this.feed.subscribed()); }

  /** Entries held now (never more than max_entries). */
  get size(): number { return this.cache.size; }

  async close(): Promise<void> {
    await this.feed?.close();
    await this.backend.close();
  }

  /** Drops the named entries (or all) and spoils reads in flight for them. */
  invalidate(keys: readonly string[] | 'all'): void {
    if (keys === 'all') return this.flush();
    for (const k of keys) {
      this.cache.delete(k);
      const f = this.inflight.get(k);
      if (f) { f.invalidated = true; this.inflight.delete(k); }
    }
  }

  private apply(inv: Invalidation): void {
    this.invalidate(inv.keys);
    this.hooks.invalidation(Math.max(0, Date.now() - inv.writtenAtMs) / 1000);
    if (inv.keys === 'all' || inv.keys.some((k) => OVERLAY_KEYS.includes(k))) this.overlayChanged();
  }

  private overlayChanged(): void {
    for (const w of this.overlayWatchers) w();
  }

  private flush(): void {
    this.cache.clear();
    for (const f of this.inflight.values()) f.invalidated = true;
    this.inflight.clear();
  }

  // hot path: one Map lookup and a clock read on a hit
  private read<T>(key: string, load: () => T | Promise<T>): T | Promise<T> {
    const e = this.cache.get(key);
    if (e !== undefined && this.trusted && this.now() < e.freshUntil) {
      this.hooks.cache('hit');
      return e.value as T;
    }
    return this.fetch(key, load);
  }

  /** One backend read per key at a time: concurrent misses for the same user share it. */
  private fetch<T>(key: string, load: () => T | Promise<T>): Promise<T> {
    let f = this.inflight.get(key);
    if (!f) {
      const flight: Flight = {
        invalidated: false,
        promise: Promise.resolve().then(load).then((value) => {
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
          if (!flight.invalidated && this.opts.maxEntries > 0) this.cache.set(key, { value, freshUntil: this.now() + this.opts.ttlMs });
          return value;
        }, (err: unknown) => {
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
          throw err;
        }),
      };
      this.inflight.set(key, flight);
      f = flight;
    }
    return f.promise.then((v) => { this.hooks.cache('miss'); return v as T; }, (err: unknown) => this.fallback<T>(key, err));
  }

  /** The backend failed: serve what this instance still holds, within TTL or the stale window; else fail closed. */
  private fallback<T>(key: string, err: unknown): T {
    const e = this.cache.peek(key);
    if (e !== undefined) {
      const now = this.now();
      if (now < e.freshUntil) { this.hooks.cache('hit'); return e.value as T; }
      if (now < e.freshUntil + this.opts.staleIfErrorMs) { this.hooks.cache('stale'); return e.value as T; }
    }
    this.hooks.cache('miss');
    throw err instanceof GatewayError ? err : new GatewayError('store_unavailable', (err as Error)?.message, undefined, { cause: err });
  }
}
