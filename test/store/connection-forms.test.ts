import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { RedisConfig } from '../../src/config/types.js';
import { AssignmentWriter, buildAssignmentStore, createRedisClient, type MemberRecord } from '../../src/store/index.js';
import { quietLogger, recordingStoreHooks, redisConfig, sleep, startRedis, startSentinel, storeOnlyConfig, untilHealthy, type TestRedis } from '../helpers/redis.js';

/** Write through one client form, read and hear the invalidation through another store of the same form. */
async function roundTrip(cfg: RedisConfig, id: string): Promise<void> {
  const store = buildAssignmentStore(storeOnlyConfig(cfg), recordingStoreHooks().hooks, quietLogger);
  let w: AssignmentWriter | undefined;
  try {
    w = await AssignmentWriter.open(cfg);
    await untilHealthy(store);
    await w.setMember(id, { roles: ['viewer'] });
    await w.setRelations('deals/d1', { assignees: [id] });
    assert.equal((await store.getMember(id))?.status, 'active');
    assert.deepEqual((await store.getRelations('deals/d1'))?.assignees, [id]);
    await w.removeMember(id);
    const deadline = Date.now() + 2000;
    for (;;) {
      const r = store.getMember(id);
      if (((r instanceof Promise ? await r : r) as MemberRecord).status === 'removed') break;
      assert.ok(Date.now() < deadline, 'invalidation not heard');
      await sleep(5);
    }
  } finally {
    await w?.close();
    await store.close();
  }
}

describe('connection forms: URL, Sentinel, Cluster', () => {
  let plain: TestRedis;
  let clustered: TestRedis;
  let sentinel: { port: number; stop(): Promise<void> };

  before(async () => {
    plain = await startRedis();
    sentinel = await startSentinel(plain.port, 'rg-master');
    clustered = await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1']);
    const c = new Redis(clustered.url);
    await c.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; !String(await c.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) {
      assert.ok(i < 200, 'single-node cluster never became ok');
      await sleep(25);
    }
    c.disconnect();
  });
  after(async () => {
    await sentinel.stop();
    await plain.close();
    await clustered.close();
  });

  test('standalone URL', async () => { await roundTrip(redisConfig(plain.url), 'u-url'); });

  test('Sentinel: sentinels + master name', async () => {
    await roundTrip({ prefix: 'rolegate:', sentinels: [`127.0.0.1:${sentinel.port}`], name: 'rg-master', connect_timeout_ms: 2000, command_timeout_ms: 500 }, 'u-sentinel');
  });

  test('Cluster: every key shares the {prefix} hash tag, so multi-key scripts run in one slot', async () => {
    await roundTrip({ prefix: 'rolegate:', cluster: [clustered.url], connect_timeout_ms: 2000, command_timeout_ms: 500 }, 'u-cluster');
  });

  test('password_env is read from the environment; unset is a clear error', async () => {
    const secured = await startRedis(['--requirepass', 'hunter2-test']);
    try {
      assert.throws(() => createRedisClient(redisConfig(secured.url, { password_env: 'ROLEGATE_TEST_NO_SUCH_VAR' })), /ROLEGATE_TEST_NO_SUCH_VAR is not set/);
      process.env.ROLEGATE_TEST_REDIS_PASSWORD = 'hunter2-test';
      await roundTrip(redisConfig(secured.url, { password_env: 'ROLEGATE_TEST_REDIS_PASSWORD' }), 'u-password');
    } finally {
      delete process.env.ROLEGATE_TEST_REDIS_PASSWORD;
      await secured.close();
    }
  });

  test('no store.redis: the in-memory store', () => {
    const store = buildAssignmentStore({ store: { cache: { max_entries: 10, ttl_ms: 1000 }, stale_if_error_ms: 0 } } as never, recordingStoreHooks().hooks, quietLogger);
    assert.equal(store.kind, 'memory');
    assert.equal(store.getMember('anyone'), null);
  });
});
