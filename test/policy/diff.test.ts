/**
 * diffPolicies on pairs of policies with known gains and losses, including
 * changes only visible through `inherits`, `except` or tags, and route remaps.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareGrants, diffPolicies, loadPolicy, normalizeGrant, type CompiledPolicy, type PolicyDiff, type Principal } from '../../src/policy/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rolegate-diff-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function load(yaml: string): CompiledPolicy {
  const f = join(dir, `p${n++}.yaml`);
  writeFileSync(f, yaml);
  return loadPolicy([f], { upstreams: null, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] });
}

const RESOURCES = `resources:
  deals:    { actions: [list, read, update, delete] }
  payouts:  { actions: [list, read], tags: [financial] }
  settings: { actions: [read], tags: [settings] }
`;
const BASE = `${RESOURCES}roles:
  viewer:  { grants: ["*:list,read"], except: { tags: [financial, settings] } }
  member:  { inherits: [viewer] }
  manager: { inherits: [viewer], grants: [{ allow: "deals:update", when: assigned }] }
routes:
  - { match: "GET /api/deals/:id", resource: deals, action: read, record: id, upstream: portal }
  - { match: "GET /api/payouts", resource: payouts, action: list, upstream: portal }
`;

const rights = (d: PolicyDiff, role: string) => Object.fromEntries((d.roles.find((r) => r.role === role)?.rights ?? []).map((r) => [r.permission, r.change]));

describe('role rights', () => {
  test('identical policies: no change at all', () => {
    const d = diffPolicies(load(BASE), load(BASE));
    assert.deepEqual(d.summary, { changes: 0, gains: 0, losses: 0 });
  });

  test('a grant added to a parent shows on every child that inherits it (no child edited)', () => {
    const d = diffPolicies(load(BASE), load(BASE.replace('grants: ["*:list,read"]', 'grants: ["*:list,read", "deals:delete"]')));
    for (const role of ['viewer', 'member', 'manager']) assert.deepEqual(rights(d, role), { 'deals:delete': 'gained' }, role);
    assert.equal(d.summary.losses, 0);
  });

  test('changing only `inherits` moves rights', () => {
    const next = BASE.replace('member:  { inherits: [viewer] }', 'member:  { inherits: [manager] }');
    const d = diffPolicies(load(BASE), load(next));
    assert.deepEqual(rights(d, 'member'), { 'deals:update': 'gained' });
    assert.deepEqual(d.roles.find((r) => r.role === 'member')!.rights[0]!.after, [['assigned']]);
  });

  test('dropping a tag from `except` is a gain, named; adding one is a loss, named', () => {
    const gained = diffPolicies(load(BASE), load(BASE.replace('except: { tags: [financial, settings] }', 'except: { tags: [financial] }')));
    assert.deepEqual(rights(gained, 'member'), { 'settings:read': 'gained' });
    assert.deepEqual(gained.roles.find((r) => r.role === 'member')!.rights[0]!.wasExcludedBy, { by: 'tag', name: 'settings', role: 'viewer' });
    const lost = diffPolicies(load(BASE), load(BASE.replace('except: { tags: [financial, settings] }', 'except: { tags: [financial, settings], resources: [deals] }')));
    const m = lost.roles.find((r) => r.role === 'manager')!;
    assert.deepEqual(Object.fromEntries(m.rights.map((r) => [r.permission, r.change])), { 'deals:list': 'lost', 'deals:read': 'lost' });
    // manager's own conditional deals:update survives: `except` applies to inherited rights only where the child does not grant it
    assert.deepEqual(m.rights[0]!.excludedBy, { by: 'resource', name: 'deals', role: 'viewer' });
    assert.ok(lost.summary.losses > 0 && lost.summary.gains === 0);
  });

  test('a tag moved between resources changes rights through `except` alone', () => {
    const moved = BASE.replace('deals:    { actions: [list, read, update, delete] }', 'deals:    { actions: [list, read, update, delete], tags: [financial] }')
      .replace('payouts:  { actions: [list, read], tags: [financial] }', 'payouts:  { actions: [list, read] }');
    const d = diffPolicies(load(BASE), load(moved));
    assert.deepEqual(rights(d, 'viewer'), { 'deals:list': 'lost', 'deals:read': 'lost', 'payouts:list': 'gained', 'payouts:read': 'gained' });
  });

  test('conditions: broadened, narrowed, changed; redundant alternatives are no change', () => {
    const withGrant = (g: string) => `${RESOURCES}roles:\n  r: { grants: [${g}] }\n`;
    const d1 = diffPolicies(load(withGrant('{ allow: "deals:read", when: assigned }')), load(withGrant('"deals:read"')));
    assert.deepEqual(rights(d1, 'r'), { 'deals:read': 'broadened' });
    const d2 = diffPolicies(load(withGrant('"deals:read"')), load(withGrant('{ allow: "deals:read", when: [assigned, own_org] }')));
    assert.deepEqual(rights(d2, 'r'), { 'deals:read': 'narrowed' });
    const d3 = diffPolicies(load(withGrant('{ allow: "deals:read", when: assigned }')), load(withGrant('{ allow: "deals:read", when: collaborator }')));
    assert.deepEqual(rights(d3, 'r'), { 'deals:read': 'changed' });
    assert.deepEqual([d3.summary.gains, d3.summary.losses], [1, 1]);
    const d4 = diffPolicies(load(withGrant('{ allow: "deals:read", when: assigned }')),
      load(withGrant('{ allow: "deals:read", when: assigned }, { allow: "deals:read", when: [own_org, assigned] }')));
    assert.equal(d4.summary.changes, 0);
  });

  test('compareGrants and normalizeGrant', () => {
    assert.equal(normalizeGrant(undefined), null);
    assert.equal(normalizeGrant(true), 'always');
    assert.deepEqual(normalizeGrant([['self', 'own_org'], ['own_org'], ['own_org']]), [['own_org']]);
    assert.equal(compareGrants([['own_org']], [['own_org']]), null);
    assert.deepEqual(compareGrants(null, 'always'), { gain: true, loss: false, change: 'gained' });
    assert.deepEqual(compareGrants([['own_org']], [['own_org'], ['self']]), { gain: true, loss: false, change: 'broadened' });
    assert.deepEqual(compareGrants([['own_org']], [['own_org', 'self']]), { gain: false, loss: true, change: 'narrowed' });
  });

  test('roles added and removed, audience and login', () => {
    const d = diffPolicies(load(BASE), load(BASE.replace('member:  { inherits: [viewer] }', 'auditor: { inherits: [viewer], audience: internal }')
      .replace('manager: { inherits: [viewer],', 'manager: { inherits: [viewer], login: false, audience: partner,')));
    const byRole = Object.fromEntries(d.roles.map((r) => [r.role, r]));
    assert.equal(byRole.auditor!.change, 'added');
    assert.equal(byRole.member!.change, 'removed');
    assert.ok(byRole.member!.rights.every((r) => r.change === 'lost'));
    assert.deepEqual(byRole.manager!.attributes.map((a) => [a.field, a.before, a.after, a.gain, a.loss]), [
      ['audience', 'any', 'partner', false, true], ['login', true, false, false, true],
    ]);
  });

  test('group and default-role mappings', () => {
    const a = `${BASE}groups:\n  emea: { roles: [viewer] }\n`;
    const b = `${BASE}groups:\n  emea: { roles: [manager] }\n  apac: { roles: [viewer] }\ndefault_roles: { partner: [viewer] }\n`;
    const d = diffPolicies(load(a), load(b));
    const m = Object.fromEntries(d.mappings.map((x) => [`${x.kind}:${x.name}`, [x.added, x.removed, x.gain, x.loss]]));
    assert.deepEqual(m, {
      'group:apac': [['viewer'], [], true, false],
      'group:emea': [['manager'], ['viewer'], true, true],
      'default_roles:partner': [['viewer'], [], true, false],
    });
  });
});

describe('routes', () => {
  test('remapped, added, removed, made public, params and upstream', () => {
    const next = `${RESOURCES}roles:
  viewer:  { grants: ["*:list,read"], except: { tags: [financial, settings] } }
  member:  { inherits: [viewer] }
  manager: { inherits: [viewer], grants: [{ allow: "deals:update", when: assigned }] }
routes:
  - { match: "GET /api/deals/:id", resource: deals, action: read, upstream: portal }
  - { match: "GET /api/payouts", resource: deals, action: list, upstream: portal }
  - { match: "GET /api/settings", resource: settings, action: read, upstream: other }
  - { match: "GET /api/public/**", public: true, upstream: portal }
`;
    const d = diffPolicies(load(BASE), load(next));
    const r = Object.fromEntries(d.routes.map((x) => [x.id, x]));
    assert.deepEqual(r['GET /api/payouts']!.fields, ['methods']);
    assert.equal(r['GET /api/payouts']!.before!.methods.GET, 'payouts:list');
    assert.equal(r['GET /api/payouts']!.after!.methods.GET, 'deals:list');
    assert.ok(r['GET /api/payouts']!.gain && r['GET /api/payouts']!.loss);
    assert.deepEqual(r['GET /api/deals/:id']!.fields, ['params']);
    assert.equal(r['GET /api/deals/:id']!.loss, true);
    assert.equal(r['GET /api/settings']!.change, 'added');
    assert.equal(r['GET /api/public/**']!.change, 'added');
    assert.deepEqual(r['GET /api/public/**']!.after!.methods, { GET: 'public', HEAD: 'public' });

    const upstreamOnly = diffPolicies(load(BASE), load(BASE.replace('action: list, upstream: portal', 'action: list, upstream: other')));
    assert.deepEqual(upstreamOnly.routes.map((x) => [x.id, x.fields, x.gain, x.loss]), [['GET /api/payouts', ['upstream'], false, false]]);
    assert.deepEqual([upstreamOnly.summary.changes, upstreamOnly.summary.gains], [1, 0]);

    const removed = diffPolicies(load(BASE), load(BASE.replace(/ {2}- \{ match: "GET \/api\/payouts".*\n/, '')));
    assert.deepEqual(removed.routes.map((x) => [x.id, x.change, x.loss]), [['GET /api/payouts', 'removed', true]]);
  });
});

describe('members', () => {
  const member = (id: string, roles: string[]): Principal => ({ id, status: 'active', kind: 'internal', org: 'acme', roles, groups: [] });
  test('members whose effective access changes, through rights and remapped routes', () => {
    const next = BASE.replace('except: { tags: [financial, settings] }', 'except: { tags: [financial] }')
      .replace('resource: payouts, action: list', 'resource: deals, action: list');
    const d = diffPolicies(load(BASE), load(next), [member('u-vera', ['viewer']), member('u-mia', ['manager']), member('u-none', [])]);
    assert.deepEqual(d.members!.map((m) => m.id), ['u-vera', 'u-mia']);
    const vera = d.members![0]!;
    assert.deepEqual(vera.rights.map((r) => [r.permission, r.before.grant, r.after.grant]), [['settings:read', null, 'always']]);
    assert.deepEqual(vera.routes.map((r) => [r.route, r.method, r.before.detail, r.after.detail]), [['GET /api/payouts', 'GET', 'denied: excluded_by_tag', 'allowed by viewer']]);
    assert.ok(d.summary.gains >= 4);
  });

  test('a conditional member right narrowed', () => {
    const next = BASE.replace('{ allow: "deals:update", when: assigned }', '{ allow: "deals:update", when: [assigned, own_org] }');
    const d = diffPolicies(load(BASE), load(next), [member('u-mia', ['manager'])]);
    const r = d.members![0]!.rights[0]!;
    assert.deepEqual([r.permission, r.before.grant, r.after.grant, r.gain, r.loss], ['deals:update', [['assigned']], [['assigned', 'own_org']], false, true]);
  });
});
