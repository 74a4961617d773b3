/**
 * Header hygiene: nothing a client sends can pose as identity, client address,
 * routing or method, in any spelling, and no Connection trick makes the gateway
 * drop its own identity headers. Requests go raw (Node's client refuses some
 * names). Also: hop-by-hop response headers never reach the client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { POLICY, SEED, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { header, type Recorded } from '../helpers/stub-upstream.js';
import { rawRequest, req, type RawResponse } from '../helpers/raw-http.js';

let gw: TestGateway;
let vera: string;

before(async () => {
  gw = await startTestGateway();
  vera = await gw.token('u-vera');
  gw.upstream.on('/probe/own-id', { headers: { 'X-Rolegate-Request-Id': 'upstream-made' } });
  gw.upstream.on('/probe/hop', {
    chunked: true,
    headers: {
      Connection: 'x-internal-secret, keep-alive',
      'X-Internal-Secret': 'upstream-only',
      'Keep-Alive': 'timeout=99',
      'Proxy-Authenticate': 'Basic realm="upstream"',
      'Proxy-Connection': 'keep-alive',
      Trailer: 'X-Checksum',
      Upgrade: 'h2c',
      'X-Kept': 'yes',
    },
  });
});
after(async () => { await gw?.close(); });

async function through(lines: string[], path = '/probe/h', auth = true): Promise<{ res: RawResponse; rec: Recorded }> {
  gw.upstream.reset();
  const r = await rawRequest(gw.url, req(`GET ${path} HTTP/1.1`, ['Host: gateway.test', ...(auth ? [`Authorization: Bearer ${vera}`] : []), ...lines, 'Connection: close']));
  const res = r.responses[0];
  assert.ok(res, `no response: ${JSON.stringify(r.text.slice(0, 300))}`);
  assert.equal(res.status, 200, res.body);
  assert.equal(gw.upstream.requests.length, 1);
  return { res, rec: gw.upstream.requests[0]! };
}

/** Every header the upstream got whose value carries a marker we planted. */
function planted(rec: Recorded): string[] {
  const out: string[] = [];
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (/SPOOF/i.test(rec.rawHeaders[i + 1]!)) out.push(`${rec.rawHeaders[i]}: ${rec.rawHeaders[i + 1]}`);
  return out;
}

function assertIdentity(rec: Recorded, _res: RawResponse): void {
  assert.deepEqual(header(rec, 'x-rolegate-user'), ['u-vera']);
  assert.deepEqual(header(rec, 'x-rolegate-roles'), ['viewer']);
  assert.deepEqual(header(rec, 'x-rolegate-org'), ['acme']);
  assert.deepEqual(header(rec, 'x-rolegate-kind'), ['internal']);
  const id = header(rec, 'x-rolegate-request-id');
  assert.equal(id.length, 1);
  assert.match(id[0]!, /^[0-9a-f-]{36}$/);
  assert.deepEqual(header(rec, 'x-forwarded-for'), ['127.0.0.1']);
  assert.deepEqual(header(rec, 'x-forwarded-proto'), ['http']);
  assert.deepEqual(header(rec, 'x-forwarded-host'), ['gateway.test']);
}

const SPOOFED: string[] = [
  'x-rolegate-user: SPOOF-olivia',
  'X-RoleGate-User: SPOOF-olivia',
  'X-ROLEGATE-USER: SPOOF-olivia',
  'x_rolegate_user: SPOOF-olivia',
  'x.rolegate.user: SPOOF-olivia',
  'X_RoleGate.User: SPOOF-olivia',
  'x-rolegate_user: SPOOF-olivia',
  'x-rolegate-roles: SPOOF-owner',
  'x_rolegate_roles: SPOOF-owner',
  'x-rolegate-org: SPOOF-p-42',
  'x-rolegate-kind: SPOOF-internal',
  'x-rolegate-request-id: SPOOF-id',
  'x-rolegate-anything-else: SPOOF',
  'X-Forwarded-For: 10.0.0.1, SPOOF',
  'X-Forwarded-Host: SPOOF.evil.test',
  'X-Forwarded-Proto: SPOOF-https',
  'X-Forwarded-Uri: /api/payouts?SPOOF',
  'X-Forwarded-Prefix: /SPOOF',
  'X-Forwarded-Port: SPOOF-443',
  'X-Forwarded-Server: SPOOF',
  'x_forwarded_for: SPOOF',
  'x.forwarded.host: SPOOF',
  'Forwarded: for=1.2.3.4;host=SPOOF;proto=https',
  'X-Real-IP: SPOOF',
  'X-Original-URL: /api/payouts?SPOOF',
  'X-Rewrite-URL: /api/payouts?SPOOF',
  'X-Original-URI: /api/payouts?SPOOF',
  'X-Client-IP: SPOOF',
  'True-Client-IP: SPOOF',
  'X-HTTP-Method-Override: DELETE-SPOOF',
  'X-Method-Override: DELETE-SPOOF',
  'X-HTTP-Method: DELETE-SPOOF',
  // `_`/`.` spellings that CGI/WSGI/PHP upstreams read as the same variable (HTTP_X_REAL_IP, ...)
  'X_Real_IP: SPOOF',
  'x.real.ip: SPOOF',
  'X_Original_URL: /api/payouts?SPOOF',
  'X_Rewrite_URL: /api/payouts?SPOOF',
  'X_HTTP_Method_Override: DELETE-SPOOF',
  'x_method_override: DELETE-SPOOF',
  'X_HTTP_Method: DELETE-SPOOF',
  'True_Client_IP: SPOOF',
  // hop-by-hop
  'Proxy-Authorization: Basic SPOOF',
  'Keep-Alive: timeout=1, SPOOF',
  'Proxy-Connection: SPOOF',
  'TE: trailers, SPOOF',
];

describe('spoofed request headers never reach the upstream', () => {
  for (const line of SPOOFED) {
    test(line, async () => {
      const { res, rec } = await through([line]);
      assert.deepEqual(planted(rec), []);
      assertIdentity(rec, res);
    });
  }

  test('all of them at once, twice each', async () => {
    const { res, rec } = await through([...SPOOFED, ...SPOOFED]);
    assert.deepEqual(planted(rec), []);
    assertIdentity(rec, res);
  });

  test('on a public route: no identity, and spoofed identity is still dropped', async () => {
    const { rec } = await through(['x-rolegate-user: SPOOF', 'x_rolegate_roles: SPOOF', 'X-Forwarded-For: SPOOF'], '/api/public/status', false);
    assert.deepEqual(planted(rec), []);
    assert.deepEqual(header(rec, 'x-rolegate-user'), []);
    assert.deepEqual(header(rec, 'x-rolegate-roles'), []);
    assert.equal(header(rec, 'x-rolegate-request-id').length, 1);
    assert.deepEqual(header(rec, 'x-forwarded-for'), ['127.0.0.1']);
  });
});

describe('request trailers', () => {
  test('trailer fields of a chunked body never pose as identity upstream', async () => {
    gw.upstream.reset();
    const r = await rawRequest(gw.url, req('POST /probe/t HTTP/1.1', ['Host: gateway.test', `Authorization: Bearer ${await gw.token('u-olivia')}`, 'Transfer-Encoding: chunked', 'Trailer: x-rolegate-user', 'Connection: close'],
      '5\r\nhello\r\n0\r\nx-rolegate-user: SPOOF\r\nX-Forwarded-For: SPOOF\r\n\r\n'));
    assert.equal(r.responses[0]?.status, 200, r.text.slice(0, 300));
    const rec = gw.upstream.requests[0]!;
    assert.equal(rec.bodyBytes, 5);
    assert.deepEqual(planted(rec), []);
    assert.deepEqual(rec.rawTrailers.filter((v) => /SPOOF/.test(v)), []);
    assert.deepEqual(header(rec, 'x-rolegate-user'), ['u-olivia']);
  });
});

describe('Connection cannot make the gateway drop its own headers', () => {
  const CASES: [string, string[]][] = [
    ['Connection: x-rolegate-user', ['Connection: x-rolegate-user', 'x-rolegate-user: SPOOF']],
    ['Connection naming every identity header', ['Connection: keep-alive, x-rolegate-user, x-rolegate-roles, x-rolegate-org, x-rolegate-kind, x-rolegate-request-id']],
    ['Connection naming the forwarding headers', ['Connection: x-forwarded-for, x-forwarded-proto, x-forwarded-host, forwarded']],
    ['two Connection headers', ['Connection: x-rolegate-user', 'Connection: x-rolegate-roles']],
    ['Connection in upper case', ['CONNECTION: X-ROLEGATE-USER']],
  ];
  for (const [name, lines] of CASES) {
    test(name, async () => {
      const { res, rec } = await through(lines);
      assert.deepEqual(planted(rec), []);
      assertIdentity(rec, res);
    });
  }

  test('Connection: authorization still authenticates; Authorization is hop-by-hop and not forwarded', async () => {
    const { res, rec } = await through(['Connection: authorization']);
    assertIdentity(rec, res);
    assert.deepEqual(header(rec, 'authorization'), []);
  });

  test('a header named in Connection is not forwarded', async () => {
    const { rec } = await through(['Connection: x-custom', 'X-Custom: hop-only']);
    assert.deepEqual(header(rec, 'x-custom'), []);
    assert.deepEqual(header(rec, 'connection').filter((v) => /x-custom/i.test(v)), []);
  });

  test('ordinary end-to-end headers are forwarded', async () => {
    const { rec } = await through(['Accept: application/json', 'X-Custom: kept', 'User-Agent: e2e']);
    assert.deepEqual(header(rec, 'x-custom'), ['kept']);
    assert.deepEqual(header(rec, 'accept'), ['application/json']);
    assert.deepEqual(header(rec, 'authorization'), [`Bearer ${vera}`]);
  });
});

describe('response headers', () => {
  test('hop-by-hop headers and those named in the upstream Connection are not passed to the client', async () => {
    const { res } = await through([], '/probe/hop');
    assert.deepEqual(res.headers.get('x-kept'), ['yes']);
    for (const name of ['x-internal-secret', 'proxy-authenticate', 'proxy-connection', 'trailer', 'upgrade']) {
      assert.equal(res.headers.get(name), undefined, `${name} reached the client`);
    }
    assert.ok(!(res.headers.get('keep-alive') ?? []).some((v) => v.includes('99')), 'the upstream Keep-Alive reached the client');
    assert.ok(!(res.headers.get('connection') ?? []).some((v) => /x-internal-secret/i.test(v)));
  });

  test('the response carries the request id the upstream saw', async () => {
    const { res, rec } = await through([]);
    assert.deepEqual(res.headers.get('x-rolegate-request-id'), header(rec, 'x-rolegate-request-id'));
  });

  test('an upstream cannot replace the request id the client gets', async () => {
    const { res, rec } = await through([], '/probe/own-id');
    assert.deepEqual(res.headers.get('x-rolegate-request-id'), header(rec, 'x-rolegate-request-id'));
  });
});

describe('roles header', () => {
  let grouped: TestGateway;
  before(async () => {
    grouped = await startTestGateway({
      policy: `${POLICY}groups:\n  finance: { roles: [member, admin] }\n  empty: { roles: [] }\n`,
      seed: SEED.replace('members:\n', 'members:\n  u-gina: { status: active, roles: [viewer, member], groups: [finance], org: acme, kind: internal }\n' +
        '  u-gus: { status: active, roles: [], groups: [finance], org: acme, kind: internal }\n' +
        '  u-pia: { status: active, roles: [], groups: [empty], org: p-42, kind: partner }\n'),
    });
  });
  after(async () => { await grouped?.close(); });

  /** The roles header the upstream got for `sub` on a route every one of them may read. */
  async function rolesSent(sub: string, path = '/api/deals'): Promise<string[]> {
    grouped.upstream.reset();
    const res = await rawRequest(grouped.url, req(`GET ${path} HTTP/1.1`, ['Host: gateway.test', `Authorization: Bearer ${await grouped.token(sub)}`, 'Connection: close']));
    assert.equal(res.responses[0]?.status, 200, res.text.slice(0, 300));
    return header(grouped.upstream.requests[0]!, 'x-rolegate-roles');
  }

  test('lists the direct roles, then the roles granted through groups, each once', async () => {
    assert.deepEqual(await rolesSent('u-gina'), ['viewer,member,admin']);
  });

  test('a member whose only roles come through a group gets those, not the audience defaults', async () => {
    assert.deepEqual(await rolesSent('u-gus'), ['member,admin']);
  });

  test('a member whose groups grant no role gets the audience defaults the decision used', async () => {
    assert.deepEqual(await rolesSent('u-pia', '/api/partners/p-42/deals'), ['partner_contact']);
  });
});
