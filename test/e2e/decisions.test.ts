/**
 * Mapping and decision over real HTTP: every 403 reason, 405 for methods the
 * gateway never passes, HEAD authorized as the GET, `{method}` routes, and the
 * deny body (resource, action, request_id). A denied request never reaches the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, http, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { header } from '../helpers/stub-upstream.js';
import { jsonOf, rawRequest, req } from '../helpers/raw-http.js';

let gw: TestGateway;

before(async () => { gw = await startTestGateway(); });
after(async () => { await gw?.close(); });

type Row = [who: string, method: string, path: string, status: number, reason?: string, resource?: string, action?: string, claims?: Record<string, unknown>];

const ROWS: Row[] = [
  // allowed, for contrast
  ['u-vera', 'GET', '/api/deals', 200],
  ['u-olivia', 'GET', '/api/payouts', 200],
  ['u-pat', 'GET', '/api/partners/p-42/deals', 200],
  ['u-pat', 'GET', '/api/partners/p-42', 200],
  ['u-pat', 'GET', '/api/users/u-pat/profile', 200],
  ['u-pat', 'PUT', '/api/users/u-pat/profile', 200],
  ['u-max', 'POST', '/api/deals', 200],
  ['u-max', 'PATCH', '/api/deals/d9', 200],

  // no_route: authenticated, nothing maps
  ['u-olivia', 'GET', '/api/nothing', 403, 'no_route'],
  ['u-olivia', 'GET', '/', 403, 'no_route'],
  ['u-olivia', 'POST', '/api/payouts', 403, 'no_route'],
  ['u-olivia', 'DELETE', '/api/deals', 403, 'no_route'],
  ['u-olivia', 'GET', '/api/deals/d1/extra', 403, 'no_route'],
  ['u-olivia', 'OPTIONS', '/api/deals', 403, 'no_route'],
  ['u-olivia', 'GET', '/api/partners/p-42/deals/x', 403, 'no_route'],

  // not_granted
  ['u-vera', 'POST', '/api/deals', 403, 'not_granted', 'deals', 'create'],
  ['u-vera', 'DELETE', '/api/deals/d1', 403, 'not_granted', 'deals', 'delete'],
  ['u-max', 'DELETE', '/api/deals/d1', 403, 'not_granted', 'deals', 'delete'],
  ['u-pat', 'GET', '/api/deals', 403, 'condition_failed', 'deals', 'list'],
  ['u-pat', 'GET', '/api/deals/d1', 403, 'not_granted', 'deals', 'read'],

  // condition_failed: own_org and self
  ['u-pat', 'GET', '/api/partners/p-7/deals', 403, 'condition_failed', 'deals', 'list'],
  ['u-pat', 'GET', '/api/partners/p-7', 403, 'condition_failed', 'partners', 'read'],
  ['u-pat', 'GET', '/api/partners/p-42x/deals', 403, 'condition_failed', 'deals', 'list'],
  ['u-pat', 'GET', '/api/users/u-olivia/profile', 403, 'condition_failed', 'profile', 'read'],
  ['u-pat', 'PUT', '/api/users/u-olivia/profile', 403, 'condition_failed', 'profile', 'update'],
  ['u-pat', 'GET', '/api/users/u-pa%74/profile', 200],

  // excluded_by_tag
  ['u-adam', 'GET', '/api/payouts', 403, 'excluded_by_tag', 'payouts', 'list'],
  ['u-vera', 'GET', '/settings/general', 403, 'excluded_by_tag', 'settings', 'read'],

  // membership status
  ['u-ivy', 'GET', '/api/deals', 403, 'member_pending', 'deals', 'list'],
  ['u-rex', 'GET', '/api/deals', 403, 'member_removed', 'deals', 'list'],
  ['u-stranger', 'GET', '/api/deals', 403, 'not_a_member', 'deals', 'list'],
  // issue 5: an unknown principal gets the default roles of its audience when the policy has them
  ['u-stranger', 'GET', '/api/partners/p-42/deals', 200, undefined, 'deals', 'list', { kind: 'partner', org_id: 'p-42' }],

  // roles that do not apply
  ['u-ghost', 'GET', '/api/deals', 403, 'no_role', 'deals', 'list'],
  ['u-nora', 'GET', '/api/partners/acme/deals', 403, 'audience_mismatch', 'deals', 'list'],

  // org from the token wins over the store (spec: org and kind from the token's claims when present)
  ['u-pat', 'GET', '/api/partners/p-7/deals', 200, undefined, undefined, undefined, { org_id: 'p-7' }],

  // roles and groups come from the store, never from the token
  ['u-vera', 'GET', '/api/payouts', 403, 'excluded_by_tag', 'payouts', 'list', { roles: ['owner'], groups: ['admins'] }],
  ['u-stranger', 'GET', '/api/deals', 403, 'not_a_member', 'deals', 'list', { roles: ['owner'] }],

  // {method} routes: GET/HEAD read, PUT/PATCH update; methods whose action the resource lacks are unmapped
  ['u-olivia', 'GET', '/settings/general', 200],
  ['u-olivia', 'PUT', '/settings/general', 200],
  ['u-olivia', 'PATCH', '/settings/a/b', 200],
  ['u-adam', 'PUT', '/settings/general', 200],
  ['u-olivia', 'POST', '/settings/general', 403, 'no_route'],
  ['u-olivia', 'DELETE', '/settings/general', 403, 'no_route'],
  ['u-vera', 'PUT', '/settings/general', 403, 'not_granted', 'settings', 'update'],
  ['u-vera', 'GET', '/probe/x', 200],
  ['u-vera', 'DELETE', '/probe/x', 403, 'not_granted', 'probe', 'delete'],
  ['u-vera', 'POST', '/probe/x', 403, 'not_granted', 'probe', 'create'],
];

describe('decision table', () => {
  for (const [who, method, path, status, reason, resource, action, claims] of ROWS) {
    test(`${who}${claims ? ` ${JSON.stringify(claims)}` : ''} ${method} ${path} -> ${status}${reason ? ` ${reason}` : ''}`, async () => {
      gw.upstream.reset();
      const res = await http(`${gw.url}${path}`, { method, headers: bearer(await gw.token(who, claims ? { claims } : {})), ...(method === 'POST' || method === 'PUT' || method === 'PATCH' ? { body: '{}' } : {}) });
      assert.equal(res.status, status, res.text);
      if (status === 200) {
        assert.equal(gw.upstream.requests.length, 1);
        assert.equal(gw.upstream.requests[0]!.method, method);
        assert.deepEqual(header(gw.upstream.requests[0]!, 'x-rolegate-user'), [who]);
        return;
      }
      assert.equal(res.json?.error, 'forbidden');
      assert.equal(res.json?.reason, reason);
      assert.equal(res.json?.request_id, res.headers['x-rolegate-request-id']);
      assert.match(String(res.json?.request_id), /^[0-9a-f-]{36}$/);
      if (resource !== undefined) {
        assert.equal(res.json?.resource, resource);
        assert.equal(res.json?.action, action);
      }
      assert.equal(gw.upstream.requests.length, 0);
    });
  }
});

describe('methods', () => {
  test('HEAD on a GET route is authorized as the GET', async () => {
    gw.upstream.reset();
    const ok = await http(`${gw.url}/api/partners/p-42/deals`, { method: 'HEAD', headers: bearer(await gw.token('u-pat')) });
    assert.equal(ok.status, 200);
    assert.equal(ok.text, '');
    const denied = await http(`${gw.url}/api/partners/p-7/deals`, { method: 'HEAD', headers: bearer(await gw.token('u-pat')) });
    assert.equal(denied.status, 403);
    assert.deepEqual(gw.upstream.requests.map((r) => `${r.method} ${r.url}`), ['HEAD /api/partners/p-42/deals']);
  });

  test('HEAD on a {method} route is read', async () => {
    assert.equal((await http(`${gw.url}/probe/x`, { method: 'HEAD', headers: bearer(await gw.token('u-vera')) })).status, 200);
  });

  const NEVER: [method: string, target: string, reasons: string[], statuses: number[]][] = [
    ['TRACE', '/api/deals', ['method_not_allowed'], [405]],
    ['CONNECT', 'gateway.test:443', ['method_not_allowed'], [405]],
    ['CONNECT', '/api/deals', ['method_not_allowed', 'bad_framing'], [405, 400]],
    ['PROPFIND', '/api/deals', ['method_not_allowed'], [405]],
    ['MKCOL', '/probe/x', ['method_not_allowed'], [405]],
    ['PURGE', '/api/deals', ['method_not_allowed'], [405]],
    ['LINK', '/api/deals', ['method_not_allowed'], [405]],
    ['BREW', '/api/deals', ['method_not_allowed', 'bad_framing'], [405, 400]],
    ['get', '/api/deals', ['method_not_allowed', 'bad_framing'], [405, 400]],
  ];
  for (const [method, target, reasons, statuses] of NEVER) {
    test(`${method} ${target} never passes (${statuses.join('/')})`, async () => {
      gw.upstream.reset();
      const t = await gw.token('u-olivia');
      const r = await rawRequest(gw.url, req(`${method} ${target} HTTP/1.1`, ['Host: gateway.test', `Authorization: Bearer ${t}`, 'Connection: close']));
      const res = r.responses[0];
      assert.ok(res, JSON.stringify(r.text));
      assert.ok(statuses.includes(res.status), `${res.status} ${res.body}`);
      assert.ok(reasons.includes(String(jsonOf(res)?.reason)), res.body);
      if (res.status === 405 && method !== 'CONNECT') assert.ok(res.headers.get('allow')?.[0]?.includes('GET'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(gw.upstream.requests.length, 0);
    });
  }

  test('a method removed from http.methods gets 405 even on a * route', async () => {
    const policy = `
resources: { probe: { actions: [read, create, update, delete] } }
roles: { owner: { grants: ["*:*"] } }
routes:
  - { match: "* /probe/**", resource: probe, action: "{method}", upstream: portal }
`;
    const strict = await startTestGateway({ upstream: gw.upstream, log: 'silent', policy, config: (c) => { c.http = { methods: ['GET', 'HEAD', 'PUT', 'PATCH'] }; } });
    try {
      gw.upstream.reset();
      const t = await gw.token('u-olivia');
      const del = await http(`${strict.url}/probe/x`, { method: 'DELETE', headers: bearer(t) });
      assert.equal(del.status, 405);
      assert.equal(del.json?.reason, 'method_not_allowed');
      assert.equal(del.headers.allow, 'GET, HEAD, PUT, PATCH');
      assert.equal((await http(`${strict.url}/probe/x`, { method: 'PUT', headers: bearer(t), body: 'x' })).status, 200);
      assert.deepEqual(gw.upstream.requests.map((r) => r.method), ['PUT']);
    } finally {
      await strict.close();
    }
  });
});
