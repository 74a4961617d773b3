/** The analysis commands on a config with store.redis: members, relations and partners read from Redis. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, freePort, type TestRedis } from '../helpers/redis.js';
import { CONFIG, POLICY, SEED, json, rolegate, workspace, type Workspace } from './workspace.js';

let redis: TestRedis;
let ws: Workspace;

before(async () => {
  redis = await startRedis();
  const redisConfig = CONFIG.replace('store: { seed: members.yaml }', `store: { redis: { url: "${redis.url}", prefix: "t:", connect_timeout_ms: 1000 } }`);
  ws = workspace({ 'policy.yaml': POLICY, 'members.yaml': SEED, 'gateway.yaml': redisConfig });
  const imported = rolegate(['import', '--config', ws.config, 'members.yaml'], { cwd: ws.dir });
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => { ws?.close(); await redis?.close(); });

test('who-can, access and explain read the Redis store', () => {
  const who = json(rolegate(['who-can', '--config', ws.config, 'deals:delete', '--record', 'deals/d1', '--json']));
  assert.match(who.store, /^redis/);
  assert.deepEqual(who.members.map((m: { id: string; access: string }) => [m.id, m.access]), [['u-mia', 'allowed'], ['u-olivia', 'allowed']]);
  const acc = json(rolegate(['access', '--config', ws.config, 'u-al', '--json']));
  assert.equal(acc.permissions.find((p: { resource: string; action: string }) => p.resource === 'payouts' && p.action === 'list').reason, 'excluded_by_tag');
  const ex = json(rolegate(['explain', '--config', ws.config, '--as', 'u-mia', '--json', 'DELETE', '/api/deals/d2']));
  assert.equal(ex.reason, 'condition_failed');
  assert.deepEqual(ex.target.record.assignees, ['u-olivia']);
  const d = json(rolegate(['diff', 'policy.yaml', 'policy.yaml', '--config', ws.config, '--json'], { cwd: ws.dir }));
  assert.deepEqual(d.members, []);
});

test('an unreachable Redis is a clear error, not a hang', async () => {
  const port = await freePort();
  const dead = ws.write('dead.yaml', CONFIG.replace('store: { seed: members.yaml }', `store: { redis: { url: "redis://127.0.0.1:${port}", connect_timeout_ms: 300 } }`));
  const r = rolegate(['who-can', '--config', dead, 'deals:read']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach Redis \(redis:\/\/127\.0\.0\.1:\d+\)/);
  assert.equal(rolegate(['diff', 'policy.yaml', 'policy.yaml', '--config', dead], { cwd: ws.dir }).code, 2);
});

test('audit lists the admin log from Redis, newest first, as a table or JSON lines', async () => {
  const { RedisAdminStore } = await import('../../src/store/index.js');
  const store = await RedisAdminStore.open({ url: redis.url, prefix: 't:', connect_timeout_ms: 1000, command_timeout_ms: 1000 }, { auditMaxEntries: 100 });
  try {
    for (const [i, who] of ['u-olivia', 'u-adam'].entries()) {
      const r = await store.commit({
        expect: [], writes: [{ k: 'member', id: `u-new${i}`, patch: { status: 'pending', roles: ['viewer'] } }],
        audit: [{ actor: who, action: 'member.invite', target: `member:u-new${i}`, before: null, after: { roles: ['viewer'] }, request_id: `req-${i}` }],
      });
      assert.equal(r.ok, true);
    }
  } finally {
    await store.close();
  }
  const table = rolegate(['audit', '--config', ws.config, '--limit', '5']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0]!, /^ID\s+WHEN\s+ACTOR\s+ACTION\s+TARGET\s+REQUEST$/);
  assert.match(lines[1]!, /u-adam\s+member\.invite\s+member:u-new1\s+req-1$/);
  assert.match(lines[2]!, /u-olivia\s+member\.invite\s+member:u-new0\s+req-0$/);
  const jsonLines = rolegate(['audit', '--config', ws.config, '--json', '--limit', '1']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(jsonLines.length, 1);
  assert.deepEqual(jsonLines[0].after, { roles: ['viewer'] });
  const older = rolegate(['audit', '--config', ws.config, '--json', '--before', jsonLines[0].id]).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(older[0].request_id, 'req-0');
  assert.equal(rolegate(['audit', '--config', ws.config, '--limit', '0']).code, 2);
});
