import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { decide, loadPolicy, type CompiledPolicy, type Decision, type PolicyLoadOptions, type Principal, type RecordFacts, type Target } from '../../src/policy/index.js';

// Fixtures stay in the source tree; this file runs from dist/test/policy/.
const DECIDE = fileURLToPath(new URL('../../../test/policy/testdata/decide/', import.meta.url));
const OPTS: PolicyLoadOptions = { upstreams: new Set(['portal']), methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] };
const POLICY = loadPolicy([`${DECIDE}policy.yaml`], OPTS);
const NO_DEFAULTS = loadPolicy([`${DECIDE}no-defaults.yaml`], OPTS);

const ME = 'u-me';

/** An active internal member of org acme with no roles, unless overridden. */
const who = (over: Partial<Principal> = {}): Principal => ({ id: ME, status: 'active', org: 'acme', kind: 'internal', roles: [], groups: [], ...over });
const partner = (over: Partial<Principal> = {}): Principal => who({ org: 'p-42', kind: 'partner', ...over });

interface TargetFacts { org?: string; user?: string; record?: Partial<RecordFacts>; partnerGroups?: string[] }
function on(policy: CompiledPolicy, permission: string, facts: TargetFacts = {}): Target {
  const perm = policy.permIndex.get(permission);
  assert.ok(perm !== undefined, `policy declares ${permission}`);
  return {
    perm,
    org: facts.org,
    user: facts.user,
    record: facts.record ? { assignees: [], collaborators: [], ...facts.record } : undefined,
    partnerGroups: facts.partnerGroups,
  };
}
const at = (permission: string, facts?: TargetFacts) => on(POLICY, permission, facts);

interface Row { name: string; principal: Principal; target: Target; want: Decision; policy?: CompiledPolicy }
const row = (name: string, principal: Principal, target: Target, want: Decision, policy?: CompiledPolicy): Row => ({ name, principal, target, want, ...(policy ? { policy } : {}) });

const ROWS: Row[] = [
  // owner: *:*
  row('owner reads payouts', who({ roles: ['owner'] }), at('payouts:update'), 'allow'),
  row('owner updates settings', who({ roles: ['owner'] }), at('settings:update'), 'allow'),

  // admin: *:* except financial
  row('admin deletes deals', who({ roles: ['admin'] }), at('deals:delete'), 'allow'),
  row('admin updates settings', who({ roles: ['admin'] }), at('settings:update'), 'allow'),
  row('admin reads payouts: excluded by tag', who({ roles: ['admin'] }), at('payouts:read'), 'excluded_by_tag'),
  row('admin lists payouts: excluded by tag', who({ roles: ['admin'] }), at('payouts:list'), 'excluded_by_tag'),

  // viewer and member (inherits viewer)
  row('viewer reads deals', who({ roles: ['viewer'] }), at('deals:read'), 'allow'),
  row('viewer lists partners', who({ roles: ['viewer'] }), at('partners:list'), 'allow'),
  row('viewer updates deals: not granted', who({ roles: ['viewer'] }), at('deals:update'), 'not_granted'),
  row('viewer reads settings: excluded by tag', who({ roles: ['viewer'] }), at('settings:read'), 'excluded_by_tag'),
  row('member lists deals (inherited from viewer)', who({ roles: ['member'] }), at('deals:list'), 'allow'),
  row('member reads profile (inherited *:list,read)', who({ roles: ['member'] }), at('profile:read'), 'allow'),
  row('member creates deals (own grant)', who({ roles: ['member'] }), at('deals:create'), 'allow'),
  row('member deletes deals: not granted', who({ roles: ['member'] }), at('deals:delete'), 'not_granted'),
  row('member reads payouts: viewer\'s except is inherited', who({ roles: ['member'] }), at('payouts:read'), 'excluded_by_tag'),

  // several roles: union, the most permissive wins, whatever the order
  row('admin + payouts_clerk reads payouts', who({ roles: ['admin', 'payouts_clerk'] }), at('payouts:read'), 'allow'),
  row('payouts_clerk + admin reads payouts', who({ roles: ['payouts_clerk', 'admin'] }), at('payouts:read'), 'allow'),
  row('admin + payouts_clerk updates payouts', who({ roles: ['admin', 'payouts_clerk'] }), at('payouts:update'), 'excluded_by_tag'),
  row('viewer + settings_editor updates settings', who({ roles: ['viewer', 'settings_editor'] }), at('settings:update'), 'allow'),
  row('viewer + owner deletes deals', who({ roles: ['viewer', 'owner'] }), at('deals:delete'), 'allow'),
  row('deal_worker (unassigned) + viewer reads deal', who({ roles: ['deal_worker', 'viewer'] }), at('deals:read', { record: {} }), 'allow'),
  row('deal_worker (unassigned) + viewer updates deal', who({ roles: ['deal_worker', 'viewer'] }), at('deals:update', { record: { assignees: ['u-bob'] } }), 'condition_failed'),
  row('unknown role + viewer reads deals', who({ roles: ['ghost', 'viewer'] }), at('deals:read'), 'allow'),

  // conditions: alternatives (any), conditions within one grant (all)
  row('assigned: reads an assigned deal', who({ roles: ['deal_worker'] }), at('deals:read', { record: { assignees: ['u-bob', ME] } }), 'allow'),
  row('collaborator: reads a deal it collaborates on', who({ roles: ['deal_worker'] }), at('deals:read', { record: { collaborators: [ME] } }), 'allow'),
  row('assigned: updates an assigned deal', who({ roles: ['deal_worker'] }), at('deals:update', { record: { assignees: [ME] } }), 'allow'),
  row('collaborator grants read only: update fails', who({ roles: ['deal_worker'] }), at('deals:update', { record: { collaborators: [ME] } }), 'condition_failed'),
  row('neither assigned nor collaborator', who({ roles: ['deal_worker'] }), at('deals:read', { record: { assignees: ['u-bob'], collaborators: ['u-pat'] } }), 'condition_failed'),
  row('no record facts at all', who({ roles: ['deal_worker'] }), at('deals:read'), 'condition_failed'),
  row('assigned AND own_org: both hold', who({ roles: ['closer'] }), at('deals:delete', { org: 'acme', record: { assignees: [ME] } }), 'allow'),
  row('assigned AND own_org: other org', who({ roles: ['closer'] }), at('deals:delete', { org: 'globex', record: { assignees: [ME] } }), 'condition_failed'),
  row('assigned AND own_org: not assigned', who({ roles: ['closer'] }), at('deals:delete', { org: 'acme', record: {} }), 'condition_failed'),
  row('own_org: the partner\'s own org', partner({ roles: ['partner_contact'] }), at('deals:list', { org: 'p-42' }), 'allow'),
  row('own_org: another org', partner({ roles: ['partner_contact'] }), at('deals:list', { org: 'p-7' }), 'condition_failed'),
  row('own_org: route has no org param', partner({ roles: ['partner_contact'] }), at('deals:list'), 'condition_failed'),
  row('own_org: no org on either side never matches', partner({ roles: ['partner_contact'], org: undefined }), at('deals:list'), 'condition_failed'),
  row('own_org: principal without org', partner({ roles: ['partner_contact'], org: undefined }), at('partners:read', { org: 'p-42' }), 'condition_failed'),
  row('self: own profile', partner({ roles: ['partner_contact'] }), at('profile:update', { user: ME }), 'allow'),
  row('self: someone else\'s profile', partner({ roles: ['partner_contact'] }), at('profile:read', { user: 'u-bob' }), 'condition_failed'),
  row('self: no user param', partner({ roles: ['partner_contact'] }), at('profile:read'), 'condition_failed'),
  row('group: partner groups include the principal\'s', partner({ roles: ['reseller'], groups: ['emea'] }), at('deals:read', { partnerGroups: ['apac', 'emea'] }), 'allow'),
  row('group: no shared group', partner({ roles: ['reseller'], groups: ['emea'] }), at('deals:read', { partnerGroups: ['apac'] }), 'condition_failed'),
  row('group: partner has no groups known', partner({ roles: ['reseller'], groups: ['emea'] }), at('deals:read'), 'condition_failed'),
  row('group: principal in no group', partner({ roles: ['reseller'] }), at('deals:read', { partnerGroups: ['emea'] }), 'condition_failed'),

  // audience
  row('partner-only role, internal principal', who({ roles: ['partner_contact'] }), at('deals:list', { org: 'acme' }), 'audience_mismatch'),
  row('internal-only role, partner principal', partner({ roles: ['internal_only'] }), at('deals:list'), 'audience_mismatch'),
  row('partner-only role, principal of no kind', who({ roles: ['partner_contact'], kind: undefined }), at('deals:list', { org: 'acme' }), 'audience_mismatch'),
  row('internal-only role, internal principal', who({ roles: ['internal_only'] }), at('deals:list'), 'allow'),
  row('partner-only role + viewer, internal principal', who({ roles: ['partner_contact', 'viewer'] }), at('deals:list'), 'allow'),
  row('partner-only role + viewer, not granted by viewer', who({ roles: ['partner_contact', 'viewer'] }), at('deals:delete'), 'not_granted'),

  // login: false
  row('login:false role only', who({ roles: ['service'] }), at('deals:read'), 'login_disabled'),
  row('login:false role + viewer', who({ roles: ['service', 'viewer'] }), at('deals:read'), 'allow'),
  row('viewer + login:false role', who({ roles: ['viewer', 'service'] }), at('deals:list'), 'allow'),
  row('login:false + viewer, not granted by viewer', who({ roles: ['service', 'viewer'] }), at('deals:delete'), 'not_granted'),

  // membership status
  row('pending owner', who({ roles: ['owner'], status: 'pending' }), at('deals:read'), 'member_pending'),
  row('removed owner', who({ roles: ['owner'], status: 'removed' }), at('deals:read'), 'member_removed'),
  row('removed partner with no role', partner({ status: 'removed' }), at('deals:list', { org: 'p-42' }), 'member_removed'),

  // unknown principals (not in the store) get the default roles of their audience if the policy has them (issue 5),
  // else not_a_member; groups from the token's claim count for them too
  row('unknown internal principal (no internal default roles)', who({ status: 'unknown' }), at('deals:list'), 'not_a_member'),
  row('unknown principal of no kind', who({ status: 'unknown', kind: undefined }), at('deals:list'), 'not_a_member'),
  row('unknown partner, policy without default_roles', partner({ status: 'unknown' }), on(NO_DEFAULTS, 'deals:list', { org: 'p-42' }), 'not_a_member', NO_DEFAULTS),
  row('unknown partner, policy with default_roles, target the default role allows', partner({ status: 'unknown' }), at('deals:list', { org: 'p-42' }), 'allow'),
  row('unknown partner, policy with default_roles, target the default role denies', partner({ status: 'unknown' }), at('payouts:read'), 'not_granted'),
  row('unknown partner whose token names a group with roles', partner({ status: 'unknown', groups: ['emea'] }), at('deals:read', { partnerGroups: ['emea'] }), 'allow'),

  // members with no role at all get their kind's default roles
  row('partner member with [] roles: default role allows', partner(), at('deals:list', { org: 'p-42' }), 'allow'),
  row('partner member with [] roles: default role, own profile', partner(), at('profile:read', { user: ME }), 'allow'),
  row('partner member with [] roles: default role condition fails', partner(), at('deals:list', { org: 'p-7' }), 'condition_failed'),
  row('partner member with [] roles: default role lacks the grant', partner(), at('payouts:read'), 'not_granted'),
  row('internal member with [] roles (no internal defaults)', who(), at('deals:list'), 'no_role'),
  row('partner member with [] roles, policy without default_roles', partner(), on(NO_DEFAULTS, 'deals:list', { org: 'p-42' }), 'no_role', NO_DEFAULTS),

  // roles that do not exist (deleted from the policy)
  row('member whose roles are all unknown', who({ roles: ['ghost', 'phantom'] }), at('deals:read'), 'no_role'),
  row('partner member whose roles are all unknown', partner({ roles: ['ghost'] }), at('deals:list', { org: 'p-42' }), 'no_role'),

  // group roles (policy groups: emea -> reseller, staff -> viewer)
  row('group role: emea partner reads an emea partner\'s deal', partner({ groups: ['emea'] }), at('deals:read', { partnerGroups: ['emea'] }), 'allow'),
  row('group role: emea partner, apac partner\'s deal', partner({ groups: ['emea'] }), at('deals:read', { partnerGroups: ['apac'] }), 'condition_failed'),
  row('group role: staff group gives viewer', who({ groups: ['staff'] }), at('deals:list'), 'allow'),
  row('group role: staff group, financial', who({ groups: ['staff'] }), at('payouts:list'), 'excluded_by_tag'),
  row('group role + own role: most permissive wins', who({ roles: ['settings_editor'], groups: ['staff'] }), at('deals:read'), 'allow'),
  row('group unknown to the policy, no role', who({ groups: ['nowhere'] }), at('deals:list'), 'no_role'),
  row('pending member of a group', who({ groups: ['staff'], status: 'pending' }), at('deals:list'), 'member_pending'),
];

test('decide: (principal, target) -> decision', async (t) => {
  for (const r of ROWS) {
    await t.test(r.name, () => {
      const before = JSON.stringify(r.target);
      assert.equal(decide(r.policy ?? POLICY, r.principal, r.target), r.want);
      assert.equal(JSON.stringify(r.target), before, 'decide does not change its target');
    });
  }
});

test('decide: every row name is unique', () => {
  assert.equal(new Set(ROWS.map((r) => r.name)).size, ROWS.length);
});

test('compiled roles: inherits and except are applied at load time', () => {
  const perms = (role: string) => POLICY.permissions.filter((_, i) => POLICY.roles.get(role)!.perms[i] !== undefined).map((p) => `${p.resource}:${p.action}`);
  assert.deepEqual(perms('viewer'), ['deals:list', 'deals:read', 'partners:list', 'partners:read', 'profile:read']);
  assert.deepEqual(perms('member'), ['deals:list', 'deals:read', 'deals:create', 'deals:update', 'partners:list', 'partners:read', 'profile:read']);
  assert.deepEqual(perms('admin'), POLICY.permissions.filter((p) => !p.tags.includes('financial')).map((p) => `${p.resource}:${p.action}`));
  assert.equal(perms('owner').length, POLICY.permissions.length);
  const worker = POLICY.roles.get('deal_worker')!;
  assert.deepEqual(worker.perms[POLICY.permIndex.get('deals:read')!], [['assigned'], ['collaborator']], 'two grants of one permission are alternatives');
  assert.deepEqual(POLICY.roles.get('closer')!.perms[POLICY.permIndex.get('deals:delete')!], [['assigned', 'own_org']]);
  assert.equal(POLICY.roles.get('partner_contact')!.audience, 'partner');
  assert.equal(POLICY.roles.get('service')!.login, false);
  assert.deepEqual(POLICY.defaultRoles, { internal: [], partner: ['partner_contact'] });
  assert.deepEqual([...POLICY.groupRoles], [['emea', ['reseller']], ['staff', ['viewer']]]);
  assert.equal(POLICY.usesRecordConditions, true);
  // own_org reads the record's partner when the route has no org param, so it needs store facts too
  assert.equal(NO_DEFAULTS.usesRecordConditions, NO_DEFAULTS.factsNeeded.some(Boolean));
  assert.equal(POLICY.factsNeeded[POLICY.permIndex.get('deals:delete')!], true);
});
