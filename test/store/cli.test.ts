import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisKeys } from '../../src/store/index.js';
import { CLI, freePort, startRedis, writeGatewayConfig, type TestRedis } from '../helpers/redis.js';

interface Run { code: number; stdout: string; stderr: string; ms: number }

function rolegate(args: string[]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

describe('CLI: members, relations, import against Redis', () => {
  let redis: TestRedis;
  let raw: Redis;
  let dir: string;
  let config: string;
  const k = redisKeys('rolegate:');
  const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };

  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    dir = mkdtempSync(join(tmpdir(), 'rolegate-cli-'));
    config = writeGatewayConfig(dir, { redisUrl: redis.url });
  });
  after(async () => {
    raw.disconnect();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('members set creates, updates and reports no-ops', async () => {
    let r = await rolegate(['members', 'set', 'u-mia', '--config', config, '--roles', 'manager,viewer', '--groups', 'emea', '--org', 'acme', '--kind', 'internal', '--email', 'mia@acme.test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /member u-mia added \(store version 1\)/);
    r = await rolegate(['members', 'set', 'u-mia', '--config', config, '--status', 'pending']);
    assert.match(r.stdout, /member u-mia changed \(store version 2\)/);
    r = await rolegate(['members', 'set', 'u-mia', '--config', config, '--status', 'pending']);
    assert.match(r.stdout, /member u-mia unchanged/);
    const h = await raw.hgetall(k.member('u-mia'));
    assert.deepEqual([h.status, h.roles, h.groups, h.org, h.kind, h.email], ['pending', 'manager,viewer', 'emea', 'acme', 'internal', 'mia@acme.test']);
  });

  test('members list: table, filters, --json', async () => {
    await rolegate(['members', 'set', 'u-vera', '--config', config, '--roles', 'viewer']);
    let r = await rolegate(['members', 'list', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+STATUS\s+ROLES/m);
    assert.match(r.stdout, /^u-mia\s+pending\s+manager,viewer\s+emea\s+acme\s+internal\s+mia@acme.test$/m);
    assert.match(r.stdout, /^u-vera\s+active\s+viewer/m);
    r = await rolegate(['members', 'list', '--config', config, '--role', 'viewer', '--status', 'active', '--json']);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(rows.map((m: { id: string }) => m.id), ['u-vera']);
    assert.ok(!Number.isNaN(Date.parse(rows[0].created)));
    r = await rolegate(['members', 'list', '--config', config, '--role', 'nobody']);
    assert.match(r.stdout, /\(no members\)/);
  });

  test('members remove marks removed; an unknown id is an error', async () => {
    let r = await rolegate(['members', 'remove', 'u-vera', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /member u-vera removed/);
    assert.equal(await raw.hget(k.member('u-vera'), 'status'), 'removed');
    r = await rolegate(['members', 'remove', 'u-ghost', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /member "u-ghost" does not exist/);
  });

  test('relations set writes both directions', async () => {
    const r = await rolegate(['relations', 'set', 'deals/d1', '--config', config, '--assignees', 'u-mia,u-adam', '--collaborators', 'u-pat', '--partner', 'p-42']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /relations deals\/d1 added/);
    assert.deepEqual((await raw.smembers(k.relation('deals/d1', 'assignees'))).sort(), ['u-adam', 'u-mia']);
    assert.deepEqual(await raw.smembers(k.userRecords('u-pat', 'collaborates', 'deals')), ['d1']);
    assert.equal(await raw.get(k.relation('deals/d1', 'partner')), 'p-42');
  });

  test('import: reports changes, second run reports 0 changes, dry run writes nothing', async () => {
    const seed = file('seed.yaml', `members:
  u-mia: { status: active, roles: [manager], org: acme, kind: internal }
  u-new: { status: pending, roles: [member] }
relations:
  deals/d1: { assignees: [u-mia], collaborators: [] }
partners:
  p-42: { groups: [emea] }
`);
    let r = await rolegate(['import', seed, '--config', config, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    const versionBefore = await raw.get(k.version);
    assert.match(r.stdout, /^dry run, nothing written: /m);
    assert.match(r.stdout, /^\+ member u-new$/m);
    assert.match(r.stdout, /^~ member u-mia$/m);
    assert.match(r.stdout, /^~ relations deals\/d1$/m);
    assert.doesNotMatch(r.stdout, /u-vera/, 'an already-removed member missing from the file is no change');
    assert.equal(await raw.exists(k.member('u-new')), 0);
    assert.equal(await raw.get(k.version), versionBefore);

    r = await rolegate(['import', seed, '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\+ member u-new$/m);
    assert.match(r.stdout, /^\+ partner p-42$/m);
    assert.match(r.stdout, /^4 changes: 2 added, 2 changed, 0 removed \(store version \d+\)$/m);
    assert.equal(await raw.hget(k.member('u-new'), 'status'), 'pending');

    r = await rolegate(['import', seed, '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^0 changes: 0 added, 0 changed, 0 removed/m);

    const json = JSON.parse((await rolegate(['import', seed, '--config', config, '--json'])).stdout);
    assert.equal(json.added + json.changed + json.removed, 0);
  });

  test('import: a bad file exits 1 with file:line and writes nothing', async () => {
    const dump = await raw.dbsize();
    const version = await raw.get(k.version);
    const bad = file('bad.yaml', `members:
  u-fine: { status: active }
  u-bad: { status: gone }
relations:
  deals: { assignees: [u-fine] }
`);
    const r = await rolegate(['import', bad, '--config', config]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${bad}:3:`), r.stderr);
    assert.ok(r.stderr.includes(`${bad}:5:`), r.stderr);
    assert.equal(await raw.dbsize(), dump);
    assert.equal(await raw.get(k.version), version);
    assert.equal(await raw.exists(k.member('u-fine')), 0);
  });

  test('bad arguments exit 2 with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['members', 'set', 'bad id', '--config', config], /not a valid id/],
      [['members', 'set', 'u-1', '--status', 'gone', '--config', config], /status must be one of pending, active, removed/],
      [['members', 'set', 'u-1', '--kind', 'robot', '--config', config], /kind must be one of internal, partner/],
      [['members', 'set', 'u-1', '--email', 'nope', '--config', config], /not an address/],
      [['members', 'set', '--config', config], /exactly one member ID/],
      [['members', 'set', 'u-1', '--colour', 'red', '--config', config], /Unknown option/],
      [['members', 'list', '--status', 'gone', '--config', config], /status must be one of/],
      [['members', 'frobnicate', '--config', config], /unknown subcommand "frobnicate"/],
      [['relations', 'set', 'deals', '--config', config], /RESOURCE\/ID/],
      [['relations', 'set', 'deals/d1', '--assignees', 'a,a', '--config', config], /duplicates/],
      [['import', '--config', config], /exactly one FILE/],
    ];
    const runs = await Promise.all(cases.map(([args]) => rolegate(args)));
    runs.forEach((r, i) => {
      const [args, msg] = cases[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
    });
  });

  test('a config without store.redis exits 2 and explains the in-memory store', async () => {
    const memDir = join(dir, 'memory');
    mkdirSync(memDir);
    writeFileSync(join(memDir, 'members.yaml'), 'members: {}\n');
    const memConfig = writeGatewayConfig(memDir);
    const commands = [['members', 'list'], ['members', 'set', 'u-1'], ['relations', 'set', 'deals/d1'], ['import', join(memDir, 'members.yaml')]];
    const runs = await Promise.all(commands.map((args) => rolegate([...args, '--config', memConfig])));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 2, commands[i]!.join(' '));
      assert.match(r.stderr, /has no store\.redis\. The in-memory store lives inside the gateway process/);
      assert.match(r.stderr, /store\.seed/);
    }
  });

  test('an unreachable Redis fails within connect_timeout_ms, exit 1', async () => {
    const deadDir = join(dir, 'dead');
    mkdirSync(deadDir);
    const deadConfig = writeGatewayConfig(deadDir, { redisUrl: `redis://127.0.0.1:${await freePort()}`, connectTimeoutMs: 500 });
    const r = await rolegate(['members', 'list', '--config', deadConfig]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Redis \(redis:\/\/127\.0\.0\.1:\d+\)/);
    assert.ok(r.ms < 5000, `took ${r.ms.toFixed(0)} ms`);
  });
});
