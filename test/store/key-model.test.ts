import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { AssignmentWriter, InvalidAssignmentError, RedisAdminStore, RedisAssignmentStore, redisKeys } from '../../src/store/index.js';
import { APPLY_SCRIPT } from '../../src/store/redis-script.js';
import { recordingStoreHooks, redisConfig, startRedis, type TestRedis } from '../helpers/redis.js';

describe('Redis key model and atomic writes', () => {
  let redis: TestRedis;
  let raw: Redis;
  let w: AssignmentWriter;
  const k = redisKeys('rolegate:');

  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    w = await AssignmentWriter.open(redisConfig(redis.url));
  });
  after(async () => {
    await w.close();
    raw.disconnect();
    await redis.close();
  });
  beforeEach(async () => { await raw.flushall(); });

  test('every key sits under the {prefix} hash tag and uses the documented names', async () => {
    await w.setMember('u-mia', { roles: ['manager', 'viewer'], groups: ['emea'], org: 'acme', kind: 'internal', email: 'mia@acme.test' });
    await w.setRelations('deals/d1', { assignees: ['u-mia'], collaborators: ['u-pat'], partner: 'p-42' });
    await w.setPartnerGroups('p-42', ['emea']);
    const keys = (await raw.keys('*')).sort();
    assert.deepEqual(keys, [
      k.byRole('manager'), k.byRole('viewer'), k.byStatus('active'), k.member('u-mia'), k.members,
      k.partnerGroups('p-42'), k.partners,
      k.relation('deals/d1', 'assignees'), k.relation('deals/d1', 'collaborators'), k.relation('deals/d1', 'partner'), k.relations,
      k.userRecords('u-mia', 'assigned', 'deals'), k.userRecords('u-pat', 'collaborates', 'deals'), k.version,
    ].sort());
    assert.ok(keys.every((key) => key.startsWith('{rolegate:}')));
    assert.equal(k.member('u-mia'), '{rolegate:}member:u-mia');
    assert.equal(k.relation('deals/d1', 'assignees'), '{rolegate:}rel:deals/d1:assignees');
    assert.equal(k.userRecords('u-mia', 'assigned', 'deals'), '{rolegate:}user:u-mia:assigned:deals');
    assert.equal(k.channel, 'rolegate:invalidate');
    assert.equal(k.customRoles, '{rolegate:}roles');
    assert.equal(k.settings, '{rolegate:}settings');
    assert.equal(k.audit, '{rolegate:}audit');
    assert.equal(k.idempotency('key-1'), '{rolegate:}idem:key-1');
  });

  test('member hash holds status, roles, groups, org, kind, email and timestamps', async () => {
    const before = Date.now();
    await w.setMember('u-mia', { status: 'pending', roles: ['manager'], groups: ['emea', 'amer'], org: 'acme', kind: 'internal', email: 'mia@acme.test' });
    const h = await raw.hgetall(k.member('u-mia'));
    assert.equal(h.status, 'pending');
    assert.equal(h.roles, 'manager');
    assert.equal(h.groups, 'emea,amer');
    assert.equal(h.org, 'acme');
    assert.equal(h.kind, 'internal');
    assert.equal(h.email, 'mia@acme.test');
    assert.ok(Number(h.created) >= before && Number(h.updated) === Number(h.created));
    assert.deepEqual(Object.keys(h).sort(), ['created', 'email', 'groups', 'kind', 'org', 'represents', 'rev', 'roles', 'status', 'updated']);
    assert.equal(h.rev, '1');
  });

  test('admin layout: invite fields, roles hash, settings hash, audit stream, idempotency string', async () => {
    const admin = await RedisAdminStore.open(redisConfig(redis.url), { auditMaxEntries: 100 });
    try {
      const result = await admin.commit({
        expect: [],
        writes: [
          { k: 'member', id: 'u-ivy', patch: { status: 'pending', roles: ['viewer'], represents: ['emea', 'amer'], invite: { expires_ms: 1764633600000, sent_ms: 1764028800000, by: 'u-olivia', sends: 1 } } },
          { k: 'role', name: 'deal-desk', body: { grants: ['deals:read'], description: 'Deal desk' }, by: 'u-olivia' },
          { k: 'default_roles', value: { partner: ['viewer'] } },
        ],
        audit: [{ actor: 'u-olivia', action: 'member.invite', target: 'member:u-ivy', before: null, after: { roles: ['viewer'] }, request_id: 'r-1' }],
        idempotency: { key: 'k1', response: { status: 201, body: '{}', fingerprint: 'f' }, ttl_ms: 1000 },
      });
      assert.ok(result.ok);
      const h = await raw.hgetall(k.member('u-ivy'));
      assert.deepEqual([h.represents, h.inv_exp, h.inv_sent, h.inv_by, h.inv_sends, h.rev], ['emea,amer', '1764633600000', '1764028800000', 'u-olivia', '1', '1']);
      const role = JSON.parse((await raw.hget(k.customRoles, 'deal-desk'))!);
      assert.deepEqual(Object.keys(role), ['rev', 'created_ms', 'updated_ms', 'updated_by', 'body']);
      assert.deepEqual(role.body, { description: 'Deal desk', grants: ['deals:read'] });
      assert.deepEqual(await raw.hgetall(k.settings), { default_roles: '{"partner":["viewer"]}', rev: '1' });
      const [entry] = await raw.xrange(k.audit, '-', '+');
      assert.deepEqual(entry![1].filter((_, i) => i % 2 === 0), ['at', 'actor', 'action', 'target', 'before', 'after', 'request_id']);
      assert.deepEqual(JSON.parse((await raw.get(k.idempotency('k1')))!), { status: 201, body: '{}', fingerprint: 'f' });
      const pttl = await raw.pttl(k.idempotency('k1'));
      assert.ok(pttl > 0 && pttl <= 1000);
    } finally {
      await admin.close();
    }
  });

  test('partial update keeps other fields; "" clears org; indexes follow role and status changes', async () => {
    await w.setMember('u-1', { roles: ['viewer', 'member'], org: 'acme' });
    const created = Number(await raw.hget(k.member('u-1'), 'created'));
    await new Promise((r) => setTimeout(r, 5));
    const r = await w.setMember('u-1', { roles: ['member', 'admin'], org: '', status: 'pending' });
    assert.equal(r.outcome, 'changed');
    const h = await raw.hgetall(k.member('u-1'));
    assert.equal(h.roles, 'member,admin');
    assert.equal(h.org, undefined);
    assert.equal(Number(h.created), created);
    assert.ok(Number(h.updated) > created);
    assert.deepEqual(await raw.smembers(k.byRole('viewer')), []);
    assert.deepEqual(await raw.smembers(k.byRole('admin')), ['u-1']);
    assert.deepEqual(await raw.smembers(k.byStatus('active')), []);
    assert.deepEqual(await raw.smembers(k.byStatus('pending')), ['u-1']);
    const listed = await w.listMembers({ role: 'admin', status: 'pending' });
    assert.deepEqual(listed.map((m) => m.id), ['u-1']);
    assert.deepEqual(await w.listMembers({ role: 'viewer' }), []);
  });

  test('version bumps once per changing write and not at all for a no-op', async () => {
    const r1 = await w.setMember('u-1', { roles: ['viewer'] });
    const r2 = await w.setMember('u-1', { roles: ['viewer'] });
    const r3 = await w.setMember('u-1', { roles: ['viewer', 'member'] });
    assert.deepEqual([r1, r2, r3], [{ outcome: 'added', version: 1 }, { outcome: 'unchanged', version: 1 }, { outcome: 'changed', version: 2 }]);
    assert.equal(await raw.get(k.version), '2');
  });

  test('relations are written in both directions and moved when lists change', async () => {
    await w.setRelations('deals/d1', { assignees: ['u-mia', 'u-adam'], collaborators: ['u-pat'], partner: 'p-42' });
    await w.setRelations('deals/d2', { assignees: ['u-mia'] });
    assert.deepEqual((await raw.smembers(k.relation('deals/d1', 'assignees'))).sort(), ['u-adam', 'u-mia']);
    assert.deepEqual((await raw.smembers(k.userRecords('u-mia', 'assigned', 'deals'))).sort(), ['d1', 'd2']);
    assert.deepEqual(await raw.smembers(k.userRecords('u-pat', 'collaborates', 'deals')), ['d1']);
    const store = new RedisAssignmentStore(raw, k, recordingStoreHooks().hooks);
    assert.deepEqual(await store.visibleRecords('u-mia', 'deals'), ['d1', 'd2']);
    assert.deepEqual(await store.visibleRecords('u-pat', 'deals'), ['d1']);

    await w.setRelations('deals/d1', { assignees: ['u-adam'], collaborators: [] });
    assert.deepEqual(await raw.smembers(k.userRecords('u-mia', 'assigned', 'deals')), ['d2']);
    assert.equal(await raw.exists(k.userRecords('u-pat', 'collaborates', 'deals')), 0);
    assert.deepEqual(await store.getRelations('deals/d1'), { assignees: ['u-adam'], collaborators: [], partner: 'p-42' });
    await w.setRelations('deals/d1', { partner: '' });
    assert.deepEqual(await store.getRelations('deals/d1'), { assignees: ['u-adam'], collaborators: [], partner: undefined });
    assert.equal(await store.getRelations('deals/none'), null);
  });

  test('partner groups; the writer leaves the admin keys (roles, settings, audit) alone', async () => {
    await w.setPartnerGroups('p-42', ['emea', 'amer']);
    const store = new RedisAssignmentStore(raw, k, recordingStoreHooks().hooks);
    assert.deepEqual(await store.getPartnerGroups('p-42'), ['amer', 'emea']);
    assert.equal(await store.getPartnerGroups('p-0'), null);
    assert.equal(await raw.exists(k.customRoles, k.settings, k.audit), 0);
  });

  test('a write is one script call that also publishes the invalidation', async () => {
    const mon = await raw.monitor();
    const seen: string[] = [];
    mon.on('monitor', (_t: string, args: string[]) => { seen.push(String(args[0]).toLowerCase()); });
    const sub = raw.duplicate();
    const messages: string[] = [];
    await sub.subscribe(k.channel);
    sub.on('message', (_c: string, m: string) => messages.push(m));
    await w.setMember('u-9', { roles: ['viewer'] });
    await new Promise((r) => setTimeout(r, 100));
    mon.disconnect();
    sub.disconnect();
    const client = seen.filter((c) => c === 'evalsha' || c === 'eval' || c === 'hset' || c === 'publish');
    assert.ok(client[0] === 'evalsha' || client[0] === 'eval', `first command ${client[0]}`);
    assert.equal(messages.length, 1);
    const msg = JSON.parse(messages[0]!);
    assert.deepEqual(msg.keys, ['member:u-9']);
    assert.equal(msg.v, 1);
    assert.ok(Math.abs(msg.t - Date.now()) < 5000);
  });

  test('a batch with one bad op writes nothing (validated before any write)', async () => {
    const ops = [{ k: 'member', id: 'u-good', status: 'active' }, { k: 'member', id: 'u-bad', status: 'bogus' }];
    await assert.rejects(raw.eval(APPLY_SCRIPT, 1, k.version, k.base, k.channel, String(Date.now()), JSON.stringify(ops)), /bad status/);
    assert.equal(await raw.exists(k.member('u-good')), 0);
    assert.equal(await raw.get(k.version), null);
  });

  test('ids and values are validated before Redis is touched', async () => {
    await assert.rejects(w.setMember('bad id', {}), InvalidAssignmentError);
    await assert.rejects(w.setMember('u-1', { status: 'gone' as never }), /status must be one of/);
    await assert.rejects(w.setMember('u-1', { roles: ['a,b'] }), /not a valid id/);
    await assert.rejects(w.setMember('u-1', { kind: 'robot' as never }), /kind must be/);
    await assert.rejects(w.setMember('u-1', { email: 'nope' }), /not an address/);
    await assert.rejects(w.setRelations('deals', {}), /RESOURCE\/ID/);
    await assert.rejects(w.setRelations('deals/d1', { assignees: ['x', 'x'] }), /duplicates/);
    assert.equal(await raw.dbsize(), 0);
  });

  test('removing an unknown member is an error and writes nothing; removing twice is a no-op', async () => {
    await assert.rejects(w.removeMember('u-ghost'), /does not exist/);
    assert.equal(await raw.dbsize(), 0);
    await w.setMember('u-1', { roles: ['viewer'] });
    assert.equal((await w.removeMember('u-1')).outcome, 'changed');
    assert.equal((await w.removeMember('u-1')).outcome, 'unchanged');
    const m = await w.getMember('u-1');
    assert.equal(m?.status, 'removed');
    assert.deepEqual(m?.roles, ['viewer']);
  });

  test('a corrupt member hash fails closed as store_unavailable', async () => {
    await raw.hset(k.member('u-x'), { status: 'superuser', roles: 'owner' });
    const store = new RedisAssignmentStore(raw, k, recordingStoreHooks().hooks);
    await assert.rejects(store.getMember('u-x'), (e: Error & { reason?: string }) => e.reason === 'store_unavailable');
  });
});
