/**
 * The admin API end to end on real Redis, across two gateway instances that
 * share it: instance A runs the admin listener, instance B is a plain gateway
 * with its own Redis connections and decision cache. Everything an admin does
 * through A must reach B's decisions through the store's invalidation (no
 * restart, within the revocation bound). The repo's portal policy; members
 * imported with the store's writer. (The full refusal table and validation:
 * test/admin/admin-api.test.ts, over the in-memory store.)
 *
 * Redis runs with an fsync-always AOF so it can be killed and restarted in the
 * last test and still hold what was committed: that is how "nothing
 * half-written" is checked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { AssignmentWriter, loadSeed, redisKeys } from '../../src/store/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ACME_TEAM, adminClient, PORTAL_POLICY, type AdminClient, type AdminResponse } from '../helpers/admin.js';
import { redisConfig, sleep, startRedis, type TestRedis } from '../helpers/redis.js';
import { startStubUpstream, type StubUpstream } from '../helpers/stub-upstream.js';

const PREFIX = 'rg-admin-e2e:';
const SEED = `
members:${ACME_TEAM}  u-cleo:   { status: active, roles: [viewer], org: acme, kind: internal, email: cleo@acme.test }
  u-ida:    { status: active, roles: [viewer], org: acme, kind: internal, email: ida@acme.test }
  u-ike:    { status: active, roles: [viewer], org: acme, kind: internal, email: ike@acme.test }
partners:
  p-42: { groups: [emea] }
`;

/** Poll bounds: every wait in this file is bounded. */
const STEP_MS = 5;
const MAX_WAIT_MS = 2000;
/** The revocation bound asserted for a remove through A to be denied on B (a bound, not a benchmark). */
const REVOCATION_BOUND_MS = 1000;

let redis: TestRedis;
let dir: string;
let upstream: StubUpstream;
let a: TestGateway;
let b: TestGateway;
let api: AdminClient;
let raw: Redis;

/** What the flow in the first test did, for the audit test to find in the stream. */
const flow: { action: string; actor: string; target: string; request_id: string }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rolegate-admin-redis-'));
  // later arguments win over the helper's `--appendonly no`: persisted, fsync per write
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  assert.notEqual(redis.port, 6379);
  const seedFile = join(dir, 'seed.yaml');
  writeFileSync(seedFile, SEED);
  const writer = await AssignmentWriter.open(redisConfig(redis.url, { prefix: PREFIX }));
  try { await writer.importSeed(loadSeed(seedFile)); } finally { await writer.close(); }

  upstream = await startStubUpstream();
  const store = { redis: { url: redis.url, prefix: PREFIX, command_timeout_ms: 300, connect_timeout_ms: 2000 }, cache: { max_entries: 1000, ttl_ms: 30000 } };
  [a, b] = await Promise.all([
    startTestGateway({ policy: PORTAL_POLICY, upstream, config: (c) => { c.store = store; c.admin = { host: '127.0.0.1', port: 0 }; } }),
    startTestGateway({ policy: PORTAL_POLICY, upstream, config: (c) => { c.store = store; } }),
  ]);
  assert.ok(a.gateway.adminUrl, 'instance A has the admin listener');
  assert.equal(b.gateway.adminUrl, undefined, 'instance B has none');
  api = adminClient(a.gateway.adminUrl, (sub, claims) => a.token(sub, { claims }));
  raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  raw.on('error', () => {});
  await raw.connect();
});

after(async () => {
  raw?.disconnect();
  await Promise.allSettled([a?.close(), b?.close()]);
  await upstream?.close();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Answer { status: number; reason: string | undefined }

/** One token per user for the whole file (5 min TTL, the suite takes seconds): polls measure the gateway, not RSA signing. */
const gatewayTokens = new Map<string, Promise<string>>();
const gatewayToken = (who: string): Promise<string> => {
  let t = gatewayTokens.get(who);
  // A and B share the per-process test keys, so A's minter serves both; the email claim is the one an IdP would put in
  if (!t) gatewayTokens.set(who, t = a.token(who, { claims: { email: who.includes('@') ? who : `${who}@acme.test` } }));
  return t;
};

/** B's (or A's) answer for `who` on `path`. */
async function atGateway(gw: TestGateway, who: string, path: string, method = 'GET'): Promise<Answer> {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${await gatewayToken(who)}` } });
  const body = await res.json().catch(() => ({})) as { reason?: string };
  return { status: res.status, reason: res.status === 200 ? undefined : body.reason };
}

/**
 * Polls the gateway (STEP_MS apart, at most MAX_WAIT_MS) until it answers `want`;
 * meanwhile only `from` may come back (a decision must never flap elsewhere).
 * Returns the elapsed time from the call and the number of requests it took.
 */
async function until(gw: TestGateway, who: string, path: string, method: string, want: Answer, from?: Answer): Promise<{ ms: number; polls: number }> {
  const t0 = performance.now();
  for (let polls = 1; ; polls++) {
    const got = await atGateway(gw, who, path, method);
    if (got.status === want.status && (want.reason === undefined || got.reason === want.reason)) return { ms: performance.now() - t0, polls };
    if (from) assert.deepEqual(got, from, `while waiting for ${JSON.stringify(want)} on ${method} ${path} for ${who}`);
    if (performance.now() - t0 > MAX_WAIT_MS) assert.fail(`${who} ${method} ${path}: still ${JSON.stringify(got)} after ${MAX_WAIT_MS} ms, expected ${JSON.stringify(want)}`);
    await sleep(STEP_MS);
  }
}

const ok = (res: AdminResponse, status = 200) => assert.equal(res.status, status, JSON.stringify(res.body));
const requestId = (res: AdminResponse) => String(res.headers.get('x-request-id'));

/** Every member's id, status, roles and rev, through the API (what "nothing changed" compares). */
async function membersSnapshot(): Promise<{ id: string; status: string; roles: string[]; rev: number }[]> {
  const res = await api.as('u-olivia').get('/v1/members?limit=500');
  ok(res);
  return (res.body.items as { id: string; status: string; roles: string[]; rev: number }[]).map(({ id, status, roles, rev }) => ({ id, status, roles, rev }));
}

/** The newest audit entry's id (undefined when empty). */
async function auditHead(): Promise<string | undefined> {
  const res = await api.as('u-olivia').get('/v1/audit?limit=1');
  ok(res);
  return (res.body.items as { id: string }[])[0]?.id;
}

interface AuditItem { id: string; at_ms: number; actor: string; action: string; target: string; before: unknown; after: unknown; request_id: string }
async function auditItems(limit = 500): Promise<AuditItem[]> {
  const res = await api.as('u-olivia').get(`/v1/audit?limit=${limit}`);
  ok(res);
  return res.body.items as AuditItem[];
}

describe('admin API on Redis, two gateway instances', () => {
  test('PartnerOS flow: invite -> member_pending on B -> accept -> allowed on B -> bulk role change enforced on B -> remove -> member_removed on B within the bound', async (t) => {
    const ana = 'ana@acme.test';
    const record = (res: AdminResponse, action: string, actor: string, target: string) => flow.push({ action, actor, target: `member:${target}`, request_id: requestId(res) });

    const inv = await api.as('u-adam').post('/v1/members', { email: 'Ana@Acme.test', roles: ['viewer'], org: 'acme', kind: 'internal' });
    ok(inv, 201);
    assert.equal(inv.body.id, ana);
    assert.equal(inv.body.status, 'pending');
    record(inv, 'member.invite', 'u-adam', ana);
    await until(b, ana, '/api/deals', 'GET', { status: 403, reason: 'member_pending' });

    // the accept is the invitee's own call; a token with another email is refused
    const wrong = await api.as(ana, { email: 'mallory@evil.test' }).post('/v1/me/accept');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.reason, 'invite_email_mismatch');
    const accepted = await api.as(ana, { email: 'ANA@acme.test' }).post('/v1/me/accept');
    ok(accepted);
    assert.equal(accepted.body.status, 'active');
    record(accepted, 'member.accept', ana, ana);
    await until(b, ana, '/api/deals', 'GET', { status: 200, reason: undefined }, { status: 403, reason: 'member_pending' });
    // a viewer reads but does not create deals
    assert.deepEqual(await atGateway(b, ana, '/api/deals', 'POST'), { status: 403, reason: 'not_granted' });

    const bulk = await api.as('u-adam').post('/v1/members/bulk', { action: 'set_roles', ids: [ana, 'u-cleo'], roles: ['member'] });
    ok(bulk);
    assert.equal(bulk.body.changed, 2);
    record(bulk, 'member.roles', 'u-adam', ana);
    await until(b, ana, '/api/deals', 'POST', { status: 200, reason: undefined }, { status: 403, reason: 'not_granted' });
    assert.equal((await atGateway(b, 'u-cleo', '/api/deals', 'POST')).status, 200);
    // u-cleo goes back to viewer for the custom-role test (an owner may set it)
    ok(await api.as('u-olivia').patch('/v1/members/u-cleo', { roles: ['viewer'] }));

    // B has ana cached as allowed right now: the remove must get through its cache
    assert.equal((await atGateway(b, ana, '/api/deals')).status, 200);
    const removed = await api.as('u-adam').del(`/v1/members/${ana}`);
    const t0 = performance.now();
    ok(removed);
    assert.equal(removed.body.status, 'removed');
    record(removed, 'member.remove', 'u-adam', ana);
    const { polls } = await until(b, ana, '/api/deals', 'GET', { status: 403, reason: 'member_removed' }, { status: 200, reason: undefined });
    const ms = performance.now() - t0;
    t.diagnostic(`revocation: DELETE response on A -> first 403 member_removed on B in ${ms.toFixed(1)} ms (${polls} request(s) to B, ${STEP_MS} ms apart)`);
    assert.ok(ms < REVOCATION_BOUND_MS, `revocation took ${ms.toFixed(1)} ms`);
    assert.deepEqual(await atGateway(a, ana, '/api/deals'), { status: 403, reason: 'member_removed' });
  });

  test('clone a built-in on A, edit it with If-Match, assign it: B enforces each step without a restart; deleting it leaves no_role on B', async () => {
    const clone = await api.as('u-adam').post('/v1/roles/manager/clone', { name: 'deal-lead' });
    ok(clone, 201);
    assert.equal(clone.body.source, 'custom');
    assert.equal(clone.headers.get('etag'), '"1"');
    ok(await api.as('u-adam').patch('/v1/members/u-cleo', { roles: ['deal-lead'] }));
    // manager's rights, flattened: reads, but no create
    await until(b, 'u-cleo', '/api/deals', 'GET', { status: 200, reason: undefined });
    assert.deepEqual(await atGateway(b, 'u-cleo', '/api/deals', 'POST'), { status: 403, reason: 'not_granted' });

    const edit = await api.as('u-adam').put('/v1/roles/deal-lead', { description: 'deals, all of them', grants: ['deals:*', 'partners:list,read'] }, { 'if-match': '"1"' });
    ok(edit);
    assert.equal(edit.headers.get('etag'), '"2"');
    await until(b, 'u-cleo', '/api/deals', 'POST', { status: 200, reason: undefined }, { status: 403, reason: 'not_granted' });

    const del = await api.as('u-adam').del('/v1/roles/deal-lead', undefined, { 'if-match': '"2"' });
    ok(del);
    assert.deepEqual(del.body.members, ['u-cleo']);
    await until(b, 'u-cleo', '/api/deals', 'GET', { status: 403, reason: 'no_role' }, { status: 200, reason: undefined });
    assert.equal((await api.as('u-adam').get('/v1/roles/deal-lead')).status, 404);
    assert.deepEqual((await api.as('u-adam').get('/v1/members/u-cleo')).body.roles, []);
  });

  describe('escalation attempts are refused on the Redis path, and change nothing', () => {
    const ROWS: [name: string, who: string, method: 'post' | 'patch' | 'put', path: string, body: unknown, reason: string][] = [
      ['admin granting owner', 'u-adam', 'patch', '/v1/members/u-vera', { roles: ['owner'] }, 'role_exceeds_caller'],
      ['admin changing an owner', 'u-adam', 'patch', '/v1/members/u-olivia', { roles: ['viewer'] }, 'member_exceeds_caller'],
      ['an owner changing its own roles', 'u-olivia', 'patch', '/v1/members/u-olivia', { roles: ['owner', 'admin'] }, 'self_change'],
      ['a viewer inviting', 'u-vera', 'post', '/v1/members', { email: 'eve@acme.test', roles: ['viewer'] }, 'not_granted'],
      ['an owner editing a YAML role', 'u-olivia', 'put', '/v1/roles/viewer', { grants: ['*:*'] }, 'builtin_role'],
    ];
    for (const [name, who, method, path, body, reason] of ROWS) {
      test(`${name}: 403 ${reason}`, async () => {
        const [members, head] = [await membersSnapshot(), await auditHead()];
        const res = await api.as(who)[method](path, body, method === 'put' ? { 'if-match': '"1"' } : {});
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.reason, reason);
        assert.equal(typeof res.body.message, 'string');
        assert.deepEqual(await membersSnapshot(), members);
        assert.equal(await auditHead(), head);
      });
    }
  });

  test('two concurrent PUTs of one custom role with the same If-Match: exactly one 200 and one 412', async () => {
    ok(await api.as('u-olivia').post('/v1/roles', { name: 'contested', grants: ['deals:read'] }), 201);
    const [x, y] = await Promise.all([
      api.as('u-olivia').put('/v1/roles/contested', { grants: ['deals:read,list'] }, { 'if-match': '"1"' }),
      api.as('u-oscar').put('/v1/roles/contested', { grants: ['deals:read,create'] }, { 'if-match': '"1"' }),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 412], JSON.stringify([x.body, y.body]));
    const loser = x.status === 412 ? x : y;
    assert.equal(loser.body.reason, 'version_mismatch');
    const role = await api.as('u-olivia').get('/v1/roles/contested');
    assert.equal(role.headers.get('etag'), '"2"');
    // the stored body is the winner's, and only the winner was audited
    const winner = x.status === 200 ? x : y;
    assert.deepEqual((role.body.body as { grants: string[] }).grants, x.status === 200 ? ['deals:read,list'] : ['deals:read,create']);
    const updates = (await auditItems(50)).filter((e) => e.action === 'role.update' && e.target === 'role:contested');
    assert.deepEqual(updates.map((e) => e.request_id), [requestId(winner)]);
  });

  describe('a bulk change with one bad member changes nothing', () => {
    const ROWS: [name: string, ids: string[], status: number, reason: string | undefined, field: string][] = [
      ['an unknown member id', ['u-vera', 'u-max', 'u-nobody'], 404, undefined, '/ids/2'],
      ['a member the caller may not change (an owner)', ['u-vera', 'u-olivia', 'u-max'], 403, 'member_exceeds_caller', '/ids/1'],
    ];
    for (const [name, ids, status, reason, field] of ROWS) {
      test(`${name}: ${status}, every member's roles and rev unchanged, no audit entry`, async () => {
        const [members, head] = [await membersSnapshot(), await auditHead()];
        const res = await api.as('u-adam').post('/v1/members/bulk', { action: 'set_roles', ids, roles: ['manager'] });
        assert.equal(res.status, status, JSON.stringify(res.body));
        if (reason) assert.equal(res.body.reason, reason);
        assert.equal(res.body.field, field);
        assert.deepEqual(await membersSnapshot(), members);
        assert.equal(await auditHead(), head);
        // and B still decides on the old roles (u-vera a viewer: no deal creation)
        assert.deepEqual(await atGateway(b, 'u-vera', '/api/deals', 'POST'), { status: 403, reason: 'not_granted' });
      });
    }
  });

  describe('Idempotency-Key replay on Redis', () => {
    const ROWS: [name: string, path: string, body: Record<string, unknown>, status: number, entries: number][] = [
      ['invite', '/v1/members', { email: 'zoe@acme.test', roles: ['viewer'] }, 201, 1],
      ['bulk add_roles (one entry per member)', '/v1/members/bulk', { action: 'add_roles', ids: ['u-ida', 'u-ike'], roles: ['member'] }, 200, 2],
    ];
    for (const [name, path, body, status, entries] of ROWS) {
      test(`${name}: the retry gets the same response with Idempotent-Replay, and the change is audited once`, async () => {
        const key = { 'idempotency-key': `idem-${name.split(' ')[0]}` };
        const first = await api.as('u-adam').post(path, body, key);
        assert.equal(first.status, status, JSON.stringify(first.body));
        assert.equal(first.headers.get('idempotent-replay'), null);
        const members = await membersSnapshot();
        const head = await auditHead();
        const retry = await api.as('u-adam').post(path, body, key);
        assert.equal(retry.status, status);
        assert.equal(retry.headers.get('idempotent-replay'), 'true');
        assert.deepEqual(retry.body, first.body);
        assert.deepEqual(await membersSnapshot(), members, 'no second change');
        assert.equal(await auditHead(), head, 'no second audit entry');
        const mine = (await auditItems(50)).filter((e) => e.request_id === requestId(first));
        assert.equal(mine.length, entries, JSON.stringify(mine));
        const other = await api.as('u-adam').post(path, { ...body, roles: ['manager'] }, key);
        assert.equal(other.status, 422);
        assert.equal(other.body.reason, 'idempotency_key_reused');
      });
    }
  });

  test('audit: the flow is in the Redis stream with actor, action, target and request id, newest first', async () => {
    assert.equal(flow.length, 4, 'the PartnerOS flow test ran first and recorded its calls');
    const items = await auditItems();
    for (const want of flow) {
      const got = items.find((e) => e.request_id === want.request_id && e.target === want.target);
      assert.ok(got, `no audit entry for ${JSON.stringify(want)}`);
      assert.equal(got.actor, want.actor);
      assert.equal(got.action, want.action);
    }
    assert.ok(items.every((e, i) => i === 0 || e.at_ms <= items[i - 1]!.at_ms), 'newest first');
    // the API reads the stream under the prefix: its newest id is the stream's last entry
    const stream = redisKeys(PREFIX).audit;
    const [last] = await raw.xrevrange(stream, '+', '-', 'COUNT', 1);
    assert.ok(last, `no stream at ${stream}`);
    assert.equal(items[0]!.id, last[0]);
    assert.equal(await raw.xlen(stream), items.length);
  });

  test('Redis stopped: admin writes answer 503 store_unavailable; after a restart nothing was written', async () => {
    const [members, head] = [await membersSnapshot(), await auditHead()];
    const roles = (await api.as('u-olivia').get('/v1/roles')).body;
    await redis.stop();
    try {
      const WRITES: [name: string, send: () => Promise<AdminResponse>][] = [
        ['change one member\'s roles', () => api.as('u-olivia').patch('/v1/members/u-vera', { roles: ['member'] })],
        ['bulk remove', () => api.as('u-olivia').post('/v1/members/bulk', { action: 'remove', ids: ['u-vera', 'u-max'] })],
        ['invite', () => api.as('u-olivia').post('/v1/members', { email: 'late@acme.test', roles: ['viewer'] })],
        ['create a role', () => api.as('u-olivia').post('/v1/roles', { name: 'offline', grants: ['deals:read'] })],
        ['remove a member', () => api.as('u-olivia').del('/v1/members/u-max')],
      ];
      for (const [name, send] of WRITES) {
        const t0 = performance.now();
        const res = await send();
        assert.equal(res.status, 503, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.reason, 'store_unavailable', name);
        assert.ok(performance.now() - t0 < 3000, `${name} answered in ${(performance.now() - t0).toFixed(0)} ms`);
      }
    } finally {
      await redis.start();
    }
    // A's admin store reconnects on its own (retry capped at 1 s)
    const deadline = Date.now() + 5000;
    while ((await api.as('u-olivia').get('/v1/members/u-vera')).status !== 200) {
      assert.ok(Date.now() < deadline, 'the admin API did not recover after Redis came back');
      await sleep(50);
    }
    assert.deepEqual(await membersSnapshot(), members);
    assert.equal(await auditHead(), head);
    assert.deepEqual((await api.as('u-olivia').get('/v1/roles')).body, roles);
    assert.equal((await api.as('u-olivia').get('/v1/members/late@acme.test')).status, 404);
    await until(b, 'u-vera', '/api/deals', 'GET', { status: 200, reason: undefined });
  });
});
