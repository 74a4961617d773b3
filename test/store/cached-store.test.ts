import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../src/errors.js';
import { CachedAssignmentStore, type AssignmentStore, type InvalidationFeed, type MemberRecord } from '../../src/store/index.js';
import type { InvalidationHandlers } from '../../src/store/invalidation.js';
import { recordingStoreHooks } from '../helpers/redis.js';

/** A backend whose answers the test controls, counting calls. */
function fakeBackend() {
  const members = new Map<string, MemberRecord>();
  let failing = false;
  let gate: Promise<void> | undefined;
  const b = {
    calls: 0,
    members,
    fail(f: boolean) { failing = f; },
    hold(): () => void { let open!: () => void; gate = new Promise((r) => { open = r; }); return () => { gate = undefined; open(); }; },
    store: {
      kind: 'fake',
      async getMember(id: string) {
        b.calls++;
        if (gate) await gate;
        if (failing) throw new GatewayError('store_unavailable', 'down');
        return members.get(id) ?? null;
      },
      async getRelations() { b.calls++; return null; },
      async getPartnerGroups() { b.calls++; return null; },
      healthy: () => !failing,
      close: async () => {},
    } satisfies AssignmentStore,
  };
  return b;
}

function fakeFeed() {
  let h: InvalidationHandlers | undefined;
  let live = false;
  const feed: InvalidationFeed & { handlers(): InvalidationHandlers; up(): void; down(): void } = {
    start(handlers) { h = handlers; },
    subscribed: () => live,
    close: async () => {},
    handlers: () => h!,
    up() { live = true; h!.subscribed(); },
    down() { live = false; h!.lost(); },
  };
  return feed;
}

const member = (id: string, status: MemberRecord['status'] = 'active'): MemberRecord => ({ id, status, roles: ['viewer'], groups: [] });

function setup(opts: { ttlMs?: number; staleIfErrorMs?: number; maxEntries?: number } = {}) {
  const backend = fakeBackend();
  const feed = fakeFeed();
  const rec = recordingStoreHooks();
  let now = 0;
  const store = new CachedAssignmentStore(backend.store, feed, {
    maxEntries: opts.maxEntries ?? 100, ttlMs: opts.ttlMs ?? 1000, staleIfErrorMs: opts.staleIfErrorMs ?? 0, now: () => now,
  }, rec.hooks);
  feed.up();
  return { backend, feed, rec, store, advance: (ms: number) => { now += ms; } };
}

describe('CachedAssignmentStore', () => {
  test('a warm read returns the value itself, not a Promise; unknown members are cached too', async () => {
    const { backend, store, rec } = setup();
    backend.members.set('u-1', member('u-1'));
    const cold = store.getMember('u-1');
    assert.ok(cold instanceof Promise);
    assert.deepEqual(await cold, member('u-1'));
    const warm = store.getMember('u-1');
    assert.ok(!(warm instanceof Promise));
    assert.deepEqual(warm, member('u-1'));
    assert.equal(await store.getMember('u-none'), null);
    assert.equal(store.getMember('u-none'), null);
    assert.equal(backend.calls, 2);
    assert.deepEqual(rec.cache, { hit: 2, miss: 2, stale: 0 });
  });

  test('concurrent misses for one key share one backend read', async () => {
    const { backend, store } = setup();
    backend.members.set('u-1', member('u-1'));
    const all = await Promise.all(Array.from({ length: 20 }, () => store.getMember('u-1')));
    assert.equal(backend.calls, 1);
    assert.ok(all.every((m) => m?.id === 'u-1'));
  });

  test('an invalidation drops the entry; the next read goes to the backend', async () => {
    const { backend, feed, store, rec } = setup();
    backend.members.set('u-1', member('u-1'));
    await store.getMember('u-1');
    backend.members.set('u-1', member('u-1', 'removed'));
    feed.handlers().message({ keys: ['member:u-1'], writtenAtMs: Date.now() - 5, version: 2 });
    assert.equal((await store.getMember('u-1'))?.status, 'removed');
    assert.equal(rec.lags.length, 1);
    assert.ok(rec.lags[0]! >= 0.004 && rec.lags[0]! < 1);
  });

  test('a read in flight when its invalidation arrives is not cached (it may predate the write)', async () => {
    const { backend, feed, store } = setup();
    backend.members.set('u-1', member('u-1'));
    const release = backend.hold();
    const inFlight = store.getMember('u-1');
    feed.handlers().message({ keys: ['member:u-1'], writtenAtMs: Date.now(), version: 2 });
    release();
    assert.equal((await inFlight)?.status, 'active');
    const next = store.getMember('u-1');
    assert.ok(next instanceof Promise, 'the spoiled answer must not be served from cache');
    await next;
    assert.equal(backend.calls, 2);
  });

  test('while the feed is down entries are not trusted; resubscribing flushes', async () => {
    const { backend, feed, store } = setup();
    backend.members.set('u-1', member('u-1'));
    await store.getMember('u-1');
    feed.down();
    assert.ok(store.getMember('u-1') instanceof Promise, 'feed down: go to the backend');
    assert.equal(store.healthy(), false);
    await store.getMember('u-1');
    feed.up();
    assert.equal(store.size, 0);
    await store.getMember('u-1');
    assert.ok(!(store.getMember('u-1') instanceof Promise));
    assert.equal(store.healthy(), true);
  });

  test('feed down and backend failing: an entry within its TTL is still served, others fail closed', async () => {
    const { backend, feed, store } = setup();
    backend.members.set('u-1', member('u-1'));
    await store.getMember('u-1');
    feed.down();
    backend.fail(true);
    assert.equal((await store.getMember('u-1'))?.id, 'u-1');
    await assert.rejects(Promise.resolve(store.getMember('u-2')), (e: GatewayError) => e.reason === 'store_unavailable');
  });

  test('stale_if_error: an expired entry is served for that long past its TTL, then the read fails closed', async () => {
    const { backend, store, rec, advance } = setup({ ttlMs: 100, staleIfErrorMs: 50 });
    backend.members.set('u-1', member('u-1'));
    await store.getMember('u-1');
    backend.fail(true);
    advance(120);
    assert.equal((await store.getMember('u-1'))?.id, 'u-1');
    assert.equal(rec.cache.stale, 1);
    advance(40);
    await assert.rejects(Promise.resolve(store.getMember('u-1')), (e: GatewayError) => e.reason === 'store_unavailable');
    backend.fail(false);
    assert.equal((await store.getMember('u-1'))?.id, 'u-1');
  });

  test('without stale_if_error an expired entry is never served when the backend fails', async () => {
    const { backend, store, advance } = setup({ ttlMs: 100 });
    backend.members.set('u-1', member('u-1'));
    await store.getMember('u-1');
    backend.fail(true);
    advance(101);
    await assert.rejects(Promise.resolve(store.getMember('u-1')), (e: GatewayError) => e.reason === 'store_unavailable');
  });

  test('an expired entry is re-read', async () => {
    const { backend, store, advance } = setup({ ttlMs: 100 });
    backend.members.set('u-1', member('u-1'));
    await store.getMember('u-1');
    advance(101);
    assert.ok(store.getMember('u-1') instanceof Promise);
  });

  test('the cache never holds more than max_entries', async () => {
    const { store } = setup({ maxEntries: 50 });
    for (let i = 0; i < 1000; i++) await store.getMember(`u-${i}`);
    assert.equal(store.size, 50);
  });

  test('max_entries 0 keeps nothing: every read goes to the backend', async () => {
    const { backend, store } = setup({ maxEntries: 0 });
    backend.members.set('u-1', member('u-1'));
    assert.deepEqual(await store.getMember('u-1'), member('u-1'));
    assert.ok(store.getMember('u-1') instanceof Promise);
    assert.equal(store.size, 0);
  });

  test('watchPolicyOverlay fires for roles/settings keys, a flush-all and a resubscribe; not for members', () => {
    const { feed, store } = setup();
    let calls = 0;
    store.watchPolicyOverlay(() => { calls++; });
    const h = feed.handlers();
    h.message({ keys: ['member:u-1', 'relations:deals/d1'], writtenAtMs: Date.now(), version: 1 });
    assert.equal(calls, 0);
    h.message({ keys: ['member:u-1', 'roles'], writtenAtMs: Date.now(), version: 2 });
    h.message({ keys: ['settings'], writtenAtMs: Date.now(), version: 3 });
    h.message({ keys: 'all', writtenAtMs: Date.now(), version: 4 });
    assert.equal(calls, 3);
    feed.down();
    assert.equal(calls, 3);
    feed.up();
    assert.equal(calls, 4, 'messages may have been missed while down');
  });

  test('getPolicyOverlay is forwarded uncached when the backend has it, absent otherwise', async () => {
    const { store } = setup();
    assert.equal(store.getPolicyOverlay, undefined);
    const overlay = { roles: [], defaultRoles: { partner: ['viewer'] }, settingsRev: 1 };
    let reads = 0;
    const backend = { ...fakeBackend().store, getPolicyOverlay: async () => { reads++; return overlay; } };
    const withOverlay = new CachedAssignmentStore(backend, fakeFeed(), { maxEntries: 10, ttlMs: 1000, staleIfErrorMs: 0 }, recordingStoreHooks().hooks);
    assert.equal(await withOverlay.getPolicyOverlay!(), overlay);
    await withOverlay.getPolicyOverlay!();
    assert.equal(reads, 2);
  });
});
