import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import {
  AssignmentWriter, buildAdminStore, buildAssignmentStore, InvalidAssignmentError, MemoryAdminStore, MemoryAssignmentStore, RedisAdminStore, redisKeys,
  type AdminStore, type AssignmentStore, type AuditInput, type Commit, type CustomRoleBody, type Invite, type StoredResponse,
} from '../../src/store/index.js';
import { quietLogger, recordingStoreHooks, redisConfig, sleep, startRedis, storeOnlyConfig, untilHealthy, type TestRedis } from '../helpers/redis.js';

/**
 * One contract, two stores: every test in `contract` runs against
 * MemoryAdminStore and RedisAdminStore (a real redis-server, flushed per test).
 */
interface Subject {
  readonly name: string;
  /** A fresh, empty store. */
  open(opts?: { auditMaxEntries?: number }): Promise<AdminStore>;
}

const commit = (c: Partial<Commit>): Commit => ({ expect: [], writes: [], audit: [], ...c });
const audit = (action: string, target: string, after: unknown = null): AuditInput => ({ actor: 'u-admin', action, target, before: null, after, request_id: `req-${action}` });
const invite = (over: Partial<Invite> = {}): Invite => ({ expires_ms: 1764633600000, sent_ms: 1764028800000, by: 'u-olivia', sends: 1, ...over });
const dealDesk: CustomRoleBody = { description: 'Deal desk', audience: 'internal', grants: ['deals:read', { allow: 'deals:update', when: 'assigned' }] };

async function ok(store: AdminStore, c: Partial<Commit>): Promise<number> {
  const r = await store.commit(commit(c));
  assert.ok(r.ok, `commit failed: ${JSON.stringify(r)}`);
  return r.version;
}

function contract(s: Subject): void {
  describe(`AdminStore contract: ${s.name}`, () => {
    test('create, patch and no-op: rev and version move only on change', async () => {
      const store = await s.open();
      const t0 = Date.now();
      const v1 = await ok(store, { writes: [{ k: 'member', id: 'u-ana', patch: { roles: ['viewer'], email: 'ana@acme.test', kind: 'internal' } }] });
      const created = (await store.getMember('u-ana'))!;
      assert.equal(created.status, 'active');
      assert.equal(created.rev, 1);
      assert.deepEqual(created.represents, []);
      assert.equal(created.invite, undefined);
      assert.ok(created.created_ms >= t0 && created.updated_ms === created.created_ms);
      assert.equal(v1, await store.version());

      const v2 = await ok(store, { writes: [{ k: 'member', id: 'u-ana', patch: { roles: ['viewer', 'manager'], represents: ['emea'] } }] });
      const patched = (await store.getMember('u-ana'))!;
      assert.equal(patched.rev, 2);
      assert.deepEqual(patched.roles, ['viewer', 'manager']);
      assert.deepEqual(patched.represents, ['emea']);
      assert.equal(patched.email, 'ana@acme.test', 'fields left out keep their value');
      assert.equal(patched.created_ms, created.created_ms);
      assert.ok(v2 > v1);

      const v3 = await ok(store, { writes: [{ k: 'member', id: 'u-ana', patch: { roles: ['viewer', 'manager'] } }] });
      assert.equal(v3, v2, 'a no-op commit bumps no version');
      assert.equal((await store.getMember('u-ana'))!.rev, 2);
      assert.equal(await store.getMember('u-nobody'), null);
    });

    test('every expectation kind is checked; a failed one is returned and nothing is written', async () => {
      const store = await s.open();
      await ok(store, {
        writes: [{ k: 'member', id: 'u-1', patch: { roles: ['viewer'] } }, { k: 'role', name: 'deal-desk', body: dealDesk, by: 'u-admin' },
          { k: 'default_roles', value: { partner: ['viewer'] } }],
      });
      const version = await store.version();
      const holds = [
        { k: 'member', id: 'u-1', rev: 1 }, { k: 'member', id: 'u-new', rev: 0 }, { k: 'role', name: 'deal-desk', rev: 1 },
        { k: 'role', name: 'other', rev: 0 }, { k: 'settings', rev: 1 }, { k: 'version', version },
      ] as const;
      const fails = [
        { k: 'member', id: 'u-1', rev: 0 }, { k: 'member', id: 'u-1', rev: 2 }, { k: 'member', id: 'u-new', rev: 1 },
        { k: 'role', name: 'deal-desk', rev: 0 }, { k: 'role', name: 'other', rev: 1 }, { k: 'settings', rev: 0 }, { k: 'version', version: version - 1 },
      ] as const;
      for (const bad of fails) {
        // a multi-write commit whose last expectation fails: none of its writes, audit or idempotency record lands
        const r = await store.commit(commit({
          expect: [...holds, bad],
          writes: [{ k: 'member', id: 'u-2', patch: { roles: ['viewer'] } }, { k: 'member', id: 'u-1', patch: { roles: [] } },
            { k: 'role', name: 'deal-desk', body: { grants: [] }, by: 'u-admin' }, { k: 'role_delete', name: 'deal-desk' },
            { k: 'default_roles', value: null }, { k: 'relations', ref: 'deals/d1', patch: { assignees: ['u-1'] } }],
          audit: [audit('member.roles', 'member:u-2')],
          idempotency: { key: `k-${JSON.stringify(bad)}`, response: { status: 200, body: '{}', fingerprint: 'f' }, ttl_ms: 60000 },
        }));
        assert.deepEqual(r, { ok: false, conflict: bad });
        assert.equal(await store.getIdempotent(`k-${JSON.stringify(bad)}`), null);
      }
      assert.equal(await store.version(), version);
      assert.equal(await store.getMember('u-2'), null);
      assert.deepEqual((await store.getMember('u-1'))!.roles, ['viewer']);
      assert.equal(await store.getRelations('deals/d1'), null);
      const overlay = await store.getOverlay();
      assert.deepEqual(overlay.roles.map((r) => [r.name, r.rev]), [['deal-desk', 1]]);
      assert.deepEqual(overlay.defaultRoles, { partner: ['viewer'] });
      assert.deepEqual(await store.listAudit({ limit: 10 }), []);
      assert.ok((await store.commit(commit({ expect: holds, writes: [{ k: 'member', id: 'u-2', patch: {} }] }))).ok);
    });

    test('an invalid write is refused before anything is written', async () => {
      const store = await s.open();
      await assert.rejects(store.commit(commit({
        writes: [{ k: 'member', id: 'u-good', patch: {} }, { k: 'member', id: 'u-bad', patch: { status: 'gone' as never } }],
      })), InvalidAssignmentError);
      assert.equal(await store.getMember('u-good'), null);
      assert.equal(await store.version(), 0);
    });

    test('custom roles: create, unchanged rewrite, edit, delete, read through the overlay', async () => {
      const store = await s.open();
      assert.deepEqual(await store.getOverlay(), { roles: [], defaultRoles: null, settingsRev: 0 });
      const t0 = Date.now();
      await ok(store, { writes: [{ k: 'role', name: 'zz-last', body: { grants: ['deals:read'] }, by: 'u-admin' }, { k: 'role', name: 'deal-desk', body: dealDesk, by: 'u-admin' }] });
      let overlay = await store.getOverlay();
      assert.deepEqual(overlay.roles.map((r) => r.name), ['deal-desk', 'zz-last'], 'sorted by name');
      const created = overlay.roles[0]!;
      assert.deepEqual(created.body, dealDesk);
      assert.equal(created.rev, 1);
      assert.equal(created.updated_by, 'u-admin');
      assert.ok(created.created_ms >= t0 && created.updated_ms === created.created_ms);

      const v = await store.version();
      // the same body with its keys in another order is the same role
      const reordered = JSON.parse(JSON.stringify({ grants: dealDesk.grants, audience: dealDesk.audience, description: dealDesk.description })) as CustomRoleBody;
      assert.equal(await ok(store, { writes: [{ k: 'role', name: 'deal-desk', body: reordered, by: 'u-other' }] }), v);
      assert.equal((await store.getOverlay()).roles[0]!.rev, 1);

      await sleep(5);
      await ok(store, { writes: [{ k: 'role', name: 'deal-desk', body: { ...dealDesk, login: false }, by: 'u-other' }] });
      overlay = await store.getOverlay();
      const edited = overlay.roles[0]!;
      assert.equal(edited.rev, 2);
      assert.equal(edited.body.login, false);
      assert.equal(edited.created_ms, created.created_ms);
      assert.ok(edited.updated_ms > created.updated_ms);
      assert.equal(edited.updated_by, 'u-other');

      const before = await store.version();
      assert.ok(await ok(store, { writes: [{ k: 'role_delete', name: 'deal-desk' }] }) > before);
      assert.deepEqual((await store.getOverlay()).roles.map((r) => r.name), ['zz-last']);
      const after = await store.version();
      assert.equal(await ok(store, { writes: [{ k: 'role_delete', name: 'deal-desk' }] }), after, 'deleting a missing role changes nothing');
      await ok(store, { expect: [{ k: 'role', name: 'deal-desk', rev: 0 }], writes: [{ k: 'role', name: 'deal-desk', body: dealDesk, by: 'u-admin' }] });
      assert.equal((await store.getOverlay()).roles[0]!.rev, 1, 'a re-created role starts again at rev 1');
    });

    test('default roles: set, unchanged, cleared; settingsRev counts changes', async () => {
      const store = await s.open();
      await ok(store, { expect: [{ k: 'settings', rev: 0 }], writes: [{ k: 'default_roles', value: { partner: ['partner-viewer'], internal: ['viewer'] } }] });
      let o = await store.getOverlay();
      assert.deepEqual(o.defaultRoles, { internal: ['viewer'], partner: ['partner-viewer'] });
      assert.equal(o.settingsRev, 1);
      await ok(store, { writes: [{ k: 'default_roles', value: { internal: ['viewer'], partner: ['partner-viewer'] } }] });
      assert.equal((await store.getOverlay()).settingsRev, 1, 'the same override is no change');
      await ok(store, { expect: [{ k: 'settings', rev: 1 }], writes: [{ k: 'default_roles', value: null }] });
      o = await store.getOverlay();
      assert.equal(o.defaultRoles, null);
      assert.equal(o.settingsRev, 2);
    });

    test('audit: newest first, limit, exclusive before cursor, values round-trip', async () => {
      const store = await s.open();
      const t0 = Date.now();
      await ok(store, { writes: [{ k: 'member', id: 'u-1', patch: {} }], audit: [audit('member.invite', 'member:u-1', { roles: ['viewer'], n: 1, ok: true })] });
      await ok(store, { audit: [audit('role.create', 'role:a'), audit('role.create', 'role:b')] });
      await ok(store, { audit: [{ actor: 'u-2', action: 'member.roles', target: 'member:u-1', before: { roles: [] }, after: { roles: ['x'] }, request_id: 'r-9' }] });
      const all = await store.listAudit({ limit: 10 });
      assert.deepEqual(all.map((e) => e.target), ['member:u-1', 'role:b', 'role:a', 'member:u-1']);
      assert.deepEqual(all[0], { ...all[0], actor: 'u-2', action: 'member.roles', before: { roles: [] }, after: { roles: ['x'] }, request_id: 'r-9' });
      assert.deepEqual(all[3]!.after, { roles: ['viewer'], n: 1, ok: true });
      assert.equal(all[3]!.before, null);
      assert.ok(all.every((e) => e.at_ms >= t0 && e.at_ms <= Date.now()));
      assert.equal(new Set(all.map((e) => e.id)).size, 4);

      assert.deepEqual((await store.listAudit({ limit: 2 })).map((e) => e.id), all.slice(0, 2).map((e) => e.id));
      assert.deepEqual((await store.listAudit({ limit: 2, before: all[1]!.id })).map((e) => e.id), all.slice(2, 4).map((e) => e.id));
      assert.deepEqual(await store.listAudit({ limit: 5, before: all[3]!.id }), []);
      assert.deepEqual(await store.listAudit({ limit: 0 }), []);
    });

    test('audit is bounded: the newest entries are kept, the oldest trimmed', async () => {
      const bound = 50;
      const store = await s.open({ auditMaxEntries: bound });
      const total = 260;
      for (let i = 0; i < total; i += 20) {
        await ok(store, { audit: Array.from({ length: 20 }, (_, j) => audit('role.update', `role:r${i + j}`)) });
      }
      const kept = await store.listAudit({ limit: 1000 });
      // Redis trims whole stream nodes (MAXLEN ~, 100 entries a node): at least the bound, at most one node more
      assert.ok(kept.length >= bound && kept.length <= bound + 100, `kept ${kept.length}`);
      assert.deepEqual(kept.slice(0, bound).map((e) => e.target), Array.from({ length: bound }, (_, i) => `role:r${total - 1 - i}`));
      assert.ok(!kept.some((e) => e.target === 'role:r0'));
    });

    test('idempotency: the first response is kept; a retry gets it back and writes nothing', async () => {
      const store = await s.open();
      const first: StoredResponse = { status: 201, body: '{"id":"u-1"}', fingerprint: 'sha256:aaa' };
      await ok(store, {
        writes: [{ k: 'member', id: 'u-1', patch: { status: 'pending', roles: ['viewer'] } }],
        audit: [audit('member.invite', 'member:u-1')],
        idempotency: { key: 'key-1', response: first, ttl_ms: 60000 },
      });
      assert.deepEqual(await store.getIdempotent('key-1'), first);
      const version = await store.version();
      const retry = await store.commit(commit({
        expect: [{ k: 'member', id: 'u-1', rev: 1 }],
        writes: [{ k: 'member', id: 'u-1', patch: { roles: ['admin'] } }, { k: 'role', name: 'r', body: {}, by: 'u-admin' }],
        audit: [audit('member.roles', 'member:u-1')],
        idempotency: { key: 'key-1', response: { status: 200, body: '{}', fingerprint: 'sha256:bbb' }, ttl_ms: 60000 },
      }));
      assert.deepEqual(retry, { ok: false, replay: first });
      assert.equal(await store.version(), version);
      assert.deepEqual((await store.getMember('u-1'))!.roles, ['viewer']);
      assert.deepEqual((await store.getOverlay()).roles, []);
      assert.equal((await store.listAudit({ limit: 10 })).length, 1);
      assert.equal(await store.getIdempotent('key-2'), null);

      await ok(store, { idempotency: { key: 'short', response: first, ttl_ms: 50 } });
      await sleep(150);
      assert.equal(await store.getIdempotent('short'), null, 'expired after its TTL');
      assert.ok((await store.commit(commit({ idempotency: { key: 'short', response: first, ttl_ms: 50 } }))).ok);
    });

    test('invite: set, renewed, cleared', async () => {
      const store = await s.open();
      await ok(store, { writes: [{ k: 'member', id: 'ana@acme.test', patch: { status: 'pending', roles: ['viewer'], email: 'ana@acme.test', invite: invite() } }] });
      assert.deepEqual((await store.getMember('ana@acme.test'))!.invite, invite());
      await ok(store, { writes: [{ k: 'member', id: 'ana@acme.test', patch: { invite: invite({ sends: 2, sent_ms: 1764115200000, by: 'u-admin' }) } }] });
      const renewed = (await store.getMember('ana@acme.test'))!;
      assert.deepEqual(renewed.invite, invite({ sends: 2, sent_ms: 1764115200000, by: 'u-admin' }));
      assert.equal(renewed.rev, 2);
      await ok(store, { writes: [{ k: 'member', id: 'ana@acme.test', patch: { status: 'active', invite: null } }] });
      const accepted = (await store.getMember('ana@acme.test'))!;
      assert.equal(accepted.invite, undefined);
      assert.equal(accepted.status, 'active');
      assert.equal(accepted.rev, 3);
      const v = await store.version();
      assert.equal(await ok(store, { writes: [{ k: 'member', id: 'ana@acme.test', patch: { invite: null } }] }), v, 'clearing no invite is no change');
    });

    test('listMembers by role and/or status, sorted by id; relations read back', async () => {
      const store = await s.open();
      await ok(store, {
        writes: [
          { k: 'member', id: 'u-c', patch: { roles: ['viewer'] } },
          { k: 'member', id: 'u-a', patch: { roles: ['viewer', 'admin'], status: 'pending' } },
          { k: 'member', id: 'u-b', patch: { roles: ['admin'] } },
          { k: 'relations', ref: 'deals/d1', patch: { assignees: ['u-a'], collaborators: ['u-b'], partner: 'p-1' } },
        ],
      });
      const ids = async (q?: { role?: string; status?: string }) => (await store.listMembers(q)).map((m) => m.id);
      assert.deepEqual(await ids(), ['u-a', 'u-b', 'u-c']);
      assert.deepEqual(await ids({ role: 'viewer' }), ['u-a', 'u-c']);
      assert.deepEqual(await ids({ status: 'active' }), ['u-b', 'u-c']);
      assert.deepEqual(await ids({ role: 'admin', status: 'active' }), ['u-b']);
      assert.deepEqual(await ids({ role: 'nobody' }), []);
      await ok(store, { writes: [{ k: 'member', id: 'u-c', patch: { roles: ['admin'], status: 'removed' } }] });
      assert.deepEqual(await ids({ role: 'viewer' }), ['u-a']);
      assert.deepEqual(await ids({ role: 'admin', status: 'removed' }), ['u-c']);
      assert.deepEqual((await store.listMembers({ role: 'admin' })).map((m) => m.rev), [1, 1, 2]);
      assert.deepEqual(await store.getRelations('deals/d1'), { assignees: ['u-a'], collaborators: ['u-b'], partner: 'p-1' });
      assert.equal(await store.getRelations('deals/none'), null);
    });
  });
}

const opened: AdminStore[] = [];
after(async () => { for (const s of opened) await s.close(); });

contract({
  name: 'memory',
  async open(opts = {}) { return new MemoryAdminStore(new MemoryAssignmentStore(), { auditMaxEntries: opts.auditMaxEntries ?? 10000 }); },
});

let redis: TestRedis;
let raw: Redis;
before(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
after(async () => {
  raw.disconnect();
  await redis.close();
});

contract({
  name: 'redis',
  async open(opts = {}) {
    await raw.flushall();
    const store = await RedisAdminStore.open(redisConfig(redis.url), { auditMaxEntries: opts.auditMaxEntries ?? 10000 });
    opened.push(store);
    return store;
  },
});

describe('RedisAdminStore: Redis only', () => {
  const k = redisKeys('rolegate:');
  let store: AdminStore;
  before(async () => {
    store = buildAdminStore(storeOnlyConfig(redisConfig(redis.url)), new MemoryAssignmentStore(), quietLogger);
    opened.push(store);
    // the connection is made in the background (a gateway starts while Redis is down): wait until it answers
    for (let i = 0; i < 200 && await store.version().then(() => false, () => true); i++) await sleep(10);
  });

  test('buildAdminStore picks the store the config names', async () => {
    assert.ok(store instanceof RedisAdminStore);
    const memory = new MemoryAssignmentStore();
    const config = { ...storeOnlyConfig(redisConfig(redis.url)), store: { cache: { max_entries: 10, ttl_ms: 1000 }, stale_if_error_ms: 0 } };
    assert.ok(buildAdminStore(config as never, memory, quietLogger) instanceof MemoryAdminStore);
  });

  test('a commit is one EVALSHA and writes only KeyModel keys (names checked in key-model.test)', async () => {
    await raw.flushall();
    await ok(store, { writes: [{ k: 'member', id: 'u-1', patch: { roles: ['viewer'] } }] });
    const mon = await raw.monitor();
    const fromClient: string[] = [];
    // commands the script runs are reported with source "lua"; only what the client sent counts here
    mon.on('monitor', (_t: string, args: string[], source: string) => { if (source !== 'lua') fromClient.push(String(args[0]).toLowerCase()); });
    await ok(store, {
      expect: [{ k: 'member', id: 'u-1', rev: 1 }],
      writes: [{ k: 'member', id: 'u-1', patch: { roles: ['admin'] } }, { k: 'role', name: 'deal-desk', body: dealDesk, by: 'u-admin' },
        { k: 'default_roles', value: { partner: ['viewer'] } }],
      audit: [audit('member.roles', 'member:u-1')],
      idempotency: { key: 'key-1', response: { status: 200, body: '{}', fingerprint: 'f' }, ttl_ms: 60000 },
    });
    await sleep(100);
    mon.disconnect();
    assert.deepEqual(fromClient, ['evalsha']);
    assert.deepEqual((await raw.keys('*')).sort(), [
      k.audit, k.customRoles, k.idempotency('key-1'), k.byRole('admin'), k.byStatus('active'), k.member('u-1'), k.members, k.settings, k.version,
    ].sort());
    assert.ok(await raw.pttl(k.idempotency('key-1')) > 59000);
  });

  test('a member written before revisions existed reads as rev 1, and an admin write takes it to 2', async () => {
    await raw.flushall();
    await raw.hset(k.member('u-old'), { status: 'active', roles: 'viewer', groups: '', created: '1', updated: '1' });
    await raw.sadd(k.members, 'u-old');
    assert.equal((await store.getMember('u-old'))!.rev, 1);
    assert.deepEqual(await store.commit(commit({ expect: [{ k: 'member', id: 'u-old', rev: 0 }] })), { ok: false, conflict: { k: 'member', id: 'u-old', rev: 0 } });
    await ok(store, { expect: [{ k: 'member', id: 'u-old', rev: 1 }], writes: [{ k: 'member', id: 'u-old', patch: { roles: ['admin'] } }] });
    assert.equal((await store.getMember('u-old'))!.rev, 2);
  });

  test('the CLI writer and import share the script: they bump rev and keep the admin bookkeeping', async () => {
    await raw.flushall();
    const writer = await AssignmentWriter.open(redisConfig(redis.url));
    try {
      await ok(store, { writes: [{ k: 'member', id: 'u-1', patch: { status: 'pending', roles: ['viewer'], represents: ['emea'], invite: invite() } }] });
      await writer.setMember('u-1', { groups: ['g1'] });
      await writer.importSeed({ members: { 'u-1': { status: 'pending', roles: ['viewer'], groups: ['g1'] } }, relations: {}, partners: {} });
      const m = (await store.getMember('u-1'))!;
      assert.equal(m.rev, 2, 'the import changed nothing the seed can express');
      assert.deepEqual(m.represents, ['emea']);
      assert.deepEqual(m.invite, invite());
      assert.deepEqual((await writer.listMembers()).map((x) => x.rev), [2]);
    } finally {
      await writer.close();
    }
  });

  test('reads and commits fail closed as store_unavailable when Redis is gone', async () => {
    const lost = await RedisAdminStore.open(redisConfig(redis.url), { auditMaxEntries: 100 });
    (lost as unknown as { client: Redis }).client.disconnect();
    const unavailable = (e: Error & { reason?: string }) => e.reason === 'store_unavailable';
    await assert.rejects(lost.getMember('u-1'), unavailable);
    await assert.rejects(lost.listAudit({ limit: 5 }), unavailable);
    await assert.rejects(lost.getOverlay(), unavailable);
    await assert.rejects(lost.commit(commit({ writes: [{ k: 'member', id: 'u-1', patch: {} }] })), unavailable);
    await lost.close();
  });

  describe('another instance watches the overlay', () => {
    const instances: AssignmentStore[] = [];
    after(async () => { for (const i of instances) await i.close(); });

    async function instance(maxEntries: number): Promise<{ store: AssignmentStore; calls: () => number }> {
      const s = buildAssignmentStore(storeOnlyConfig(redisConfig(redis.url), { max_entries: maxEntries }), recordingStoreHooks().hooks, quietLogger);
      instances.push(s);
      await untilHealthy(s);
      let calls = 0;
      s.watchPolicyOverlay!(() => { calls++; });
      return { store: s, calls: () => calls };
    }

    async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
        await sleep(10);
      }
    }

    for (const maxEntries of [1000, 0]) {
      test(`fires after a role or default-roles commit, not after a member commit (cache max_entries ${maxEntries})`, async () => {
        await raw.flushall();
        const b = await instance(maxEntries);
        await ok(store, { writes: [{ k: 'member', id: 'u-1', patch: { roles: ['viewer'] } }] });
        await ok(store, { writes: [{ k: 'role', name: 'deal-desk', body: dealDesk, by: 'u-admin' }] });
        await until('the watcher fired after the role commit', () => b.calls() === 1);
        assert.deepEqual((await b.store.getPolicyOverlay!()).roles.map((r) => r.name), ['deal-desk']);
        await ok(store, { writes: [{ k: 'default_roles', value: { internal: ['viewer'] } }] });
        await until('the watcher fired after the settings commit', () => b.calls() === 2);
        assert.deepEqual((await b.store.getPolicyOverlay!()).defaultRoles, { internal: ['viewer'] });
        await ok(store, { writes: [{ k: 'member', id: 'u-2', patch: {} }] });
        await sleep(100);
        assert.equal(b.calls(), 2, 'a member change is not an overlay change');
      });
    }

    test('fires again after Redis restarts and the feed resubscribes', async () => {
      const b = await instance(1000);
      await redis.stop();
      await until('the store noticed the outage', () => !b.store.healthy());
      await redis.start();
      await untilHealthy(b.store, 10000);
      await until('the watcher fired on resubscribe', () => b.calls() >= 1);
      // the admin store reconnects too: a commit after the restart reaches the watcher
      const before = b.calls();
      await until('the admin store reconnected', () => (store as unknown as { client: Redis }).client.status === 'ready');
      await ok(store, { writes: [{ k: 'role_delete', name: 'nothing' }, { k: 'role', name: 'after-restart', body: {}, by: 'u-admin' }] });
      await until('the watcher fired after the post-restart commit', () => b.calls() > before);
    });
  });
});
