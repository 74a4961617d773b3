import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { LoadError } from '../../src/config/index.js';
import { AssignmentWriter, loadSeed, redisKeys, type StoreSeed } from '../../src/store/index.js';
import { redisConfig, sleep, startRedis, type TestRedis } from '../helpers/redis.js';

const SEED = `members:
  u-olivia: { status: active, roles: [owner], org: acme, kind: internal, email: olivia@acme.test }
  u-mia:    { status: active, roles: [manager], org: acme, kind: internal }
  u-ivy:    { status: pending, roles: [member], org: acme, kind: internal }
relations:
  deals/d1: { assignees: [u-mia], collaborators: [u-pat], partner: p-42 }
partners:
  p-42: { groups: [emea] }
`;

describe('import: idempotent, atomic, dry run', () => {
  let redis: TestRedis;
  let raw: Redis;
  let w: AssignmentWriter;
  let dir: string;
  const k = redisKeys('rolegate:');
  const seedFile = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };

  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    w = await AssignmentWriter.open(redisConfig(redis.url));
    dir = mkdtempSync(join(tmpdir(), 'rolegate-import-'));
  });
  after(async () => {
    await w.close();
    raw.disconnect();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => { await raw.flushall(); });

  test('first run adds everything; the second changes nothing, bumps no version, publishes nothing', async () => {
    const seed = loadSeed(seedFile('seed.yaml', SEED));
    const first = await w.importSeed(seed);
    assert.deepEqual([first.added, first.changed, first.removed], [5, 0, 0]);
    assert.equal(first.version, 1, 'one import, one version');
    const sub = raw.duplicate();
    const heard: string[] = [];
    await sub.subscribe(k.channel);
    sub.on('message', (_c: string, m: string) => heard.push(m));
    const second = await w.importSeed(seed);
    await sleep(50);
    sub.disconnect();
    assert.deepEqual([second.added, second.changed, second.removed, second.version], [0, 0, 0, 1]);
    assert.deepEqual(second.changes, []);
    assert.deepEqual(heard, []);
    assert.deepEqual(await raw.smembers(k.userRecords('u-mia', 'assigned', 'deals')), ['d1']);
  });

  test('a dry run reports exactly what the real run then does, and writes nothing', async () => {
    await w.importSeed(loadSeed(seedFile('seed.yaml', SEED)));
    const next = loadSeed(seedFile('next.yaml', `members:
  u-olivia: { status: active, roles: [owner], org: acme, kind: internal }
  u-mia:    { status: active, roles: [manager], org: acme, kind: internal }
  u-new:    { status: active, roles: [viewer] }
relations:
  deals/d2: { assignees: [u-mia] }
partners:
  p-42: { groups: [emea, amer] }
`));
    const before = await raw.dump(k.member('u-olivia'));
    const dry = await w.importSeed(next, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(await raw.get(k.version), '1');
    assert.deepEqual(await raw.dump(k.member('u-olivia')), before);
    const real = await w.importSeed(next);
    assert.deepEqual(real.changes, dry.changes);
    // sorted by kind, then id; u-olivia changed because the file dropped her email (an import replaces whole records)
    assert.deepEqual(real.changes.map((c) => `${c.change} ${c.kind} ${c.id}`), [
      'removed member u-ivy',
      'added member u-new',
      'changed member u-olivia',
      'removed relations deals/d1',
      'added relations deals/d2',
      'changed partner p-42',
    ]);
    assert.equal(real.version, 2);
  });

  test('members missing from the file are marked removed, not deleted; relations and partners are deleted both ways', async () => {
    await w.importSeed(loadSeed(seedFile('seed.yaml', SEED)));
    await w.importSeed({ members: {}, relations: {}, partners: {} } as StoreSeed);
    const ivy = await w.getMember('u-ivy');
    assert.equal(ivy?.status, 'removed');
    assert.deepEqual(ivy?.roles, ['member']);
    assert.equal(await raw.hget(k.member('u-olivia'), 'email'), 'olivia@acme.test');
    assert.equal(await raw.exists(k.relation('deals/d1', 'assignees'), k.relation('deals/d1', 'partner'), k.userRecords('u-mia', 'assigned', 'deals'), k.partnerGroups('p-42')), 0);
    assert.deepEqual(await raw.smembers(k.relations), []);
    const again = await w.importSeed({ members: {}, relations: {}, partners: {} } as StoreSeed);
    assert.deepEqual(again.changes, [], 'already-removed members are not removed again');
  });

  test('a bad file is rejected whole with file:line before anything is written', () => {
    const f = seedFile('bad.yaml', `members:
  u-ok: { status: active }
  u-bad: { status: gone }
  "bad id": { status: active }
`);
    assert.throws(() => loadSeed(f), (e: LoadError) => {
      assert.ok(e instanceof LoadError);
      assert.match(e.message, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:`));
      return true;
    });
  });
});
