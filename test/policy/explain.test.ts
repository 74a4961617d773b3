/**
 * explainRequest: a trace for the allow and for every deny reason, on the
 * gateway's engine; the tracer never changes a decision; judgeAccess answers
 * allowed / conditional / denied for who-can and access.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  explainPrincipal, decide, explainRequest, judgeAccess, loadPolicy, type CompiledPolicy, type DecideTracer, type FactSource, type Principal,
} from '../../src/policy/index.js';
import { GatewayError } from '../../src/errors.js';
import { loadSeed, MemoryAssignmentStore } from '../../src/store/index.js';
import { ROOT, workspace, type Workspace } from '../cli/workspace.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
let ws: Workspace;
let policy: CompiledPolicy;
let store: MemoryAssignmentStore;

before(() => {
  ws = workspace();
  policy = loadPolicy([join(ws.dir, 'policy.yaml')], { upstreams: null, methods: METHODS });
  store = new MemoryAssignmentStore(loadSeed(join(ws.dir, 'members.yaml')));
});
after(() => ws.close());

const NAMES = { org: 'org_id', kind: 'kind', groups: 'groups' };
function principal(id: string, claims: Record<string, unknown> = {}): Principal {
  return explainPrincipal(id, claims, store.getMember(id), NAMES).principal;
}
const explain = (id: string, method: string, path: string, opts = {}) => explainRequest(policy, principal(id), method, path, store, opts);

describe('explain: the allow and each deny reason', () => {
  test('allow: the role, unconditional grant', async () => {
    const ex = await explain('u-vera', 'GET', '/api/deals/d1');
    assert.equal(ex.decision, 'allow');
    assert.equal(ex.reason, 'allow');
    assert.equal(ex.status, 200);
    assert.equal(ex.route?.id, 'GET /api/deals/:id');
    assert.match(ex.route!.source, /policy\.yaml:\d+$/);
    assert.deepEqual(ex.route?.params, { id: 'd1' });
    assert.equal(ex.roles.length, 1);
    assert.equal(ex.roles[0]!.role, 'viewer');
    assert.equal(ex.roles[0]!.outcome, 'allow');
    assert.equal(ex.roles[0]!.grant, 'always');
  });

  test('allow through a condition: which condition held and why', async () => {
    const ex = await explain('u-mia', 'DELETE', '/api/deals/d1');
    assert.equal(ex.reason, 'allow');
    const alt = (ex.roles[0]!.grant as { result: string; conditions: { condition: string; result: string; why: string }[] }[])[0]!;
    assert.equal(alt.result, 'held');
    assert.deepEqual(alt.conditions.map((c) => [c.condition, c.result]), [['assigned', 'held']]);
    assert.match(alt.conditions[0]!.why, /u-mia is one of the assignees of deals\/d1/);
    assert.deepEqual(ex.target?.record?.assignees, ['u-mia']);
  });

  test('condition_failed: the condition that failed, with the facts', async () => {
    const ex = await explain('u-mia', 'DELETE', '/api/deals/d2');
    assert.equal(ex.reason, 'condition_failed');
    assert.equal(ex.status, 403);
    const c = (ex.roles[0]!.grant as { conditions: { result: string; why: string }[] }[])[0]!.conditions[0]!;
    assert.equal(c.result, 'failed');
    assert.match(c.why, /not one of the assignees of deals\/d2 \(u-olivia\)/);
  });

  test('condition_failed on an unknown record says the store does not know it', async () => {
    const ex = await explain('u-mia', 'DELETE', '/api/deals/zz');
    assert.equal(ex.reason, 'condition_failed');
    assert.equal(ex.target?.record?.known, false);
    assert.match(JSON.stringify(ex.roles), /record deals\/zz is unknown to the store/);
  });

  test('condition_failed for own_org and self name both sides', async () => {
    const org = await explain('u-pat', 'GET', '/api/partners/p-7');
    assert.equal(org.reason, 'condition_failed');
    assert.equal(org.roles[0]!.via, 'default');
    assert.equal(org.roles[0]!.from, 'partner');
    assert.match(JSON.stringify(org.roles), /p-7.*p-42/);
    const self = await explain('u-pat', 'GET', '/api/users/u-olivia/profile');
    assert.equal(self.reason, 'condition_failed');
    assert.match(JSON.stringify(self.roles), /user u-olivia is not the principal u-pat/);
    assert.equal((await explain('u-pat', 'GET', '/api/partners/p-42')).reason, 'allow');
  });

  test('excluded_by_tag: the except tag, and the ancestor it came from', async () => {
    const own = await explain('u-vera', 'GET', '/api/payouts');
    assert.equal(own.reason, 'excluded_by_tag');
    assert.deepEqual(own.roles[0]!.excludedBy, { by: 'tag', name: 'financial', role: 'viewer' });
    const inherited = await explain('u-al', 'GET', '/api/payouts');
    assert.equal(inherited.reason, 'excluded_by_tag');
    assert.deepEqual(inherited.roles[0]!.excludedBy, { by: 'tag', name: 'financial', role: 'viewer' });
    assert.match(inherited.roles[0]!.why, /except tag "financial" \(inherited from viewer\)/);
  });

  test('not_granted', async () => {
    const ex = await explain('u-vera', 'DELETE', '/api/deals/d1');
    assert.equal(ex.reason, 'not_granted');
    assert.equal(ex.roles[0]!.outcome, 'not_granted');
  });

  test('audience_mismatch and login_disabled', async () => {
    const aud = await explain('u-hal', 'GET', '/api/deals/d1');
    assert.equal(aud.reason, 'audience_mismatch');
    assert.equal(aud.roles[0]!.outcome, 'audience');
    assert.match(aud.roles[0]!.why, /audience partner.*kind internal/);
    const login = await explain('u-bot', 'GET', '/api/deals/d1');
    assert.equal(login.reason, 'login_disabled');
    assert.equal(login.roles[0]!.outcome, 'login');
  });

  test('membership: no_role, not_a_member, member_pending, member_removed', async () => {
    assert.equal((await explain('u-nobody', 'GET', '/api/deals')).reason, 'no_role');
    const stranger = await explain('u-stranger', 'GET', '/api/deals');
    assert.equal(stranger.reason, 'not_a_member');
    assert.equal(stranger.principal.status, 'unknown');
    const pending = await explain('u-ivy', 'GET', '/api/deals');
    assert.equal(pending.reason, 'member_pending');
    assert.equal(pending.roles.length, 0);
    assert.equal((await explain('u-rex', 'GET', '/api/deals')).reason, 'member_removed');
  });

  test('a role the policy no longer defines is listed as granting nothing', async () => {
    const ex = await explainRequest(policy, { id: 'x', status: 'active', kind: 'internal', org: undefined, roles: ['deleted_role'], groups: [] }, 'GET', '/api/deals', store);
    assert.equal(ex.reason, 'no_role');
    assert.equal(ex.roles[0]!.outcome, 'unknown_role');
  });

  test('group roles are traced with their group', async () => {
    const ex = await explain('u-ed', 'GET', '/api/deals/d1');
    assert.equal(ex.reason, 'allow');
    assert.deepEqual([ex.roles[0]!.role, ex.roles[0]!.via, ex.roles[0]!.from], ['viewer', 'group', 'emea']);
  });

  test('list route: per-record conditions become the filter', async () => {
    const ex = await explain('u-pat', 'GET', '/api/deals');
    assert.equal(ex.reason, 'filter');
    assert.equal(ex.decision, 'allow');
    assert.deepEqual(ex.listFilter, [['collaborator']]);
    assert.equal((ex.roles[0]!.grant as { result: string }[])[0]!.result, 'per_record');
  });

  test('no_route, public routes, refused targets, methods and _method', async () => {
    assert.equal((await explain('u-vera', 'GET', '/nothing/here')).reason, 'no_route');
    const pub = await explain('u-stranger', 'GET', '/api/public/status');
    assert.equal(pub.reason, 'allow');
    assert.equal(pub.route?.public, true);
    const dot = await explain('u-vera', 'GET', '/api/../api/deals');
    assert.equal(dot.reason, 'dot_segment');
    assert.equal(dot.status, 400);
    assert.equal(dot.canonical, undefined);
    assert.equal((await explain('u-vera', 'OPTIONS', '/api/deals', { methods: ['GET'] })).reason, 'method_not_allowed');
    const override = await explain('u-vera', 'GET', '/api/deals/d1?_method=DELETE');
    assert.equal(override.reason, 'method_override');
    assert.equal((await explain('u-vera', 'GET', '/api/deals/d1?_method=DELETE', { ignoresMethodOverride: () => true })).reason, 'allow');
  });

  test('store_unavailable while reading facts is the answer, not an exception', async () => {
    const down: FactSource = { getRelations: () => { throw new GatewayError('store_unavailable'); }, getPartnerGroups: () => null };
    const ex = await explainRequest(policy, principal('u-mia'), 'DELETE', '/api/deals/d1', down);
    assert.equal(ex.reason, 'store_unavailable');
    assert.equal(ex.status, 503);
  });
});

describe('explainPrincipal: the gateway rule, with sources', () => {
  test('org and kind from claims win over the store; groups add up', () => {
    const a = explainPrincipal('u-pat', { org_id: 'p-7', groups: ['apac'] }, store.getMember('u-pat'), NAMES);
    assert.equal(a.principal.org, 'p-7');
    assert.equal(a.principal.kind, 'partner');
    assert.deepEqual(a.principal.groups, ['apac']);
    assert.equal(a.sources.org, 'claim org_id');
    assert.equal(a.sources.kind, 'store');
    const b = explainPrincipal('u-ed', { groups: ['apac'] }, store.getMember('u-ed'), NAMES);
    assert.deepEqual(b.principal.groups, ['emea', 'apac']);
  });

  test('a claim the gateway would refuse throws invalid_claim', () => {
    assert.throws(() => explainPrincipal('u', { org_id: 42 }, null, NAMES), (e: unknown) => e instanceof GatewayError && e.reason === 'invalid_claim');
    assert.throws(() => explainPrincipal('u', { groups: 'emea' }, null, NAMES), (e: unknown) => e instanceof GatewayError && e.reason === 'invalid_claim');
  });
});

describe('judgeAccess', () => {
  const perm = (k: string) => policy.permIndex.get(k)!;
  test('allowed, conditional with the open conditions, denied with the reason', () => {
    assert.equal(judgeAccess(policy, principal('u-vera'), perm('deals:read')).access, 'allowed');
    const mia = judgeAccess(policy, principal('u-mia'), perm('deals:delete'));
    assert.equal(mia.access, 'conditional');
    assert.deepEqual(mia.conditions, [{ role: 'manager', via: 'direct', when: [['assigned']] }]);
    const pay = judgeAccess(policy, principal('u-al'), perm('payouts:list'));
    assert.equal(pay.access, 'denied');
    assert.equal(pay.reason, 'excluded_by_tag');
    assert.equal(pay.excludedBy?.role, 'viewer');
  });

  test('a record in the query settles record conditions', () => {
    const d1 = { recordRef: 'deals/d1', record: store.getRelations('deals/d1')! };
    const d2 = { recordRef: 'deals/d2', record: store.getRelations('deals/d2')! };
    const yes = judgeAccess(policy, principal('u-mia'), perm('deals:delete'), d1);
    assert.equal(yes.access, 'allowed');
    assert.deepEqual(yes.by?.when, ['assigned']);
    const no = judgeAccess(policy, principal('u-mia'), perm('deals:delete'), d2);
    assert.equal(no.access, 'denied');
    assert.equal(no.reason, 'condition_failed');
  });
});

test('the tracer never changes a decision (every role x permission x target of the shipped policies)', () => {
  const shipped = loadPolicy([join(ROOT, 'policies', 'portal.yaml')], { upstreams: null, methods: METHODS });
  const noop: DecideTracer = { role() {}, condition() {}, outcome() {} };
  const targets = (perm: number) => [
    { perm, org: undefined, user: undefined, record: undefined, partnerGroups: undefined },
    { perm, org: 'p-42', user: 'u-pat', record: { assignees: ['u-mia'], collaborators: ['u-pat'], partner: 'p-42' }, partnerGroups: ['emea'] },
    { perm, org: 'p-7', user: 'u-x', record: { assignees: [], collaborators: [], partner: 'p-7' }, partnerGroups: ['amer'] },
  ];
  let n = 0;
  for (const role of [...shipped.roles.keys(), 'gone']) {
    for (const kind of ['internal', 'partner', undefined]) {
      const p: Principal = { id: 'u-pat', status: 'active', kind, org: 'p-42', roles: role === 'gone' ? [] : [role], groups: ['emea'] };
      shipped.permissions.forEach((_, perm) => {
        for (const t of targets(perm)) {
          const plain = decide(shipped, p, { ...t, listFilter: [] });
          const traced = decide(shipped, p, { ...t, listFilter: [] }, noop);
          assert.equal(traced, plain);
          assert.equal(decide(shipped, p, t, noop), decide(shipped, p, t));
          n++;
        }
      });
    }
  }
  assert.ok(n > 100);
});
