/**
 * Authentication over real HTTP: every 401 reason with WWW-Authenticate and the
 * JSON body, JWT attacks, the cookie fallback, a repeated Authorization header
 * (raw socket: 400), and public routes. A refused request never reaches the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, http, startTestGateway, AUDIENCE, ISSUER, type TestGateway } from '../helpers/gateway.js';
import { generateSigningKey } from '../../src/auth/index.js';
import { b64u, signRaw, startJwksServer } from '../helpers/keys.js';
import { header, sleep } from '../helpers/stub-upstream.js';
import { jsonOf, rawRequest, req } from '../helpers/raw-http.js';

let gw: TestGateway;
let hs: TestGateway;

before(async () => {
  gw = await startTestGateway();
  hs = await startTestGateway({ keys: 'hs256', upstream: gw.upstream, log: 'silent' });
});
after(async () => {
  await hs?.close();
  await gw?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: 'u-vera', iat: now(), exp: now() + 300, ...extra });
const without = (name: string) => { const c: Record<string, unknown> = claims(); delete c[name]; return c; };
const rs = (payload: Record<string, unknown>, h: Record<string, unknown> = {}) => signRaw({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT', ...h }, payload, gw.keys.rsa.privateKey as CryptoKey);
const flipSig = (t: string) => t.slice(0, -3) + (t.at(-3) === 'A' ? 'B' : 'A') + t.slice(-2);
const swapPayload = (t: string, p: Record<string, unknown>) => { const [h, , s] = t.split('.'); return `${h}.${b64u(JSON.stringify(p))}.${s}`; };

async function assert401(res: Awaited<ReturnType<typeof http>>, reason: string): Promise<void> {
  assert.equal(res.status, 401, res.text);
  assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.json?.error, 'unauthenticated');
  assert.equal(res.json?.reason, reason);
  assert.equal(typeof res.json?.request_id, 'string');
  assert.equal(res.json.request_id, res.headers['x-rolegate-request-id']);
}

type Row = [name: string, headers: () => Promise<Record<string, string>>, reason: string];

const ROWS: Row[] = [
  ['no Authorization, no cookie', async () => ({}), 'missing_token'],
  ['empty cookie value', async () => ({ cookie: 'session=' }), 'missing_token'],
  ['token in a cookie with another name', async () => ({ cookie: `other=${await gw.token('u-vera')}` }), 'missing_token'],
  ['Basic scheme', async () => ({ authorization: 'Basic dTpw' }), 'malformed_token'],
  ['Bearer without a token', async () => ({ authorization: 'Bearer' }), 'malformed_token'],
  ['not a JWS', async () => bearer('abc.def'), 'malformed_token'],
  ['four segments', async () => bearer(`${await gw.token('u-vera')}.x`), 'malformed_token'],
  ['expired', async () => bearer(await gw.token('u-vera', { ttlSeconds: -120 })), 'token_expired'],
  ['nbf in the future', async () => bearer(await rs(claims({ nbf: now() + 300 }))), 'token_not_yet_valid'],
  ['wrong issuer', async () => bearer(await gw.token('u-vera', { issuer: 'https://evil.test/' })), 'bad_issuer'],
  ['issuer without trailing slash', async () => bearer(await gw.token('u-vera', { issuer: ISSUER.slice(0, -1) })), 'bad_issuer'],
  ['wrong audience', async () => bearer(await gw.token('u-vera', { audience: 'other-app' })), 'bad_audience'],
  ['missing exp', async () => bearer(await rs(without('exp'))), 'missing_claim'],
  ['missing sub', async () => bearer(await rs(without('sub'))), 'missing_claim'],
  ['missing iss', async () => bearer(await rs(without('iss'))), 'missing_claim'],
  ['missing aud', async () => bearer(await rs(without('aud'))), 'missing_claim'],
  ['alg none', async () => bearer(`${b64u(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64u(JSON.stringify(claims()))}.`), 'unsupported_algorithm'],
  ['alg NONE with a signature', async () => bearer(`${b64u(JSON.stringify({ alg: 'NONE' }))}.${b64u(JSON.stringify(claims()))}.AAAA`), 'unsupported_algorithm'],
  ['HS256 signed with the RSA public key (alg confusion)', async () => bearer(await signRaw({ alg: 'HS256', kid: 'rsa-1' }, claims(), new TextEncoder().encode(gw.keys.rsaPublicPem))), 'unsupported_algorithm'],
  ['RS384 (not in the allow-list)', async () => bearer(await signRaw({ alg: 'RS384', kid: 'rsa-1' }, claims(), new Uint8Array(32))), 'unsupported_algorithm'],
  ['unknown kid', async () => bearer(await rs(claims(), { kid: 'nope' })), 'unknown_key'],
  ['RS256 kid pointing at the EC key', async () => bearer(await rs(claims(), { kid: 'ec-1' })), 'unknown_key'],
  ['tampered payload (sub swapped to the owner)', async () => bearer(swapPayload(await gw.token('u-vera'), claims({ sub: 'u-olivia' }))), 'bad_signature'],
  ['tampered signature', async () => bearer(flipSig(await gw.token('u-vera'))), 'bad_signature'],
  ['ES256 signature under an RS256 header', async () => { const t = await gw.token('u-vera', { alg: 'ES256' }); const r = await gw.token('u-vera'); return bearer(`${r.split('.')[0]}.${t.split('.')[1]}.${t.split('.')[2]}`); }, 'bad_signature'],
  ['embedded jwk of an attacker key', async () => {
    const evil = await generateSigningKey('RS256', 'rsa-1');
    return bearer(await signRaw({ alg: 'RS256', kid: 'rsa-1', jwk: evil.publicJwk }, claims({ sub: 'u-olivia' }), evil.privateKey as CryptoKey));
  }, 'bad_signature'],
  ['jku pointing elsewhere', async () => {
    const evil = await generateSigningKey('RS256', 'evil-kid');
    return bearer(await signRaw({ alg: 'RS256', kid: 'evil-kid', jku: 'http://127.0.0.1:1/jwks.json' }, claims(), evil.privateKey as CryptoKey));
  }, 'unknown_key'],
  ['crit header', async () => bearer(await rs(claims(), { crit: ['exp'], exp: 1 })), 'unsupported_crit'],
  ['sub with CR LF (header injection)', async () => bearer(await rs(claims({ sub: 'u-vera\r\nx-rolegate-user: u-olivia' }))), 'invalid_claim'],
  ['org claim that is not header-safe', async () => bearer(await rs(claims({ org_id: 'acme\r\nx: y' }))), 'invalid_claim'],
  ['oversized token', async () => bearer(await gw.token('u-vera', { claims: { pad: 'x'.repeat(5000) } })), 'token_too_large'],
  ['bad token in the session cookie', async () => ({ cookie: `session=${flipSig(await gw.token('u-vera'))}` }), 'bad_signature'],
  ['session cookie sent twice', async () => ({ cookie: `session=${await gw.token('u-vera')}; session=${await gw.token('u-olivia')}` }), 'malformed_token'],
  ['expired Authorization wins over a valid cookie', async () => ({ ...bearer(await gw.token('u-vera', { ttlSeconds: -120 })), cookie: `session=${await gw.token('u-vera')}` }), 'token_expired'],
];

describe('401 table', () => {
  for (const [name, make, reason] of ROWS) {
    test(`${name} -> 401 ${reason}`, async () => {
      gw.upstream.reset();
      const res = await http(`${gw.url}/api/deals`, { headers: await make() });
      await assert401(res, reason);
      assert.equal(gw.upstream.requests.length, 0);
    });
  }
});

describe('accepted credentials', () => {
  test('RS256 and ES256 tokens pass; the upstream sees the subject', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      gw.upstream.reset();
      const res = await http(`${gw.url}/api/deals`, { headers: bearer(await gw.token('u-vera', { alg })) });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(header(gw.upstream.requests[0]!, 'x-rolegate-user'), ['u-vera']);
    }
  });

  test('the same token twice (verified-token cache) still passes', async () => {
    const t = await gw.token('u-vera');
    for (let i = 0; i < 3; i++) assert.equal((await http(`${gw.url}/api/deals`, { headers: bearer(t) })).status, 200);
  });

  test('token from the session cookie when there is no Authorization header', async () => {
    gw.upstream.reset();
    const res = await http(`${gw.url}/api/deals`, { headers: { cookie: `theme=dark; session=${await gw.token('u-vera')}; lang=en` } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(header(gw.upstream.requests[0]!, 'x-rolegate-user'), ['u-vera']);
  });

  test('quoted cookie value', async () => {
    const res = await http(`${gw.url}/api/deals`, { headers: { cookie: `session="${await gw.token('u-vera')}"` } });
    assert.equal(res.status, 200, res.text);
  });

  test('lower-case "bearer" scheme', async () => {
    const res = await http(`${gw.url}/api/deals`, { headers: { authorization: `bearer ${await gw.token('u-vera')}` } });
    assert.equal(res.status, 200, res.text);
  });

  test('a public route needs no token, and a bad one does not matter there', async () => {
    gw.upstream.reset();
    assert.equal((await http(`${gw.url}/api/public/status`)).status, 200);
    assert.equal((await http(`${gw.url}/api/public/status`, { headers: bearer('garbage') })).status, 200);
    assert.equal(gw.upstream.requests.length, 2);
    assert.deepEqual(header(gw.upstream.requests[0]!, 'x-rolegate-user'), []);
  });
});

describe('repeated Authorization header (raw socket)', () => {
  const CASES: [string, (a: string, b: string) => string[]][] = [
    ['valid then invalid', (a) => [`Authorization: Bearer ${a}`, 'Authorization: Bearer forged']],
    ['invalid then valid', (a) => ['Authorization: Bearer forged', `Authorization: Bearer ${a}`]],
    ['two valid tokens of different users', (a, b) => [`Authorization: Bearer ${a}`, `Authorization: Bearer ${b}`]],
    ['the same token twice', (a) => [`Authorization: Bearer ${a}`, `Authorization: Bearer ${a}`]],
    ['different spelling of the name', (a) => [`Authorization: Bearer ${a}`, 'authorization: Basic dTpw']],
    ['an empty second header', (a) => [`Authorization: Bearer ${a}`, 'Authorization:']],
  ];
  for (const [name, lines] of CASES) {
    test(`${name} -> 400 duplicate_authorization, nothing forwarded`, async () => {
      gw.upstream.reset();
      const vera = await gw.token('u-vera');
      const olivia = await gw.token('u-olivia');
      const r = await rawRequest(gw.url, req('GET /api/deals HTTP/1.1', ['Host: gateway.test', ...lines(vera, olivia), 'Connection: close']));
      const res = r.responses[0];
      assert.ok(res, r.text);
      assert.equal(res.status, 400, `${res.status} ${res.body}; upstream saw Authorization ${JSON.stringify(gw.upstream.requests.map((q) => header(q, 'authorization').map((v) => v.slice(0, 20))))}`);
      assert.equal(jsonOf(res)?.reason, 'duplicate_authorization');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(gw.upstream.requests.length, 0);
    });
  }
});

describe('keep-alive', () => {
  test('each request on one connection is authenticated on its own', async () => {
    gw.upstream.reset();
    const t = await gw.token('u-vera');
    const r = await rawRequest(gw.url, [
      req('GET /api/deals HTTP/1.1', ['Host: gateway.test', `Authorization: Bearer ${t}`]),
      req('GET /api/deals/d1 HTTP/1.1', ['Host: gateway.test']),
      req('GET /api/deals/d2 HTTP/1.1', ['Host: gateway.test', 'Authorization: Bearer forged', 'Connection: close']),
    ].join(''), { timeoutMs: 3000 });
    assert.deepEqual(r.responses.map((x) => [x.status, jsonOf(x)?.reason]), [[200, undefined], [401, 'missing_token'], [401, 'malformed_token']]);
    assert.deepEqual(gw.upstream.requests.map((q) => q.url), ['/api/deals']);
  });
});

describe('HS256 deployment (secret_env)', () => {
  test('a token signed with the secret passes', async () => {
    const res = await http(`${hs.url}/api/deals`, { headers: bearer(await hs.token('u-vera')) });
    assert.equal(res.status, 200, res.text);
  });

  test('HS256 signed with the RSA public key PEM -> bad_signature', async () => {
    const t = await signRaw({ alg: 'HS256', typ: 'JWT' }, claims(), new TextEncoder().encode(hs.keys.rsaPublicPem));
    await assert401(await http(`${hs.url}/api/deals`, { headers: bearer(t) }), 'bad_signature');
  });

  test('an RS256 token -> unsupported_algorithm', async () => {
    await assert401(await http(`${hs.url}/api/deals`, { headers: bearer(await gw.token('u-vera')) }), 'unsupported_algorithm');
  });

  test('HS256 with a wrong secret -> bad_signature', async () => {
    const t = await signRaw({ alg: 'HS256' }, claims(), new TextEncoder().encode('x'.repeat(48)));
    await assert401(await http(`${hs.url}/api/deals`, { headers: bearer(t) }), 'bad_signature');
  });
});

describe('JWKS served over loopback', () => {
  test('jwks_url: keys fetched, a rotated-in kid is refetched, cached keys survive an outage', async () => {
    const jwks = await startJwksServer([gw.keys.rsa.publicJwk]);
    const remote = await startTestGateway({
      upstream: gw.upstream, log: 'silent',
      config: (c) => { delete c.auth.jwt.jwks_file; c.auth.jwt.jwks_url = jwks.jwksUrl; c.auth.jwt.jwks_refetch_interval_s = 1; },
    });
    try {
      assert.equal((await http(`${remote.url}/api/deals`, { headers: bearer(await remote.token('u-vera')) })).status, 200);
      const rotated = await generateSigningKey('RS256', 'rsa-2');
      jwks.setKeys([gw.keys.rsa.publicJwk, rotated.publicJwk]);
      await sleep(1100);
      const t2 = await signRaw({ alg: 'RS256', kid: 'rsa-2' }, claims(), rotated.privateKey as CryptoKey);
      assert.equal((await http(`${remote.url}/api/deals`, { headers: bearer(t2) })).status, 200);
      jwks.setFailing(true);
      await sleep(1100);
      const t3 = await remote.token('u-vera', { claims: { n: 3 } });
      assert.equal((await http(`${remote.url}/api/deals`, { headers: bearer(t3) })).status, 200);
      const unknown = await http(`${remote.url}/api/deals`, { headers: bearer(await rs(claims(), { kid: 'nope' })) });
      await assert401(unknown, 'unknown_key');
      const ready = await http(`${remote.opsUrl}/readyz`);
      assert.equal(ready.status, 200);
    } finally {
      await remote.close();
      await jwks.close();
    }
  });

  test('discovery: true finds jwks_uri from the issuer', async () => {
    const idp = await startJwksServer([gw.keys.rsa.publicJwk]);
    const disc = await startTestGateway({
      upstream: gw.upstream, log: 'silent',
      config: (c) => { delete c.auth.jwt.jwks_file; c.auth.jwt.discovery = true; c.auth.jwt.issuer = idp.base; },
    });
    try {
      const ok = await http(`${disc.url}/api/deals`, { headers: bearer(await disc.token('u-vera', { issuer: idp.base })) });
      assert.equal(ok.status, 200, ok.text);
      await assert401(await http(`${disc.url}/api/deals`, { headers: bearer(await disc.token('u-vera')) }), 'bad_issuer');
      assert.equal(idp.hits.get('/.well-known/openid-configuration'), 1);
    } finally {
      await disc.close();
      await idp.close();
    }
  });
});
