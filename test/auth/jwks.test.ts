/** Remote JWKS: stale keys survive outages, refetch is rate-limited, discovery works, startup is not fatal. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildAuthenticator, type Authenticator } from '../../src/auth/index.js';
import type { JwtConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { authConfig, generateTestKey, goodClaims, recordingHooks, signRaw, sleep, startJwksServer, waitFor, type JwksServer, type TestKeyPair } from '../helpers/keys.js';

let k1: TestKeyPair, k2: TestKeyPair;
const servers: JwksServer[] = [];
const opened: Authenticator[] = [];

before(async () => {
  [k1, k2] = await Promise.all([generateTestKey('RS256', 'k1'), generateTestKey('RS256', 'k2')]);
});
after(async () => {
  for (const a of opened) a.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function server(keys = [k1.jwk]) { const s = await startJwksServer(keys); servers.push(s); return s; }
async function build(jwt: Partial<JwtConfig>) {
  const hooks = recordingHooks();
  // Cache off so every call exercises the key source.
  const a = await buildAuthenticator(authConfig({ token_cache: { max_entries: 0 }, ...jwt }), hooks);
  opened.push(a);
  return { a, hooks };
}
const tokenFor = (k: TestKeyPair, claims = goodClaims()) => signRaw({ alg: 'RS256', kid: k.kid }, claims, k.privateKey);
async function reason(a: Authenticator, token: string): Promise<string> {
  try { await a.authenticate(`Bearer ${token}`, undefined); } catch (e) { assert.ok(e instanceof GatewayError); return e.reason; }
  return 'ok';
}

describe('remote JWKS', () => {
  test('prefetches at build time and is ready', async () => {
    const s = await server();
    const { a } = await build({ jwks_url: s.jwksUrl });
    assert.equal(s.jwksHits(), 1);
    assert.equal(a.ready(), true);
    assert.equal(await reason(a, await tokenFor(k1)), 'ok');
    assert.equal(s.jwksHits(), 1, 'fresh keys are not refetched');
  });

  test('cached keys stay usable while the endpoint is down, past the cache TTL', async () => {
    const s = await server();
    const { a, hooks } = await build({ jwks_url: s.jwksUrl, jwks_cache_ttl_s: 0.05, jwks_refetch_interval_s: 0.05 });
    s.setFailing(true);
    await sleep(80);
    const token = await tokenFor(k1);
    assert.equal(await reason(a, token), 'ok');
    await waitFor(() => s.jwksHits() >= 2); // the background refresh was attempted (and failed)
    assert.equal(await reason(a, token), 'ok');
    assert.equal(await reason(a, await tokenFor(k2)), 'unknown_key', 'unknown kid is unknown_key, not keys_unavailable');
    assert.ok(hooks.warnings.some((w) => w.includes('previously fetched keys')));
    assert.equal(a.ready(), true);
  });

  test('stale keys are replaced once the endpoint recovers', async () => {
    const s = await server([k1.jwk]);
    const { a } = await build({ jwks_url: s.jwksUrl, jwks_cache_ttl_s: 0.05, jwks_refetch_interval_s: 0.05 });
    s.setKeys([k2.jwk]);
    await sleep(80);
    assert.equal(await reason(a, await tokenFor(k1)), 'ok'); // served stale; triggers the background refresh
    const t2 = await tokenFor(k2);
    let r = await reason(a, t2);
    for (let i = 0; i < 100 && r !== 'ok'; i++) { await sleep(20); r = await reason(a, t2); }
    assert.equal(r, 'ok');
    assert.equal(await reason(a, await tokenFor(k1)), 'unknown_key', 'rotated-out key no longer accepted');
  });

  test('unknown kids trigger at most one refetch per interval', async () => {
    const stranger = await generateTestKey('RS256', 'k-unknown');
    const bad = await tokenFor(stranger);
    const s = await server();
    const { a } = await build({ jwks_url: s.jwksUrl, jwks_refetch_interval_s: 1 });
    // Inside the first interval (prefetch just happened): no refetch at all.
    await Promise.all(Array.from({ length: 20 }, async () => assert.equal(await reason(a, bad), 'unknown_key')));
    assert.equal(s.jwksHits(), 1);
    await sleep(1050);
    // A burst after the interval: exactly one shared refetch.
    await Promise.all(Array.from({ length: 20 }, async () => assert.equal(await reason(a, bad), 'unknown_key')));
    for (let i = 0; i < 5; i++) assert.equal(await reason(a, bad), 'unknown_key');
    assert.equal(s.jwksHits(), 2);
  });

  test('a newly rotated-in kid is picked up by the unknown-kid refetch', async () => {
    const s = await server([k1.jwk]);
    const { a } = await build({ jwks_url: s.jwksUrl, jwks_refetch_interval_s: 0.05 });
    s.setKeys([k1.jwk, k2.jwk]);
    await sleep(60);
    assert.equal(await reason(a, await tokenFor(k2)), 'ok');
    assert.equal(s.jwksHits(), 2);
  });

  test('endpoint down at startup: build succeeds, not ready, keys_unavailable, then recovers', async () => {
    const s = await server();
    s.setFailing(true);
    const { a, hooks } = await build({ jwks_url: s.jwksUrl, jwks_refetch_interval_s: 0.05 });
    assert.equal(a.ready(), false);
    assert.ok(hooks.warnings.some((w) => w.includes('no keys yet')));
    assert.equal(await reason(a, await tokenFor(k1)), 'keys_unavailable');
    s.setFailing(false);
    await waitFor(() => a.ready()); // the retry timer fetches without any traffic
    assert.equal(await reason(a, await tokenFor(k1)), 'ok');
  });

  test('failed fetches are rate-limited too', async () => {
    const s = await server();
    s.setFailing(true);
    const { a } = await build({ jwks_url: s.jwksUrl, jwks_refetch_interval_s: 30 });
    const token = await tokenFor(k1);
    for (let i = 0; i < 10; i++) assert.equal(await reason(a, token), 'keys_unavailable');
    assert.equal(s.jwksHits(), 1);
  });

  test('fetch timeout -> keys_unavailable without hanging', async () => {
    const { createServer } = await import('node:http');
    const hang = createServer(() => { /* never answers */ });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = (hang.address() as { port: number }).port;
    try {
      const started = Date.now();
      const { a } = await build({ jwks_url: `http://127.0.0.1:${port}/jwks.json`, jwks_timeout_ms: 100 });
      assert.ok(Date.now() - started < 2000);
      assert.equal(a.ready(), false);
      assert.equal(await reason(a, await tokenFor(k1)), 'keys_unavailable');
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });

  test('symmetric and private keys in a JWKS are ignored', async () => {
    const s = await server([{ kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }, { ...k1.jwk, kid: 'k1' }]);
    const { a, hooks } = await build({ jwks_url: s.jwksUrl, algorithms: ['RS256'] });
    assert.equal(await reason(a, await tokenFor(k1)), 'ok');
    assert.ok(hooks.warnings.some((w) => w.includes('not public signing keys')));
  });

  test('a JWKS with no usable key keeps the previous keys', async () => {
    const s = await server([k1.jwk]);
    const { a } = await build({ jwks_url: s.jwksUrl, jwks_cache_ttl_s: 0.05, jwks_refetch_interval_s: 0.05 });
    s.setKeys([]);
    await sleep(80);
    const token = await tokenFor(k1);
    assert.equal(await reason(a, token), 'ok');
    await sleep(30);
    assert.equal(await reason(a, token), 'ok');
  });
});

describe('OIDC discovery', () => {
  test('uses jwks_uri from the discovery document of the issuer', async () => {
    const s = await server();
    const { a } = await build({ issuer: s.base, discovery: true });
    assert.equal(a.ready(), true);
    assert.equal(s.hits.get('/.well-known/openid-configuration'), 1);
    assert.equal(s.jwksHits(), 1);
    assert.equal(await reason(a, await tokenFor(k1, goodClaims({ iss: s.base }))), 'ok');
  });

  test('issuer with a trailing slash', async () => {
    const s = await server();
    s.setDiscovery({ issuer: `${s.base}/`, jwks_uri: s.jwksUrl });
    const { a } = await build({ issuer: `${s.base}/`, discovery: true });
    assert.equal(a.ready(), true);
    assert.equal(s.hits.get('/.well-known/openid-configuration'), 1);
    assert.equal(await reason(a, await tokenFor(k1, goodClaims({ iss: `${s.base}/` }))), 'ok');
  });

  test('a discovery document naming another issuer is refused', async () => {
    const s = await server();
    s.setDiscovery({ issuer: 'https://evil.test', jwks_uri: s.jwksUrl });
    const { a, hooks } = await build({ issuer: s.base, discovery: true });
    assert.equal(a.ready(), false);
    assert.equal(s.jwksHits(), 0);
    assert.ok(hooks.logged.some((o) => JSON.stringify(o).includes('does not match')));
  });

  test('discovery failure is retried', async () => {
    const s = await server();
    s.setFailing(true);
    const { a } = await build({ issuer: s.base, discovery: true, jwks_refetch_interval_s: 0.05 });
    assert.equal(a.ready(), false);
    s.setFailing(false);
    await waitFor(() => a.ready());
  });
});
