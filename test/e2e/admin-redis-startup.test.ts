/**
 * A gateway with the admin listener starts while Redis is down (an SRE restarts
 * instances in any order): it listens, reports not ready, fails closed (503 at
 * the admin API, never an allow), and becomes ready with its custom roles once
 * Redis answers, without a restart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AssignmentWriter, RedisAdminStore } from '../../src/store/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { redisConfig, sleep, startRedis, type TestRedis } from '../helpers/redis.js';

const PORTAL = readFileSync(fileURLToPath(new URL('../../../policies/portal.yaml', import.meta.url)), 'utf8');
const PREFIX = 'rg-startup:';

let redis: TestRedis;
let gw: TestGateway;

before(async () => {
  // persisted (fsync per write), so what was written before the stop is there after the restart
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  // a custom role and a member holding it, written while Redis is up
  const store = await RedisAdminStore.open(redisConfig(redis.url, { prefix: PREFIX }), { auditMaxEntries: 100 });
  try {
    const r = await store.commit({
      expect: [],
      writes: [{ k: 'role', name: 'deal-reader', body: { grants: ['deals:list,read'] }, by: 'test' }, { k: 'member', id: 'u-dee', patch: { roles: ['deal-reader'], org: 'acme', kind: 'internal', email: 'dee@acme.test' } }],
      audit: [],
    });
    assert.equal(r.ok, true);
  } finally { await store.close(); }
  await redis.stop();
  gw = await startTestGateway({
    policy: PORTAL,
    config: (c) => {
      c.store = { redis: { url: redis.url, prefix: PREFIX, command_timeout_ms: 300, connect_timeout_ms: 500 }, cache: { max_entries: 1000, ttl_ms: 30000 } };
      c.admin = { host: '127.0.0.1', port: 0 };
    },
  });
});
after(async () => { await gw?.close(); await redis?.close(); });

async function readyz(): Promise<{ status: number; checks: Record<string, boolean> }> {
  const res = await fetch(`${gw.opsUrl}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
}

test('down: listening, not ready, and every answer fails closed', async () => {
  const r = await readyz();
  assert.equal(r.status, 503);
  assert.equal(r.checks.store, false);
  assert.equal(r.checks.custom_roles, false);
  const token = await gw.token('u-dee', { claims: { email: 'dee@acme.test' } });
  const admin = await fetch(`${gw.gateway.adminUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(admin.status, 503);
  assert.equal(((await admin.json()) as { reason: string }).reason, 'store_unavailable');
  const atGateway = await fetch(`${gw.url}/api/deals`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(atGateway.status, 503);
});

test('Redis back: ready with the custom role compiled in, and the member holding it is allowed', async () => {
  await redis.start();
  let r = await readyz();
  for (let i = 0; i < 200 && r.status !== 200; i++) { await sleep(25); r = await readyz(); }
  assert.equal(r.status, 200, JSON.stringify(r.checks));
  assert.equal(r.checks.custom_roles, true);
  assert.ok(gw.gateway.policy().roles.has('deal-reader'));
  const token = await gw.token('u-dee', { claims: { email: 'dee@acme.test' } });
  assert.equal((await fetch(`${gw.url}/api/deals`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const me = await fetch(`${gw.gateway.adminUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  // a writer that connects now sees the same store: nothing was lost while the gateway waited
  const writer = await AssignmentWriter.open(redisConfig(redis.url, { prefix: PREFIX }));
  try { assert.deepEqual((await writer.getMember('u-dee'))?.roles, ['deal-reader']); } finally { await writer.close(); }
});
