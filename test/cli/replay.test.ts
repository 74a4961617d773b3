/** The decision log format (parse/validate) and `rolegate replay` through the built CLI. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDecisionRecord, readDecisionLog, DecisionRecordError, type DecisionRecord } from '../../src/policy/index.js';
import { createDecisionLog } from '../../src/ops/index.js';
import { POLICY, json, rolegate, workspace, type Workspace } from './workspace.js';

const principal = (id: string, roles: string[], extra: object = {}) => ({ id, kind: 'internal', org: 'acme', roles, groups: [], status: 'active', ...extra });
function rec(n: number, method: string, path: string, route: string, p: object | null, decision: 'allow' | 'deny', reason: string): DecisionRecord {
  return {
    time: `2025-05-01T12:00:0${n}.000Z`, request_id: `r${n}`, method, path, route, resource: route === 'none' ? null : 'x', action: route === 'none' ? null : 'y',
    principal: p as DecisionRecord['principal'], decision, reason,
  };
}
const LOG: DecisionRecord[] = [
  rec(1, 'GET', '/api/payouts', 'GET /api/payouts', principal('u-vera', ['viewer']), 'deny', 'excluded_by_tag'),
  rec(2, 'GET', '/api/deals/d1', 'GET /api/deals/:id', principal('u-vera', ['viewer']), 'allow', 'allow'),
  rec(3, 'DELETE', '/api/deals/d1', 'DELETE /api/deals/:id', principal('u-mia', ['manager']), 'allow', 'allow'),
  rec(4, 'DELETE', '/api/deals/d2', 'DELETE /api/deals/:id', principal('u-mia', ['manager']), 'deny', 'condition_failed'),
  rec(5, 'GET', '/api/public/status', 'GET /api/public/**', null, 'allow', 'allow'),
  rec(6, 'GET', '/api/deals', 'none', null, 'deny', 'missing_token'),
  rec(7, 'GET', '/api/deals/d1', 'GET /api/deals/:id', principal('u-ed', [], { groups: ['emea'] }), 'allow', 'allow'),
];
// viewer may now read payouts, manager loses its conditional delete, the public prefix needs a token, group emea grants nothing
const CANDIDATE = POLICY
  .replace('viewer:  { grants: ["*:list,read"], except: { tags: [financial] } }', 'viewer:  { grants: ["*:list,read"] }')
  .replace('      - { allow: "deals:update,delete", when: assigned }', '      - { allow: "deals:update", when: assigned }')
  .replace('{ match: "GET /api/public/**", public: true, upstream: portal }', '{ match: "GET /api/public/**", resource: deals, action: read, upstream: portal }')
  .replace('emea: { roles: [viewer] }', 'emea: { roles: [] }');

describe('decision log records', () => {
  test('a valid record parses; principal kind and org may be left out', () => {
    const r = parseDecisionRecord(JSON.stringify({ ...LOG[1], trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', principal: { id: 'u', roles: [], groups: [], status: 'active' }, extra_field: 1 }));
    assert.deepEqual(r.principal, { id: 'u', roles: [], groups: [], status: 'active', kind: null, org: null });
  });

  test('bad records say what is wrong', () => {
    const bad = (v: unknown) => assert.throws(() => parseDecisionRecord(typeof v === 'string' ? v : JSON.stringify(v)), DecisionRecordError);
    bad('not json');
    bad('[1]');
    bad({ ...LOG[0], time: 'yesterday' });
    bad({ ...LOG[0], path: '/a?b=1' });
    bad({ ...LOG[0], trace_id: 'XYZ' });
    bad({ ...LOG[0], decision: 'allow' });
    bad({ ...LOG[0], principal: { id: 'u' } });
    const { principal: _, ...noPrincipal } = LOG[0]!;
    bad(noPrincipal);
  });

  test('what the gateway decision log writes is what replay reads', async () => {
    const ws = workspace({});
    try {
      const file = join(ws.dir, 'decisions.log');
      const log = createDecisionLog({ path: file, include: 'all', sample: 1 })!;
      log.write({
        request_id: 'r1', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', method: 'GET', path: '/api/deals', route: 'GET /api/deals', resource: 'deals', action: 'list',
        principal: { id: 'u-pat', kind: 'partner', org: undefined, roles: [], groups: ['emea'], status: 'active' }, decision: 'allow', reason: 'allow',
      });
      log.write({
        request_id: 'r2', trace_id: undefined, method: 'GET', path: '/nothing', route: 'none', resource: '', action: '',
        principal: { id: 'u-pat', kind: undefined, org: undefined, roles: [], groups: [], status: 'unknown' }, decision: 'deny', reason: 'no_route',
      });
      log.flush();
      for (let i = 0; i < 100 && !(existsSync(file) && readFileSync(file, 'utf8').split('\n').length > 2); i++) await new Promise((r) => setTimeout(r, 20));
      const { records, errors } = readDecisionLog(readFileSync(file, 'utf8'));
      assert.deepEqual(errors, []);
      assert.deepEqual(records.map((r) => [r.record.request_id, r.record.principal?.org, r.record.reason]), [['r1', null, 'allow'], ['r2', null, 'no_route']]);
      assert.doesNotMatch(readFileSync(file, 'utf8'), /eyJ|authorization|cookie/i);
    } finally {
      ws.close();
    }
  });

  test('readDecisionLog keeps line numbers and skips blank lines', () => {
    const text = `${JSON.stringify(LOG[0])}\n\n{oops}\n${JSON.stringify(LOG[1])}\n`;
    const { records, errors } = readDecisionLog(text);
    assert.deepEqual(records.map((r) => r.line), [1, 4]);
    assert.deepEqual(errors.map((e) => e.line), [3]);
  });
});

describe('rolegate replay', () => {
  let ws: Workspace;
  before(() => {
    ws = workspace();
    ws.write('decisions.log', LOG.map((r) => JSON.stringify(r)).join('\n') + '\nnot a record\n');
    ws.write('candidate.yaml', CANDIDATE);
  });
  after(() => ws.close());

  test('reports every request whose decision would change, grouped by route and roles', () => {
    const r = rolegate(['replay', 'decisions.log', '--policy', 'candidate.yaml', '--config', ws.config, '--json'], { cwd: ws.dir });
    const out = json(r);
    assert.match(r.stderr, /decisions\.log:8: not a decision record/);
    assert.deepEqual(out.summary, { records: 7, invalid: 1, skipped: 1, changed: 4, allow_to_deny: 3, deny_to_allow: 1, reason_changed: 1 });
    const groups = out.groups.map((g: { route: string; roles: string; changes: { request_id: string; after: { decision: string; reason: string } }[] }) =>
      [g.route, g.roles, g.changes.map((c) => `${c.request_id} ${c.after.decision} ${c.after.reason}`)]);
    assert.deepEqual(groups, [
      ['DELETE /api/deals/:id', 'manager', ['r3 deny not_granted']],
      ['GET /api/deals/:id', '(groups emea)', ['r7 deny no_role']],
      ['GET /api/payouts', 'viewer', ['r1 allow allow']],
      ['GET /api/public/**', '(anonymous)', ['r5 deny missing_token']],
    ]);
    assert.equal(out.groups[2].changes[0].after.role, 'viewer');
  });

  test('without --config no relations are known; --fail-on-change; human output', () => {
    const h = rolegate(['replay', 'decisions.log', '--policy', 'candidate.yaml', '--fail-on-change'], { cwd: ws.dir });
    assert.equal(h.code, 1);
    assert.match(h.stdout, /record conditions cannot hold/);
    assert.match(h.stdout, /^route GET \/api\/payouts {2}roles viewer {2}1 change\(s\)$/m);
    assert.match(h.stdout, /u-vera +GET \/api\/payouts +deny excluded_by_tag -> allow allow \(viewer\)/);
    // under the policy that logged them, nothing changes (u-mia's d1 delete needs the store's relations)
    const same = json(rolegate(['replay', 'decisions.log', '--policy', 'policy.yaml', '--config', ws.config, '--json'], { cwd: ws.dir }));
    assert.equal(same.summary.changed, 0);
    const stdin = rolegate(['replay', '-', '--policy', 'policy.yaml', '--config', ws.config, '--json'], { cwd: ws.dir, input: JSON.stringify(LOG[0]) + '\n' });
    assert.equal(json(stdin).summary.records, 1);
    assert.equal(rolegate(['replay', 'decisions.log'], { cwd: ws.dir }).code, 2);
  });
});
