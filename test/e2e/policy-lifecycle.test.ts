/**
 * The policy's life in a running gateway: hot reload under load (a broken edit
 * never takes effect and never fails a request), shadow mode (the candidate is
 * counted, never enforced), the decision log (deny-only, no token, trace id),
 * and SIGHUP reload of the built CLI.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Pool } from 'undici';
import { POLICY, SEED, bearer, http, spawnGateway, startTestGateway } from '../helpers/gateway.js';
import { eventually, header, sleep } from '../helpers/stub-upstream.js';

/** Value of one series in a Prometheus exposition (labels matched as a subset), or undefined. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[k!] = v!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(opsUrl: string): Promise<string> {
  const res = await http(`${opsUrl}/metrics`);
  assert.equal(res.status, 200);
  return res.text;
}

/** SEED with u-tess added under members. */
const SEED_WITH_TESTER = SEED.replace('members:\n', 'members:\n  u-tess:   { status: active, roles: [tester], org: acme, kind: internal }\n');

const withTester = (version: string, grants: string): string =>
  POLICY.replace('version: "e2e-1"', `version: "${version}"`)
    .replace('roles:\n', `roles:\n  tester:  { grants: [${grants}] }\n`);

/** A: tester may GET /probe/**; B: the grant is gone. */
const POLICY_A = withTester('lc-A', '"probe:read"');
const POLICY_B = withTester('lc-B', '"deals:list"');
/** Broken: not YAML at all. */
const BROKEN_SYNTAX = `${POLICY_A.replace('version: "lc-A"', 'version: "lc-broken-1"')}\nroutes: [ { match: "GET /x"\n  : : ]\n`;
/** Broken: valid YAML, no /probe routes (would be no_route if it ever loaded) and a grant on an unknown resource. */
const BROKEN_UNKNOWN = withTester('lc-broken-2', '"nosuch:read"')
  .split('\n').filter((l) => !l.includes('/probe/') && !l.includes('/dead/') && !l.includes('/slow/')).join('\n');

describe('hot reload under load', () => {
  test('a stream of good and broken edits never fails a request; the last good file wins', async (t) => {
    const gw = await startTestGateway({ policy: POLICY_A, seed: SEED_WITH_TESTER, log: 'silent', config: (c) => { c.policy.watch = true; } });
    const pool = new Pool(gw.url, { connections: 8 });
    try {
      const auth = bearer(await gw.token('u-tess'));
      const sanity = await http(`${gw.url}/probe/x`, { headers: auth });
      assert.equal(sanity.status, 200, sanity.text);

      const statuses = new Map<string, number>();
      const failures: string[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const res = await pool.request({ path: '/probe/x', method: 'GET', headers: auth });
            const text = await res.body.text();
            let key = String(res.statusCode);
            if (res.statusCode === 403) {
              const body = JSON.parse(text) as { reason: string; resource?: string; action?: string };
              key = `403:${body.reason}:${body.resource}:${body.action}`;
            }
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);

      // 50 writes: A, B, broken (two kinds) in turn; every 5th write is followed by a pause
      // longer than the 200 ms debounce, so each kind is actually reloaded a few times.
      const policyFile = join(gw.dir, 'policy.yaml');
      const versions = [POLICY_A, POLICY_B, null] as const;
      let brokenTurn = 0;
      for (let i = 0; i < 50; i++) {
        const v = versions[i % 3];
        const text = i === 49 ? POLICY_B : v ?? (brokenTurn++ % 2 === 0 ? BROKEN_SYNTAX : BROKEN_UNKNOWN);
        writeFileSync(policyFile, text);
        await sleep(i % 5 === 4 ? 260 : 30);
      }
      await sleep(700);
      stop = true;
      await Promise.all(workers);

      assert.deepEqual(failures, [], 'no connection errors');
      const keys = [...statuses.keys()];
      const allowed = new Set(['200', '403:not_granted:probe:read']);
      assert.deepEqual(keys.filter((k) => !allowed.has(k)), [], `unexpected outcomes: ${JSON.stringify(Object.fromEntries(statuses))}`);
      assert.ok((statuses.get('200') ?? 0) > 0, 'policy A was in force at some point');
      assert.ok((statuses.get('403:not_granted:probe:read') ?? 0) > 0, 'policy B was in force at some point');

      // the last write (B) is in force
      assert.equal(gw.gateway.policy().version, 'lc-B');
      for (let i = 0; i < 3; i++) {
        const res = await http(`${gw.url}/probe/x`, { headers: auth });
        assert.equal(res.status, 403);
        assert.equal(res.json.reason, 'not_granted');
      }
      const text = await scrape(gw.opsUrl);
      t.diagnostic(`outcomes ${JSON.stringify(Object.fromEntries(statuses))}; reloads success=${metric(text, 'rolegate_policy_reloads_total', { result: 'success' })} failure=${metric(text, 'rolegate_policy_reloads_total', { result: 'failure' })}`);
      assert.ok((metric(text, 'rolegate_policy_reloads_total', { result: 'failure' }) ?? 0) > 0, 'failed reloads counted');
      assert.ok((metric(text, 'rolegate_policy_reloads_total', { result: 'success' }) ?? 0) > 0, 'successful reloads counted');
      assert.equal(metric(text, 'rolegate_policy_info', { version: 'lc-B' }), 1);
      assert.equal(metric(text, 'rolegate_policy_info', { version: 'lc-A' }), undefined);
    } finally {
      await pool.close();
      await gw.close();
    }
  });
});

describe('shadow policy', () => {
  test('the candidate is counted beside the live decision and never enforced', async () => {
    // candidate: member loses deals:update; everything else is the live policy
    const candidate = POLICY.replace('version: "e2e-1"', 'version: "e2e-candidate"').replace('grants: ["deals:create,update"]', 'grants: ["deals:create"]');
    assert.notEqual(candidate, POLICY);
    const side = mkdtempSync(join(tmpdir(), 'rolegate-shadow-'));
    const candidateFile = join(side, 'candidate.yaml');
    writeFileSync(candidateFile, candidate);
    const gw = await startTestGateway({ log: 'silent', config: (c) => { c.policy.shadow = { paths: [candidateFile] }; } });
    try {
      const max = bearer(await gw.token('u-max'));
      const vera = bearer(await gw.token('u-vera'));
      // live allow, candidate deny: the client still gets the live answer
      for (let i = 0; i < 3; i++) {
        const res = await http(`${gw.url}/api/deals/d9`, { method: 'PATCH', headers: max });
        assert.equal(res.status, 200, res.text);
      }
      // agreement: allow/allow and deny/deny
      for (let i = 0; i < 2; i++) assert.equal((await http(`${gw.url}/api/deals`, { headers: vera })).status, 200);
      const denied = await http(`${gw.url}/api/deals`, { method: 'POST', headers: vera });
      assert.equal(denied.status, 403);
      assert.equal(denied.json.reason, 'not_granted');
      // u-max may still create under both
      assert.equal((await http(`${gw.url}/api/deals`, { method: 'POST', headers: max })).status, 200);

      const series = (text: string, action: string, live: string, cand: string) =>
        metric(text, 'rolegate_shadow_decisions_total', { resource: 'deals', action, live, candidate: cand });
      let text = '';
      for (let i = 0; i < 50; i++) {
        text = await scrape(gw.opsUrl);
        if (series(text, 'update', 'allow', 'deny') === 3 && series(text, 'create', 'allow', 'allow') === 1) break;
        await sleep(20);
      }
      assert.equal(series(text, 'update', 'allow', 'deny'), 3, text);
      assert.equal(series(text, 'list', 'allow', 'allow'), 2);
      assert.equal(series(text, 'create', 'deny', 'deny'), 1);
      assert.equal(series(text, 'create', 'allow', 'allow'), 1);
      assert.equal(series(text, 'update', 'allow', 'allow'), undefined);
      assert.equal(series(text, 'list', 'deny', 'allow') ?? 0, 0);
      // the live policy is the one in force
      assert.equal(metric(text, 'rolegate_policy_info', { version: 'e2e-1' }), 1);
      assert.equal(metric(text, 'rolegate_policy_info', { version: 'e2e-candidate' }), undefined);
    } finally {
      await gw.close();
      rmSync(side, { recursive: true, force: true });
    }
  });
});

describe('decision log', () => {
  test('include: deny writes only denies, with the decision facts, the trace id and never the token', async () => {
    const side = mkdtempSync(join(tmpdir(), 'rolegate-dlog-'));
    const logFile = join(side, 'decisions.log');
    const gw = await startTestGateway({ log: 'silent', config: (c) => { c.log.decision_log = { path: logFile, include: 'deny' }; } });
    try {
      const token = await gw.token('u-vera');
      const allowTrace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const denyTrace = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      gw.upstream.reset();
      const allowed = await http(`${gw.url}/api/deals?x=1`, { headers: { ...bearer(token), traceparent: allowTrace } });
      assert.equal(allowed.status, 200, allowed.text);
      const [rec] = await gw.upstream.waitFor(1);
      assert.deepEqual(header(rec!, 'traceparent'), [allowTrace], 'upstream got the traceparent unchanged');

      const denied = await http(`${gw.url}/api/deals`, { method: 'POST', headers: { ...bearer(token), traceparent: denyTrace } });
      assert.equal(denied.status, 403);
      assert.equal(denied.json.reason, 'not_granted');

      await gw.gateway.close();
      // the log is flushed on close; give the async destination a moment to land on disk
      await eventually(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('\n'), 2000);
      const raw = readFileSync(logFile, 'utf8');
      assert.ok(!raw.includes(token), 'the token never reaches the decision log');
      assert.ok(!raw.includes(token.split('.')[2]!), 'not even the signature');
      const lines = raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
      assert.equal(lines.length, 1, raw);
      const e = lines[0]!;
      assert.equal(e.request_id, denied.json.request_id);
      assert.equal(e.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(e.method, 'POST');
      assert.equal(e.path, '/api/deals');
      assert.equal(e.route, 'POST /api/deals');
      assert.equal(e.resource, 'deals');
      assert.equal(e.action, 'create');
      assert.equal(e.principal.id, 'u-vera');
      assert.equal(e.decision, 'deny');
      assert.equal(e.reason, 'not_granted');
    } finally {
      await gw.close();
      rmSync(side, { recursive: true, force: true });
    }
  });
});

describe('SIGHUP', () => {
  test('the CLI reloads the policy on SIGHUP (watch off)', async () => {
    const gw = await spawnGateway();
    try {
      const vera = bearer(await gw.token('u-vera'));
      const before = await http(`${gw.url}/api/deals`, { method: 'POST', headers: vera });
      assert.equal(before.status, 403);
      assert.equal(before.json.reason, 'not_granted');

      writeFileSync(join(gw.dir, 'policy.yaml'), POLICY.replace('version: "e2e-1"', 'version: "e2e-hup"')
        .replace('viewer:  { builtin: true, grants: ["*:list,read"]', 'viewer:  { builtin: true, grants: ["*:list,read", "deals:create"]'));
      await sleep(400);
      assert.equal((await http(`${gw.url}/api/deals`, { method: 'POST', headers: vera })).status, 403, 'watch is off: no reload without a signal');

      gw.child.kill('SIGHUP');
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await http(`${gw.url}/api/deals`, { method: 'POST', headers: vera })).status;
        if (status !== 200) await sleep(50);
      }
      assert.equal(status, 200, 'decision follows the reloaded policy');
      assert.equal(gw.child.exitCode, null, 'SIGHUP does not stop the gateway');
      const text = await scrape(gw.opsUrl);
      assert.equal(metric(text, 'rolegate_policy_reloads_total', { result: 'success' }), 1);
      assert.equal(metric(text, 'rolegate_policy_info', { version: 'e2e-hup' }), 1);
    } finally {
      await gw.close();
    }
  });
});
