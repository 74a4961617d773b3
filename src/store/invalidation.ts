import type { RedisClient } from './redis-connection.js';
import type { StoreLogger } from './types.js';

/** What a write tells every instance: which cache keys to drop ('all': flush), and when it was written (Unix ms). */
export interface Invalidation { keys: readonly string[] | 'all'; writtenAtMs: number; version: number }

export interface InvalidationHandlers {
  message(inv: Invalidation): void;
  /** The subscription is (again) active: messages may have been missed before it, so flush. */
  subscribed(): void;
  /** The subscription dropped: from now on messages may be missed. */
  lost(): void;
}

/** Where invalidations come from; a fake in unit tests, Redis pub/sub in the gateway. */
export interface InvalidationFeed {
  start(h: InvalidationHandlers): void;
  subscribed(): boolean;
  close(): Promise<void>;
}

/** Parses `{"t":ms,"v":n,"keys":[...]|null}` as published by the write script; null if malformed. */
export function parseInvalidation(text: string): Invalidation | null {
  let m: unknown;
  try { m = JSON.parse(text); } catch { return null; }
  if (typeof m !== 'object' || m === null) return null;
  const { t, v, keys } = m as { t?: unknown; v?: unknown; keys?: unknown };
  if (typeof t !== 'number' || typeof v !== 'number') return null;
  if (keys === null) return { keys: 'all', writtenAtMs: t, version: v };
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) return null;
  return { keys, writtenAtMs: t, version: v };
}

/**
 * Redis pub/sub on its own connection (a subscribed connection can do nothing
 * else). It subscribes on every 'ready' itself instead of ioredis'
 * autoResubscribe, so it knows the moment the subscription is live again and
 * the cache can be flushed: anything cached before that may have missed a message.
 */
export class RedisInvalidationFeed implements InvalidationFeed {
  private live = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly sub: RedisClient, private readonly channel: string, private readonly logger: StoreLogger, private readonly onError: () => void) {}

  start(h: InvalidationHandlers): void {
    this.sub.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      const inv = parseInvalidation(text);
      if (!inv) {
        // an unreadable message still means something changed: drop everything rather than guess
        this.logger.warn({ channel }, 'malformed invalidation message; flushing the store cache');
        h.message({ keys: 'all', writtenAtMs: Date.now(), version: -1 });
        return;
      }
      h.message(inv);
    });
    this.sub.on('ready', () => this.subscribe(h));
    this.sub.on('close', () => {
      if (!this.live) return;
      this.live = false;
      h.lost();
    });
    if (this.sub.status === 'ready') this.subscribe(h);
  }

  subscribed(): boolean { return this.live; }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.sub.disconnect();
  }

  private subscribe(h: InvalidationHandlers): void {
    if (this.closed) return;
    this.sub.subscribe(this.channel).then(() => {
      this.live = true;
      h.subscribed();
    }, (err: Error) => {
      this.onError();
      this.logger.warn({ err: err.message }, 'invalidation subscribe failed; retrying');
      clearTimeout(this.retry);
      // a failed SUBSCRIBE on a live connection gets no new 'ready': retry on a timer
      this.retry = setTimeout(() => { if (this.sub.status === 'ready') this.subscribe(h); }, 500);
      this.retry.unref();
    });
  }
}
