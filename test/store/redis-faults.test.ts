import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../src/errors.js';
import { AssignmentWriter, buildAssignmentStore, type AssignmentStore } from '../../src/store/index.js';
import { quietLogger, recordingStoreHooks, redisConfig, sleep, startRedis, storeOnlyConfig, untilHealthy, type TestRedis } from '../helpers/redis.js';

const unavailable = (e: unknown) => e instanceof GatewayError && e.reason === 'store_unavailable';

/** Awaits a read whatever it returns; reports how long it took. */
async function timed<T>(read: () => T | Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await read();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

describe('Redis store under faults', () => {
  let redis: TestRedis;
  let store: AssignmentStore;
  let staleStore: AssignmentStore;
  const rec = recordingStoreHooks();
  const staleRec = recordingStoreHooks();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => { unhandled.push(e); };

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startRedis();
    const cfg = redisConfig(redis.url, { command_timeout_ms: 300 });
    store = buildAssignmentStore(storeOnlyConfig(cfg), rec.hooks, quietLogger);
    staleStore = buildAssignmentStore(storeOnlyConfig(cfg, { ttl_ms: 150, stale_if_error_ms: 1500 }), staleRec.hooks, quietLogger);
    await untilHealthy(store);
    await untilHealthy(staleStore);
    const w = await AssignmentWriter.open(cfg);
    await w.setMember('u-cached', { roles: ['viewer'] });
    await w.setMember('u-uncached', { roles: ['viewer'] });
    await w.close();
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await store.close();
    await staleStore.close();
    await redis.close();
  });

  test('Redis stopped: uncached reads fail closed at once, cached entries within TTL still answer', async () => {
    await store.getMember('u-cached');
    await staleStore.getMember('u-cached');
    await redis.stop();
    await sleep(50);
    assert.equal(store.healthy(), false);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => timed(() => store.getMember(i % 2 ? 'u-uncached' : `u-other-${i}`))));
    for (const r of results) {
      assert.ok(unavailable(r.error), `expected store_unavailable, got ${String(r.error)}`);
      assert.ok(r.ms < 250, `took ${r.ms.toFixed(1)} ms`);
    }
    const cached = await timed(() => store.getMember('u-cached'));
    assert.equal(cached.value?.id, 'u-cached');
    assert.ok(rec.errors.includes('member'));
  });

  test('stale_if_error serves an expired entry within the window, and says so', async () => {
    await sleep(200); // past the 150 ms TTL
    const r = await timed(() => staleStore.getMember('u-cached'));
    assert.equal(r.value?.id, 'u-cached');
    assert.ok(staleRec.cache.stale >= 1);
    const u = await timed(() => staleStore.getMember('u-uncached'));
    assert.ok(unavailable(u.error));
  });

  test('past the stale window the entry is refused too', async () => {
    await sleep(1500);
    const r = await timed(() => staleStore.getMember('u-cached'));
    assert.ok(unavailable(r.error), 'a stale entry past stale_if_error_ms must not be served');
  });

  test('Redis restarted: the store recovers on its own and flushes what it cached before', async () => {
    await redis.start();
    await untilHealthy(store, 5000);
    await untilHealthy(staleStore, 5000);
    // the restarted server is empty (no persistence): a flushed cache must say "unknown", not the old answer
    assert.ok(store.getMember('u-cached') instanceof Promise, 'cache was flushed on resubscribe');
    assert.equal(await store.getMember('u-cached'), null);
    const w = await AssignmentWriter.open(redisConfig(redis.url));
    await w.setMember('u-back', { status: 'pending' });
    await w.close();
    assert.equal((await store.getMember('u-back'))?.status, 'pending');
    assert.equal((await staleStore.getMember('u-back'))?.status, 'pending');
  });

  test('a hung Redis (accepts, never answers) fails reads within command_timeout_ms', async () => {
    redis.pause();
    try {
      const r = await timed(() => store.getMember('u-hung'));
      assert.ok(unavailable(r.error));
      assert.ok(r.ms >= 250 && r.ms < 1500, `took ${r.ms.toFixed(0)} ms (command_timeout_ms 300)`);
    } finally {
      redis.resume();
    }
    await untilHealthy(store, 5000);
    assert.equal(await store.getMember('u-hung'), null);
  });

  test('no unhandled rejection along the way', () => {
    assert.deepEqual(unhandled, []);
  });
});
