/**
 * The admin API over real HTTP on its own listener, with the zero-setup
 * in-memory store and the repo's portal policy: invitations through to the
 * gateway's decision, every escalation refusal, custom roles enforced by the
 * gateway without a restart, optimistic concurrency, atomic bulk changes,
 * idempotency, validation and the audit log. (The same flow on Redis across
 * two instances: test/e2e/admin-redis.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ACME_TEAM, adminClient, PORTAL_POLICY, type AdminClient } from '../helpers/admin.js';
import { jsonOf, rawRequest, req } from '../helpers/raw-http.js';

const SEED = `
members:${ACME_TEAM}  u-pat:    { status: active, roles: [], org: p-42, kind: partner, email: pat@p42.test }
relations:
  deals/d1: { assignees: [u-mia], collaborators: [u-pat], partner: p-42 }
partners:
  p-42: { groups: [emea] }
`;

let gw: TestGateway;
let api: AdminClient;

before(async () => {
  gw = await startTestGateway({
    // a group that carries a role: group membership is a way to grant it
    policy: `${PORTAL_POLICY}\ngroups:\n  board: { roles: [owner] }\n`,
    seed: SEED,
    config: (c) => { c.admin = { host: '127.0.0.1', port: 0 }; },
  });
  api = adminClient(gw.gateway.adminUrl!, (sub, claims) => gw.token(sub, { claims }));
});
after(async () => { await gw?.close(); });

/** The gateway's answer for `who` on `path` (status and reason). */
async function atGateway(who: string, path: string, method = 'GET'): Promise<{ status: number; reason: string | undefined }> {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${await gw.token(who, { claims: { email: `${who}@x.test` } })}` } });
  const body = await res.json().catch(() => ({})) as { reason?: string };
  return { status: res.status, reason: res.status === 200 ? undefined : body.reason };
}

describe('who am I', () => {
  test('an owner can do everything, a viewer nothing, in /v1/me', async () => {
    const olivia = await api.as('u-olivia').get('/v1/me');
    assert.equal(olivia.status, 200);
    assert.equal((olivia.body.can as Record<string, string>)['roles:create'], 'yes');
    const vera = await api.as('u-vera').get('/v1/me');
    assert.equal(vera.status, 200);
    assert.ok(Object.values(vera.body.can as Record<string, string>).every((v) => v === 'no'), JSON.stringify(vera.body.can));
  });

  test('no token is 401; a session cookie is not accepted here', async () => {
    const none = await fetch(`${api.url}/v1/me`);
    assert.equal(none.status, 401);
    assert.equal((await none.json() as { reason: string }).reason, 'missing_token');
    const cookie = await fetch(`${api.url}/v1/me`, { headers: { cookie: `session=${await gw.token('u-olivia')}` } });
    assert.equal(cookie.status, 401);
  });
});

describe('invitations, through to the gateway', () => {
  test('invite -> pending at the gateway -> accept (email must match) -> allowed', async () => {
    const inv = await api.as('u-adam').post('/v1/members', { email: 'Ana@Acme.test', roles: ['viewer'] });
    assert.equal(inv.status, 201, JSON.stringify(inv.body));
    assert.equal(inv.body.id, 'ana@acme.test');
    assert.equal(inv.body.status, 'pending');
    assert.equal((inv.body.invite as { sends: number }).sends, 1);
    assert.deepEqual(await atGateway('ana@acme.test', '/api/deals'), { status: 403, reason: 'member_pending' });

    const again = await api.as('u-adam').post('/v1/members', { email: 'ana@acme.test', roles: ['viewer'] });
    assert.equal(again.status, 409);
    assert.equal(again.body.reason, 'member_exists');

    const resent = await api.as('u-adam').post('/v1/members/ana@acme.test/resend');
    assert.equal(resent.status, 200);
    assert.equal((resent.body.invite as { sends: number }).sends, 2);

    const wrong = await api.as('ana@acme.test', { email: 'mallory@evil.test' }).post('/v1/me/accept');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.reason, 'invite_email_mismatch');
    const ok = await api.as('ana@acme.test', { email: 'ANA@acme.test' }).post('/v1/me/accept');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'active');
    assert.equal(ok.body.invite, null);
    assert.deepEqual(await atGateway('ana@acme.test', '/api/deals'), { status: 200, reason: undefined });

    const twice = await api.as('ana@acme.test', { email: 'ana@acme.test' }).post('/v1/me/accept');
    assert.equal(twice.body.reason, 'no_invitation');
  });

  test('removing a member denies it at the gateway at once', async () => {
    assert.equal((await atGateway('u-max', '/api/deals')).status, 200);
    const res = await api.as('u-adam').del('/v1/members/u-max');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'removed');
    assert.deepEqual(await atGateway('u-max', '/api/deals'), { status: 403, reason: 'member_removed' });
    // re-invite a removed member
    const back = await api.as('u-adam').post('/v1/members', { id: 'u-max', email: 'max@acme.test', roles: ['member'] });
    assert.equal(back.status, 201);
    assert.deepEqual(await atGateway('u-max', '/api/deals'), { status: 403, reason: 'member_pending' });
  });
});

describe('no escalation: every refusal is a clear 403', () => {
  const ROWS: [name: string, who: string, method: 'post' | 'patch' | 'del' | 'put', path: string, body: unknown, status: number, reason: string][] = [
    ['admin may not grant owner (payouts are not its own)', 'u-adam', 'patch', '/v1/members/u-vera', { roles: ['owner'] }, 403, 'role_exceeds_caller'],
    ['admin may not invite as owner', 'u-adam', 'post', '/v1/members', { email: 'x@acme.test', roles: ['owner'] }, 403, 'role_exceeds_caller'],
    ['admin may not change an owner', 'u-adam', 'patch', '/v1/members/u-olivia', { roles: ['viewer'] }, 403, 'member_exceeds_caller'],
    ['admin may not remove an owner', 'u-adam', 'del', '/v1/members/u-oscar', undefined, 403, 'member_exceeds_caller'],
    ['nobody changes their own roles', 'u-olivia', 'patch', '/v1/members/u-olivia', { roles: ['owner', 'admin'] }, 403, 'self_change'],
    ['nobody removes themselves', 'u-adam', 'del', '/v1/members/u-adam', undefined, 403, 'self_change'],
    ['a viewer has no admin area', 'u-vera', 'post', '/v1/members', { email: 'y@acme.test', roles: ['viewer'] }, 403, 'not_granted'],
    ['a manager may not assign roles', 'u-mia', 'patch', '/v1/members/u-vera', { roles: ['manager'] }, 403, 'not_granted'],
    ['YAML roles are read-only', 'u-olivia', 'put', '/v1/roles/viewer', { grants: ['*:*'] }, 403, 'builtin_role'],
    ['admin may not clone owner', 'u-adam', 'post', '/v1/roles/owner/clone', { name: 'owner-copy' }, 403, 'role_exceeds_caller'],
    ['admin may not create a role with financial rights', 'u-adam', 'post', '/v1/roles', { name: 'payroll', grants: ['payouts:list'] }, 403, 'role_exceeds_caller'],
    ['admin may not put a member in a group that grants owner', 'u-adam', 'patch', '/v1/members/u-vera', { groups: ['board'] }, 403, 'role_exceeds_caller'],
    ['admin may not invite into such a group', 'u-adam', 'post', '/v1/members', { email: 'g@acme.test', roles: ['viewer'], groups: ['board'] }, 403, 'role_exceeds_caller'],
    ['nobody changes their own groups', 'u-olivia', 'patch', '/v1/members/u-olivia', { groups: ['board'] }, 403, 'self_change'],
    ['nobody moves themselves to another org', 'u-adam', 'patch', '/v1/members/u-adam', { org: 'p-42' }, 403, 'self_change'],
    ['a partner contact is no admin', 'u-pat', 'post', '/v1/members/bulk', { action: 'remove', ids: ['u-vera'] }, 403, 'not_granted'],
  ];
  for (const [name, who, method, path, body, status, reason] of ROWS) {
    test(name, async () => {
      const res = await api.as(who)[method](path, body, method === 'put' ? { 'if-match': '"1"' } : {});
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.reason, reason);
      assert.equal(typeof res.body.message, 'string');
      assert.equal(typeof res.body.request_id, 'string');
    });
  }

  test('the last active owner cannot be removed, even by a caller holding every permission through two roles', async () => {
    // a custom role with the financial rights admin lacks; together with admin it covers owner
    const fin = await api.as('u-olivia').post('/v1/roles', { name: 'finance', description: 'payouts', grants: ['payouts:*'] });
    assert.equal(fin.status, 201, JSON.stringify(fin.body));
    assert.equal((await api.as('u-olivia').patch('/v1/members/u-adam', { roles: ['admin', 'finance'] })).status, 200);
    const first = await api.as('u-adam').del('/v1/members/u-oscar');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const last = await api.as('u-adam').del('/v1/members/u-olivia');
    assert.equal(last.status, 409, JSON.stringify(last.body));
    assert.equal(last.body.reason, 'last_owner');
    const demote = await api.as('u-adam').post('/v1/members/bulk', { action: 'set_roles', ids: ['u-olivia'], roles: ['admin'] });
    assert.equal(demote.body.reason, 'last_owner');
    assert.deepEqual((await api.as('u-olivia').get('/v1/members/u-olivia')).body.roles, ['owner']);
    // restore: oscar back as owner (olivia is an owner), adam back to admin
    assert.equal((await api.as('u-olivia').patch('/v1/members/u-oscar', { status: 'active', roles: ['owner'] })).status, 200);
    assert.equal((await api.as('u-olivia').patch('/v1/members/u-adam', { roles: ['admin'] })).status, 200);
  });
});

describe('custom roles reach the gateway without a restart', () => {
  test('clone a built-in, edit it, assign it, see it enforced, delete it -> no_role', async () => {
    const clone = await api.as('u-adam').post('/v1/roles/manager/clone', { name: 'deal-lead' });
    assert.equal(clone.status, 201, JSON.stringify(clone.body));
    assert.equal(clone.body.source, 'custom');
    assert.equal(clone.headers.get('etag'), '"1"');
    // the clone has manager's effective rights, flattened
    const cell = (body: Record<string, unknown>, res: string, action: string) =>
      (body.matrix as { resource: string; actions: { action: string; access: string }[] }[]).find((r) => r.resource === res)!.actions.find((a) => a.action === action)!.access;
    assert.equal(cell(clone.body, 'deals', 'update'), 'conditional');
    assert.equal(cell(clone.body, 'deals', 'create'), 'no');

    assert.equal((await api.as('u-adam').patch('/v1/members/u-vera', { roles: ['deal-lead'] })).status, 200);
    assert.deepEqual(await atGateway('u-vera', '/api/deals', 'POST'), { status: 403, reason: 'not_granted' });

    const noMatch = await api.as('u-adam').put('/v1/roles/deal-lead', { grants: ['deals:*'] });
    assert.equal(noMatch.status, 428);
    assert.equal(noMatch.body.reason, 'precondition_required');
    const edit = await api.as('u-adam').put('/v1/roles/deal-lead', { description: 'deals, all of them', grants: ['deals:*', 'partners:list,read'] }, { 'if-match': '"1"' });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    assert.equal(edit.headers.get('etag'), '"2"');
    await waitForGateway('u-vera', '/api/deals', 'POST', 200);

    const inherit = await api.as('u-adam').post('/v1/roles', { name: 'deal-lead-plus', inherits: ['deal-lead'] });
    assert.equal(inherit.status, 201);
    const blocked = await api.as('u-adam').del('/v1/roles/deal-lead', undefined, { 'if-match': '"2"' });
    assert.equal(blocked.status, 409);
    assert.equal(blocked.body.reason, 'role_in_use');
    assert.equal((await api.as('u-adam').del('/v1/roles/deal-lead-plus', undefined, { 'if-match': '"1"' })).status, 200);

    const del = await api.as('u-adam').del('/v1/roles/deal-lead', undefined, { 'if-match': '"2"' });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual(del.body.members, ['u-vera']);
    await waitForGateway('u-vera', '/api/deals', 'GET', 403, 'no_role');
    assert.equal((await api.as('u-adam').get('/v1/roles/deal-lead')).status, 404);
  });

  test('a role deleted and made again under its name (revision 1 again) is enforced with its new body', async () => {
    const a = await api.as('u-olivia');
    assert.equal((await a.post('/v1/roles', { name: 'again', grants: ['deals:list'] })).status, 201);
    assert.equal((await a.patch('/v1/members/u-mia', { roles: ['again'] })).status, 200);
    await waitForGateway('u-mia', '/api/deals', 'GET', 200);
    assert.equal((await a.del('/v1/roles/again', undefined, { 'if-match': '"1"' })).status, 200);
    const remade = await a.post('/v1/roles', { name: 'again', grants: ['partners:list'] });
    assert.equal(remade.headers.get('etag'), '"1"');
    assert.equal((await a.patch('/v1/members/u-mia', { roles: ['again'] })).status, 200);
    await waitForGateway('u-mia', '/api/deals', 'GET', 403, 'not_granted');
    assert.equal((await atGateway('u-mia', '/api/partners')).status, 200);
    assert.equal((await a.patch('/v1/members/u-mia', { roles: ['manager'] })).status, 200);
  });

  test('a role body that does not compile is a 400 naming the problem', async () => {
    const res = await api.as('u-olivia').post('/v1/roles', { name: 'broken', grants: ['nonesuch:read'] });
    assert.equal(res.status, 400);
    assert.equal(res.body.reason, 'invalid_role');
    assert.match(String(res.body.message), /unknown resource "nonesuch"/);
    const taken = await api.as('u-olivia').post('/v1/roles', { name: 'viewer', grants: ['deals:read'] });
    assert.equal(taken.body.reason, 'role_exists');
  });

  test('two admins editing one role: the second write is refused with 412', async () => {
    assert.equal((await api.as('u-olivia').post('/v1/roles', { name: 'contested', grants: ['deals:read'] })).status, 201);
    const [a, b] = await Promise.all([
      api.as('u-olivia').put('/v1/roles/contested', { grants: ['deals:read,list'] }, { 'if-match': '"1"' }),
      api.as('u-oscar').put('/v1/roles/contested', { grants: ['deals:read,create'] }, { 'if-match': '"1"' }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 412], JSON.stringify([a.body, b.body]));
    const role = await api.as('u-olivia').get('/v1/roles/contested');
    assert.equal(role.headers.get('etag'), '"2"');
  });
});

describe('bulk changes are all or nothing, and idempotent', () => {
  test('one unknown member: 404 naming it, nothing changed, nothing audited', async () => {
    const auditBefore = (await api.as('u-olivia').get('/v1/audit?limit=1')).body.items as { id: string }[];
    const res = await api.as('u-adam').post('/v1/members/bulk', { action: 'set_roles', ids: ['u-vera', 'u-nobody'], roles: ['member'] });
    assert.equal(res.status, 404);
    assert.equal(res.body.field, '/ids/1');
    assert.notDeepEqual((await api.as('u-adam').get('/v1/members/u-vera')).body.roles, ['member']);
    assert.deepEqual((await api.as('u-olivia').get('/v1/audit?limit=1')).body.items, auditBefore);
  });

  test('one member the caller may not change: 403 naming it, nothing changed', async () => {
    const before = (await api.as('u-adam').get('/v1/members/u-mia')).body;
    const res = await api.as('u-adam').post('/v1/members/bulk', { action: 'set_roles', ids: ['u-mia', 'u-olivia'], roles: ['viewer'] });
    assert.equal(res.status, 403);
    assert.equal(res.body.reason, 'member_exceeds_caller');
    assert.equal(res.body.field, '/ids/1');
    assert.deepEqual((await api.as('u-adam').get('/v1/members/u-mia')).body, before);
  });

  test('bulk change of roles with an Idempotency-Key: a retry replays, a different body with the key is 422', async () => {
    const body = { action: 'add_roles', ids: ['u-mia', 'u-pat'], roles: ['viewer'] };
    const key = { 'idempotency-key': 'bulk-1' };
    const first = await api.as('u-adam').post('/v1/members/bulk', body, key);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.changed, 2);
    const revs = ((first.body.members as { rev: number }[]).map((m) => m.rev));
    const retry = await api.as('u-adam').post('/v1/members/bulk', body, key);
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replay'), 'true');
    assert.deepEqual(retry.body, first.body);
    assert.equal((await api.as('u-adam').get('/v1/members/u-mia')).body.rev, revs[0]);
    const other = await api.as('u-adam').post('/v1/members/bulk', { ...body, roles: ['member'] }, key);
    assert.equal(other.status, 422);
    assert.equal(other.body.reason, 'idempotency_key_reused');
    // keys are per caller: another admin's same key is a new request
    const oscar = await api.as('u-oscar').post('/v1/members/bulk', { action: 'remove_roles', ids: ['u-pat'], roles: ['viewer'] }, key);
    assert.equal(oscar.status, 200);
    assert.equal(oscar.headers.get('idempotent-replay'), null);
  });

  test('If-Match on a member: a stale revision is 412 and changes nothing', async () => {
    const m = await api.as('u-adam').get('/v1/members/u-mia');
    const rev = Number(String(m.headers.get('etag')).replaceAll('"', ''));
    const stale = await api.as('u-adam').patch('/v1/members/u-mia', { groups: ['emea'] }, { 'if-match': `"${rev - 1}"` });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.reason, 'version_mismatch');
    const ok = await api.as('u-adam').patch('/v1/members/u-mia', { groups: ['emea'], represents: ['emea'] }, { 'if-match': `"${rev}"` });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.represents, ['emea']);
  });
});

describe('members table queries', () => {
  test('filter by role, status, kind, org and text; paginate with a cursor', async () => {
    const owners = await api.as('u-adam').get('/v1/members?role=owner&status=active');
    assert.deepEqual((owners.body.items as { id: string }[]).map((m) => m.id), ['u-olivia', 'u-oscar']);
    const partners = await api.as('u-adam').get('/v1/members?kind=partner');
    assert.deepEqual((partners.body.items as { id: string }[]).map((m) => m.id), ['u-pat']);
    const text = await api.as('u-adam').get('/v1/members?q=ACME.TEST&org=acme&limit=2');
    assert.equal((text.body.items as unknown[]).length, 2);
    const next = await api.as('u-adam').get(`/v1/members?q=acme.test&org=acme&limit=2&cursor=${String(text.body.next_cursor)}`);
    assert.ok((next.body.items as { id: string }[]).every((m) => m.id > String(text.body.next_cursor)));
    assert.equal((await api.as('u-adam').get('/v1/members?status=gone')).body.reason, 'invalid_query');
    assert.equal((await api.as('u-adam').get('/v1/members?limit=0')).status, 400);
  });
});

describe('default roles (a default role for new contacts)', () => {
  test('set the partner default through the API: the gateway follows; If-Match required', async () => {
    assert.equal((await atGateway('u-pat', '/api/partners/p-42/deals')).status, 200);
    const cur = await api.as('u-olivia').get('/v1/settings/default-roles');
    assert.deepEqual(cur.body.partner, ['partner_contact']);
    assert.equal((await api.as('u-olivia').put('/v1/settings/default-roles', { partner: ['partner_collaborator'] })).status, 428);
    const set = await api.as('u-olivia').put('/v1/settings/default-roles', { partner: ['partner_collaborator'] }, { 'if-match': String(cur.headers.get('etag')) });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual((set.body.source as Record<string, string>).partner, 'admin');
    await waitForGateway('u-pat', '/api/partners/p-42/deals', 'GET', 403);
    const reset = await api.as('u-olivia').put('/v1/settings/default-roles', { partner: null }, { 'if-match': String(set.headers.get('etag')) });
    assert.equal(reset.status, 200);
    await waitForGateway('u-pat', '/api/partners/p-42/deals', 'GET', 200);
  });
});

describe('relations (what a CRM sync writes)', () => {
  test('set and read a record\'s assignees; the gateway decides on them', async () => {
    assert.deepEqual(await atGateway('u-mia', '/api/deals/d7', 'DELETE'), { status: 403, reason: 'condition_failed' });
    const put = await api.as('u-adam').put('/v1/relations/deals/d7', { assignees: ['u-mia'], partner: 'p-42' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual((await api.as('u-adam').get('/v1/relations/deals/d7')).body, { assignees: ['u-mia'], collaborators: [], partner: 'p-42' });
    assert.equal((await atGateway('u-mia', '/api/deals/d7', 'DELETE')).status, 200);
    assert.equal((await api.as('u-adam').get('/v1/relations/deals/none')).status, 404);
  });
});

describe('validation and protocol errors', () => {
  test('bodies are validated with the failing field named', async () => {
    const unknown = await api.as('u-adam').post('/v1/members', { email: 'z@acme.test', roles: ['viewer'], colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.reason, 'invalid_body');
    assert.equal(unknown.body.field, '/colour');
    const badEmail = await api.as('u-adam').post('/v1/members', { email: 'not-an-address', roles: ['viewer'] });
    assert.equal(badEmail.body.field, '/email');
    const badRole = await api.as('u-adam').post('/v1/members', { email: 'z@acme.test', roles: ['nonesuch'] });
    assert.equal(badRole.body.field, '/roles/0');
  });

  test('media type, size, If-Match syntax, unknown endpoints and methods', async () => {
    const token = await gw.token('u-adam');
    const h = { authorization: `Bearer ${token}` };
    const form = await fetch(`${api.url}/v1/members`, { method: 'POST', headers: { ...h, 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a@b.c' });
    assert.equal(form.status, 415);
    const big = await fetch(`${api.url}/v1/members`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@b.c', roles: ['viewer'], pad: 'x'.repeat(70 * 1024) }) });
    assert.equal(big.status, 413);
    const notJson = await fetch(`${api.url}/v1/members`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: '{"email":' });
    assert.equal(notJson.status, 400);
    const badMatch = await api.as('u-adam').patch('/v1/members/u-mia', { groups: [] }, { 'if-match': 'W/"x"' });
    assert.equal(badMatch.status, 412);
    assert.equal((await api.as('u-adam').get('/v1/nothing')).status, 404);
    const method = await fetch(`${api.url}/v1/members`, { method: 'DELETE', headers: h });
    assert.equal(method.status, 405);
    assert.equal((await method.json() as { reason: string }).reason, 'method_not_allowed');
  });
});

describe('audit log', () => {
  test('every change is recorded with who, what, before, after and the request id, newest first', async () => {
    const res = await api.as('u-olivia').patch('/v1/members/u-pat', { groups: ['emea', 'amer'] });
    assert.equal(res.status, 200);
    const audit = await api.as('u-olivia').get('/v1/audit?limit=5');
    const items = audit.body.items as { actor: string; action: string; target: string; before: { groups: string[] }; after: { groups: string[] }; request_id: string; at_ms: number }[];
    assert.equal(items[0]!.actor, 'u-olivia');
    assert.equal(items[0]!.action, 'member.update');
    assert.equal(items[0]!.target, 'member:u-pat');
    assert.deepEqual(items[0]!.after.groups, ['emea', 'amer']);
    assert.equal(items[0]!.request_id, res.headers.get('x-request-id'));
    assert.ok(items.every((e, i) => i === 0 || e.at_ms <= items[i - 1]!.at_ms));
    const page2 = await api.as('u-olivia').get(`/v1/audit?limit=5&before=${String(audit.body.next_cursor)}`);
    assert.ok((page2.body.items as unknown[]).length > 0);
    assert.equal((await api.as('u-vera').get('/v1/audit')).status, 403);
  });
});

async function waitForGateway(who: string, path: string, method: string, status: number, reason?: string): Promise<void> {
  let last: { status: number; reason: string | undefined } = { status: 0, reason: undefined };
  for (let i = 0; i < 100; i++) {
    last = await atGateway(who, path, method);
    if (last.status === status && (reason === undefined || last.reason === reason)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`gateway still answers ${JSON.stringify(last)} for ${who} ${method} ${path}, expected ${status} ${reason ?? ''}`);
}

describe('raw bytes at the admin listener', () => {
  type RawRow = [name: string, bytes: (tok: string) => string, status: number, reason: string];
  const ROWS: RawRow[] = [
    ['Content-Length and Transfer-Encoding together', (t) => req('POST /v1/members HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, 'Content-Type: application/json', 'Content-Length: 4', 'Transfer-Encoding: chunked', 'Connection: close'], '0\r\n\r\n'), 400, 'bad_framing'],
    ['two Authorization headers', (t) => req('GET /v1/me HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, 'Authorization: Bearer x.y.z', 'Connection: close']), 400, 'duplicate_authorization'],
    ['no Host header', (t) => req('GET /v1/me HTTP/1.1', [`Authorization: Bearer ${t}`, 'Connection: close']), 400, 'bad_framing'],
    ['absolute-form target', (t) => req('GET http://evil.test/v1/me HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, 'Connection: close']), 400, 'bad_request_target'],
    ['a path with a bad escape', (t) => req('GET /v1/members/%E0%A4%A HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, 'Connection: close']), 400, 'bad_percent_encoding'],
    ['a dot segment', (t) => req('GET /v1/members/x/../../v1/audit HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, 'Connection: close']), 400, 'dot_segment'],
    ['an encoded dot segment', (t) => req('GET /v1/members/%2e%2e/audit HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, 'Connection: close']), 400, 'encoded_separator'],
    ['oversized headers', (t) => req('GET /v1/me HTTP/1.1', ['Host: admin.test', `Authorization: Bearer ${t}`, `X-Pad: ${'a'.repeat(70 * 1024)}`, 'Connection: close']), 431, 'headers_too_large'],
  ];
  for (const [name, bytes, status, reason] of ROWS) {
    test(name, async () => {
      const r = await rawRequest(api.url, bytes(await gw.token('u-olivia')), { timeoutMs: 3000 });
      const res = r.responses[0];
      assert.equal(res?.status, status, r.text.slice(0, 300));
      assert.equal(jsonOf(res)?.reason, reason);
    });
  }

  test('a member id with an encoded slash is refused, not read as a path', async () => {
    const res = await api.as('u-adam').get('/v1/members/u-mia%2F..%2F..%2Fv1%2Fme');
    assert.equal(res.status, 400);
    assert.equal(res.body.reason, 'encoded_separator');
  });

  test('a percent-encoded member id is decoded once: u%2Dmia is u-mia', async () => {
    const res = await api.as('u-adam').get('/v1/members/u%2Dmia');
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 'u-mia');
  });
});

describe('admin metrics', () => {
  test('calls are counted by endpoint template and status; custom roles by state', async () => {
    const text = await (await fetch(`${gw.opsUrl}/metrics`)).text();
    assert.match(text, /^rolegate_admin_requests_total\{endpoint="POST \/v1\/members",code="201"\} [1-9]/m);
    assert.match(text, /^rolegate_admin_requests_total\{endpoint="PATCH \/v1\/members\/\{id\}",code="403"\} [1-9]/m);
    assert.match(text, /^rolegate_admin_requests_total\{endpoint="none",code="404"\} [1-9]/m);
    // no member id or role name ever becomes a label
    assert.doesNotMatch(text, /rolegate_admin_requests_total\{[^}]*u-mia/);
    const active = Number(/^rolegate_custom_roles\{state="active"\} (\d+)/m.exec(text)?.[1]);
    assert.ok(active >= 2, `active custom roles: ${active}`);
    assert.match(text, /^rolegate_custom_roles\{state="rejected"\} 0/m);
  });
});
