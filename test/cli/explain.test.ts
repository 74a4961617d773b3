/** `rolegate explain`, `who-can` and `access` through the built CLI, on a seeded store. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { json, rolegate, workspace, type Workspace } from './workspace.js';

let ws: Workspace;
before(() => { ws = workspace(); });
after(() => ws.close());

const explain = (...args: string[]) => rolegate(['explain', '--config', ws.config, ...args]);

test('explain, human output: route file:line, principal sources, roles, the except that removed it, decision', () => {
  const r = explain('--as', 'u-al', 'GET', '/api/payouts');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^canonical \/api\/payouts$/m);
  assert.match(r.stdout, /^route {5}GET \/api\/payouts {2}\S*policy\.yaml:\d+$/m);
  assert.match(r.stdout, /u-al {2}status active \(store\)/);
  assert.match(r.stdout, /auditor \(member role, \S*policy\.yaml:\d+\): excluded/);
  assert.match(r.stdout, /except tag "financial" \(inherited from viewer\)/);
  assert.match(r.stdout, /^decision {2}DENY 403 excluded_by_tag/m);
});

test('explain --json: claims override the store, the condition that held', () => {
  const ex = json(explain('--as', 'u-pat', '--claims', '{"org_id":"p-7"}', '--json', 'GET', '/api/partners/p-7'));
  assert.equal(ex.decision, 'allow');
  assert.equal(ex.principal.org, 'p-7');
  assert.equal(ex.principal.sources.org, 'claim org_id');
  assert.equal(ex.roles[0].role, 'partner_contact');
  assert.equal(ex.roles[0].via, 'default');
  assert.deepEqual(ex.roles[0].grant[0].conditions.map((c: { condition: string; result: string }) => [c.condition, c.result]), [['own_org', 'held']]);
  assert.equal(ex.policy.version, 't-1');
});

test('explain: every deny reason comes out with its status', () => {
  const cases: [string, string, string, string, number][] = [
    ['u-vera', 'DELETE', '/api/deals/d1', 'not_granted', 403],
    ['u-mia', 'DELETE', '/api/deals/d2', 'condition_failed', 403],
    ['u-vera', 'GET', '/api/payouts', 'excluded_by_tag', 403],
    ['u-hal', 'GET', '/api/deals/d1', 'audience_mismatch', 403],
    ['u-bot', 'GET', '/api/deals/d1', 'login_disabled', 403],
    ['u-nobody', 'GET', '/api/deals', 'no_role', 403],
    ['u-stranger', 'GET', '/api/deals', 'not_a_member', 403],
    ['u-ivy', 'GET', '/api/deals', 'member_pending', 403],
    ['u-rex', 'GET', '/api/deals', 'member_removed', 403],
    ['u-vera', 'GET', '/nothing', 'no_route', 403],
    ['u-vera', 'OPTIONS', '/api/deals', 'method_not_allowed', 405],
    ['u-vera', 'GET', '/api/deals/d1?_method=DELETE', 'method_override', 400],
    ['u-vera', 'GET', '/api/%2e%2e/deals', 'encoded_separator', 400],
    ['u-mia', 'DELETE', '/api/deals/d1', 'allow', 200],
    ['u-pat', 'GET', '/api/deals', 'filter', 200],
  ];
  for (const [as, method, path, reason, status] of cases) {
    const ex = json(explain('--as', as, '--json', method, path));
    assert.deepEqual([ex.reason, ex.status], [reason, status], `${as} ${method} ${path}`);
  }
  const bad = json(explain('--as', 'u-pat', '--claims', '{"org_id":42}', '--json', 'GET', '/api/deals'));
  assert.deepEqual([bad.reason, bad.status], ['invalid_claim', 401]);
});

test('explain: usage errors exit 2, a broken config exits 1 with file:line', () => {
  assert.equal(explain('GET', '/api/deals').code, 2);
  assert.equal(explain('--as', 'u', '--claims', '[1]', 'GET', '/').code, 2);
  const broken = ws.write('broken.yaml', 'upstreams: {}\nauth: { jwt: { issuer: x } }\npolicy: { paths: [policy.yaml] }\n');
  const r = rolegate(['explain', '--config', broken, '--as', 'u', 'GET', '/']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /broken\.yaml:\d+:\d+: /);
});

test('who-can: members and roles, conditional without a record, settled with one', () => {
  const open = json(rolegate(['who-can', '--config', ws.config, 'deals:delete', '--json']));
  assert.deepEqual(open.roles.map((r: { role: string }) => r.role).sort(), ['manager', 'owner']);
  const rows = Object.fromEntries(open.members.map((m: { id: string; access: string }) => [m.id, m.access]));
  assert.deepEqual(rows, { 'u-mia': 'conditional', 'u-olivia': 'allowed' });

  const d1 = json(rolegate(['who-can', '--config', ws.config, 'deals:delete', '--record', 'deals/d1', '--json']));
  assert.deepEqual(d1.members.map((m: { id: string; access: string }) => [m.id, m.access]), [['u-mia', 'allowed'], ['u-olivia', 'allowed']]);
  const mia = d1.members.find((m: { id: string }) => m.id === 'u-mia');
  assert.deepEqual(mia.by, { role: 'manager', via: 'direct', when: ['assigned'] });
  const d2 = json(rolegate(['who-can', '--config', ws.config, 'deals:delete', '--record', 'deals/d2', '--json']));
  assert.deepEqual(d2.members.map((m: { id: string }) => m.id), ['u-olivia']);
});

test('who-can: --all lists denials with the reason; --csv for an access review; roles reached via group and default', () => {
  const all = json(rolegate(['who-can', '--config', ws.config, 'payouts:list', '--all', '--json']));
  const reasons = Object.fromEntries(all.members.map((m: { id: string; reason: string }) => [m.id, m.reason]));
  assert.equal(reasons['u-olivia'], 'allow');
  assert.equal(reasons['u-vera'], 'excluded_by_tag');
  assert.equal(reasons['u-ivy'], 'member_pending');
  const viewer = all.roles.find((r: { role: string }) => r.role === 'viewer');
  assert.equal(viewer.grant, null);
  assert.deepEqual(viewer.excludedBy, { by: 'tag', name: 'financial', role: 'viewer' });

  const csv = rolegate(['who-can', '--config', ws.config, 'deals:list', '--csv']);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split(/\r?\n/);
  assert.equal(lines[0], 'member,status,kind,org,access,role,via,detail');
  assert.ok(lines.includes('u-ed,active,internal,acme,allowed,viewer,group emea,always'), csv.stdout);
  assert.ok(lines.includes('u-pat,active,partner,p-42,conditional,partner_contact,default for partner,when collaborator'), csv.stdout);

  const human = rolegate(['who-can', '--config', ws.config, 'deals:read']);
  assert.match(human.stdout, /viewer +always +\[via group emea\]/);
  assert.equal(rolegate(['who-can', '--config', ws.config, 'deals:fly']).code, 2);
  assert.equal(rolegate(['who-can', '--config', ws.config, 'deals:read', '--record', 'payouts/p1']).code, 2);
});

test('access: the permission matrix of one member', () => {
  const m = json(rolegate(['access', '--config', ws.config, 'u-mia', '--json']));
  const cell = Object.fromEntries(m.permissions.map((p: { resource: string; action: string; access: string; reason: string }) => [`${p.resource}:${p.action}`, `${p.access} ${p.reason}`]));
  assert.equal(cell['deals:read'], 'allowed allow');
  assert.equal(cell['deals:delete'], 'conditional condition_failed');
  assert.equal(cell['payouts:list'], 'denied excluded_by_tag');
  assert.equal(cell['partners:read'], 'allowed allow');
  assert.equal(m.permissions.length, 8);
  const human = rolegate(['access', '--config', ws.config, 'u-pat']);
  assert.match(human.stdout, /^profile +read +conditional +partner_contact: when self$/m);
  assert.match(human.stdout, /^deals +read +denied +not_granted/m);
});
