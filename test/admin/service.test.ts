/**
 * AdminService against the in-memory store with a clock the test moves:
 * what HTTP cannot show quickly (an invitation expiring), and the escalation
 * rule's coverage table on conditional grants.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../../src/errors.js';
import { assemblePrincipal, readPolicySources, covers, type Holding } from '../../src/policy/index.js';
import { MemoryAdminStore, MemoryAssignmentStore, loadSeed } from '../../src/store/index.js';
import { AdminService, PolicyViews, type Caller } from '../../src/admin/index.js';

const PORTAL = fileURLToPath(new URL('../../../policies/portal.yaml', import.meta.url));
const SEED = fileURLToPath(new URL('../../../config/demo-members.yaml', import.meta.url));
const CLAIMS = { subject: 'sub', org: 'org_id', kind: 'kind', roles: 'roles', groups: 'groups', email: 'email' };

function setup() {
  let now = Date.UTC(2026, 10, 25);
  const members = new MemoryAssignmentStore(loadSeed(SEED));
  const store = new MemoryAdminStore(members, { auditMaxEntries: 100, now: () => now });
  const sources = readPolicySources([PORTAL]);
  const service = new AdminService({
    store, views: new PolicyViews(store, () => sources, { upstreams: null, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] }),
    emailClaim: 'email', inviteTtlS: 3600, now: () => now,
  });
  const caller = async (id: string, claims: Record<string, unknown> = {}): Promise<Caller> =>
    ({ principal: assemblePrincipal(id, claims, await store.getMember(id), CLAIMS), claims, requestId: `r-${id}` });
  return { service, caller, advance: (ms: number) => { now += ms; } };
}

async function refused(p: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof GatewayError && e.reason === reason);
}

describe('invitation expiry', () => {
  test('an invitation past its expiry is 410 until resent; resending keeps its lifetime', async () => {
    const { service, caller, advance } = setup();
    const inv = await service.invite(await caller('u-adam'), { email: 'nia@acme.test', roles: ['viewer'], expires_in_s: 120 });
    assert.equal(inv.status, 201);
    advance(121_000);
    const listed = await service.getMember(await caller('u-adam'), 'nia@acme.test');
    assert.equal((listed.body as { invite: { expired: boolean } }).invite.expired, true);
    const nia = async () => caller('nia@acme.test', { email: 'nia@acme.test' });
    await refused(service.accept(await nia()), 'invite_expired');
    const resent = await service.resend(await caller('u-adam'), 'nia@acme.test');
    const invite = (resent.body as { invite: { expires_ms: number; sent_ms: number; sends: number } }).invite;
    assert.equal(invite.expires_ms - invite.sent_ms, 120_000);
    assert.equal(invite.sends, 2);
    advance(60_000);
    assert.equal((await service.accept(await nia())).status, 200);
  });

  test('the default lifetime is admin.invite_ttl_s', async () => {
    const { service, caller } = setup();
    const inv = await service.invite(await caller('u-olivia'), { email: 'leo@acme.test', roles: ['member'] });
    const invite = (inv.body as { invite: { expires_ms: number; sent_ms: number } }).invite;
    assert.equal(invite.expires_ms - invite.sent_ms, 3600_000);
  });
});

describe('covers: may a caller holding `have` grant a role holding `need`?', () => {
  const ROWS: [have: Holding | undefined, need: Holding | undefined, ok: boolean][] = [
    [true, true, true],
    [true, [['assigned']], true],
    [undefined, undefined, true],
    [undefined, true, false],
    [[['assigned']], true, false],
    [[['assigned']], [['assigned']], true],
    [[['assigned']], [['assigned', 'own_org']], true],
    [[['assigned', 'own_org']], [['assigned']], false],
    [[['assigned'], ['collaborator']], [['collaborator']], true],
    [[['assigned']], [['assigned'], ['collaborator']], false],
    [[['own_org']], [['self']], false],
  ];
  for (const [have, need, ok] of ROWS) {
    test(`${JSON.stringify(have) ?? 'none'} covers ${JSON.stringify(need) ?? 'none'}: ${ok}`, () => {
      assert.equal(covers(have, need), ok);
    });
  }
});

describe('a partner admin scoped with own_org', () => {
  const POLICY = `
resources:
  deals:   { actions: [list, read] }
  members: { actions: [list, read, invite, update, assign, remove] }
roles:
  partner_admin: { audience: partner, grants: [{ allow: "members:*", when: own_org }, "deals:list"] }
  partner_user:  { audience: partner, grants: ["deals:list"] }
`;
  const SEED = `
members:
  u-pa:  { status: active, roles: [partner_admin], org: p-42, kind: partner }
  u-pu:  { status: active, roles: [partner_user], org: p-42, kind: partner }
  u-px:  { status: active, roles: [partner_user], org: p-7, kind: partner }
`;
  function partnerSetup() {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-svc-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    writeFileSync(join(dir, 'seed.yaml'), SEED);
    const members = new MemoryAssignmentStore(loadSeed(join(dir, 'seed.yaml')));
    const store = new MemoryAdminStore(members, { auditMaxEntries: 100 });
    const sources = readPolicySources([join(dir, 'policy.yaml')]);
    const service = new AdminService({ store, views: new PolicyViews(store, () => sources, { upstreams: null, methods: ['GET'] }), emailClaim: 'email', inviteTtlS: 3600 });
    const caller = async (id: string): Promise<Caller> => ({ principal: assemblePrincipal(id, {}, await store.getMember(id), CLAIMS), claims: {}, requestId: 'r' });
    return { service, caller, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }

  test('manages its own org\'s teammates only, and cannot hand one to another org', async () => {
    const { service, caller, cleanup } = partnerSetup();
    try {
      const pa = await caller('u-pa');
      assert.equal((await service.patchMember(pa, 'u-pu', { groups: ['emea'] }, undefined)).status, 200);
      await refused(service.patchMember(pa, 'u-px', { groups: ['emea'] }, undefined), 'condition_failed');
      await refused(service.patchMember(pa, 'u-pu', { org: 'p-7' }, undefined), 'condition_failed');
      await refused(service.listMembers(pa, { limit: 10 }), 'condition_failed');
      const mine = await service.listMembers(pa, { org: 'p-42', limit: 10 });
      assert.deepEqual((mine.body as { items: { id: string }[] }).items.map((m) => m.id), ['u-pa', 'u-pu']);
      const inv = await service.invite(pa, { email: 'new@p42.test', roles: ['partner_user'], org: 'p-42' });
      assert.equal((inv.body as { kind: string }).kind, 'partner');
      await refused(service.invite(pa, { email: 'x@p7.test', roles: ['partner_user'], org: 'p-7' }), 'condition_failed');
    } finally { cleanup(); }
  });
});
