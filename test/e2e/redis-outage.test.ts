import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssignmentWriter } from '../../src/store/index.js';
import {
  httpGet, redisConfig, sleep, spawnGateway, startCountingUpstream, startRedis, testSigner,
  type GatewayChild, type TestRedis,
} from '../helpers/redis.js';

const INTERNAL = { kind: 'internal', org_id: 'acme' };

describe('e2e: Redis stopped and restarted under a running gateway', () => {
  let redis: TestRedis;
  let upstream: Awaited<ReturnType<typeof startCountingUpstream>>;
  let signer: Awaited<ReturnType<typeof testSigner>>;
  let gw: GatewayChild;
  let dir: string;
  const tokens: Record<string, string> = {};

  async function seed(): Promise<void> {
    const w = await AssignmentWriter.open(redisConfig(redis.url));
    await w.setMember('u-cached', { roles: ['viewer'], org: 'acme', kind: 'internal' });
    await w.setMember('u-cached-removed', { status: 'removed', roles: ['admin'], org: 'acme', kind: 'internal' });
    await w.setMember('u-uncached', { roles: ['viewer'], org: 'acme', kind: 'internal' });
    await w.setMember('u-uncached-pending', { status: 'pending', roles: ['owner'], org: 'acme', kind: 'internal' });
    await w.close();
  }
  const get = (who: string) => httpGet(`${gw.url}/api/deals`, tokens[who]);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-redis-outage-'));
    redis = await startRedis();
    upstream = await startCountingUpstream();
    signer = await testSigner(dir);
    for (const who of ['u-cached', 'u-cached-removed', 'u-uncached', 'u-uncached-pending', 'u-stranger']) tokens[who] = await signer.token(who, INTERNAL);
    await seed();
    gw = await spawnGateway(dir, 'gw', { redisUrl: redis.url, upstreamUrl: upstream.url, jwksFile: signer.jwksFile, commandTimeoutMs: 300 });
    for (let i = 0; (await httpGet(`${gw.opsUrl}/readyz`)).status !== 200; i++) { assert.ok(i < 200, 'never ready'); await sleep(25); }
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Redis stopped: 503 store_unavailable for uncached users, quickly; cached answers stand; nothing denied is allowed', async () => {
    assert.equal((await get('u-cached')).status, 200);
    assert.equal((await get('u-cached-removed')).body.reason, 'member_removed');
    await redis.stop();
    for (let i = 0; (await httpGet(`${gw.opsUrl}/readyz`)).status !== 503; i++) { assert.ok(i < 200, '/readyz never reported the store'); await sleep(10); }
    const ready = await httpGet(`${gw.opsUrl}/readyz`);
    assert.equal((ready.body.checks as Record<string, boolean>).store, false);

    const hitsBefore = upstream.hits();
    for (const who of ['u-uncached', 'u-uncached-pending', 'u-stranger']) {
      const t0 = performance.now();
      const r = await get(who);
      const ms = performance.now() - t0;
      assert.equal(r.status, 503, `${who}: ${r.text}`);
      assert.deepEqual([r.body.error, r.body.reason], ['unavailable', 'store_unavailable']);
      assert.ok(ms < 1000, `${who} took ${ms.toFixed(0)} ms`);
    }
    assert.equal((await get('u-cached')).status, 200, 'a cached allow within its TTL is still served');
    assert.equal((await get('u-cached-removed')).body.reason, 'member_removed', 'a cached deny stays a deny');
    assert.equal(upstream.hits(), hitsBefore + 1, 'only the cached active member reached the upstream');
  });

  test('a burst of uncached requests during the outage: all 503, fast, no crash', async () => {
    const t0 = performance.now();
    const burst = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const r = await httpGet(`${gw.url}/api/deals`, await signer.token(`u-burst-${i}`, INTERNAL));
      return r.status;
    }));
    assert.deepEqual([...new Set(burst)], [503]);
    assert.ok(performance.now() - t0 < 5000);
    assert.ok(gw.alive(), gw.output());
  });

  test('Redis restarted: the same gateway process recovers without a restart', async () => {
    const pid = gw.pid;
    await redis.start();
    await seed(); // the restarted server is empty (tests run it without persistence)
    const deadline = Date.now() + 10000;
    let r = await get('u-uncached');
    while (r.status !== 200) {
      assert.equal(r.status, 503, r.text);
      assert.ok(Date.now() < deadline, 'did not recover within 10 s');
      await sleep(50);
      r = await get('u-uncached');
    }
    assert.equal((await get('u-uncached-pending')).body.reason, 'member_pending');
    assert.equal((await get('u-stranger')).body.reason, 'not_a_member');
    assert.equal((await httpGet(`${gw.opsUrl}/readyz`)).status, 200);
    assert.equal(gw.pid, pid);
    assert.ok(gw.alive(), gw.output());
  });

  test('metrics counted the errors', async () => {
    const text = (await httpGet(`${gw.opsUrl}/metrics`)).text;
    assert.match(text, /^rolegate_store_errors_total\{op="member"\} [1-9]/m);
  });
});
