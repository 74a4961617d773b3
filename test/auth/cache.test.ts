/** The verified-token cache: synchronous hits, never past exp, never failures. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildAuthenticator, type Authenticator, type VerifiedToken } from '../../src/auth/index.js';
import { GatewayError } from '../../src/errors.js';
import { TokenCache } from '../../src/auth/token-cache.js';
import { authConfig, generateTestKey, goodClaims, recordingHooks, signRaw, sleep, startJwksServer, type JwksServer, type TestKeyPair } from '../helpers/keys.js';

let key: TestKeyPair;
let jwks: JwksServer;
const opened: Authenticator[] = [];

before(async () => {
  key = await generateTestKey('EdDSA', 'ed-1');
  jwks = await startJwksServer([key.jwk]);
});
after(async () => { for (const a of opened) a.close(); await jwks?.close(); });

async function build(over: Parameters<typeof authConfig>[0] = {}) {
  const hooks = recordingHooks();
  const a = await buildAuthenticator(authConfig({ jwks_url: jwks.jwksUrl, ...over }), hooks);
  opened.push(a);
  return { a, hooks };
}
const sign = (claims: Record<string, unknown>) => signRaw({ alg: 'EdDSA', kid: 'ed-1' }, claims, key.privateKey);
const isPromise = (v: unknown) => typeof (v as { then?: unknown })?.then === 'function';
async function reason(p: () => unknown): Promise<string> {
  try { await p(); } catch (e) { assert.ok(e instanceof GatewayError); return e.reason; }
  return 'ok';
}

describe('verified-token cache', () => {
  test('miss returns a Promise, hit returns the same frozen object synchronously', async () => {
    const { a, hooks } = await build();
    const token = await sign(goodClaims({ roles: ['admin'] }));
    const first = a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(isPromise(first));
    const verified = await first;
    const second = a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(!isPromise(second), 'cache hit must not be a Promise');
    assert.equal(second, verified);
    assert.deepEqual(hooks.results, ['ok', 'cache_hit']);
    const v = second as VerifiedToken;
    assert.equal(v.subject, 'user-1');
    assert.equal(v.token, token);
    assert.equal(v.expiresAtMs, (v.claims.exp as number) * 1000);
    assert.ok(Object.isFrozen(v) && Object.isFrozen(v.claims) && Object.isFrozen(v.claims.roles));
  });

  test('a hit is served from the Authorization header or the cookie alike', async () => {
    const hooks = recordingHooks();
    const a = await buildAuthenticator(authConfig({ jwks_url: jwks.jwksUrl }, 'session'), hooks);
    opened.push(a);
    const token = await sign(goodClaims());
    await a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(!isPromise(a.authenticate(undefined, `session=${token}`)));
  });

  test('expired entry is not served (strict exp, even within clock tolerance)', async () => {
    const { a, hooks } = await build({ clock_tolerance_s: 0 });
    const exp = Math.floor(Date.now() / 1000) + 1;
    const token = await sign(goodClaims({ exp }));
    await a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(!isPromise(a.authenticate(`Bearer ${token}`, undefined)));
    await sleep(exp * 1000 - Date.now() + 20);
    const late = a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(isPromise(late), 'expired entry must go back to full verification');
    assert.equal(await reason(() => late), 'token_expired');
    assert.deepEqual(hooks.results, ['ok', 'cache_hit', 'token_expired']);
  });

  test('a token accepted only thanks to clock tolerance is never cached', async () => {
    const { a, hooks } = await build({ clock_tolerance_s: 30 });
    const token = await sign(goodClaims({ exp: Math.floor(Date.now() / 1000) - 5 }));
    await a.authenticate(`Bearer ${token}`, undefined);
    const again = a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(isPromise(again));
    await again;
    assert.deepEqual(hooks.results, ['ok', 'ok']);
  });

  test('failures are not cached', async () => {
    const { a, hooks } = await build();
    const token = await sign(goodClaims({ aud: 'other' }));
    for (let i = 0; i < 3; i++) {
      const r = a.authenticate(`Bearer ${token}`, undefined);
      assert.ok(isPromise(r));
      assert.equal(await reason(() => r), 'bad_audience');
    }
    assert.deepEqual(hooks.results, ['bad_audience', 'bad_audience', 'bad_audience']);
  });

  test('a failed token that becomes valid (key rotated in) is then accepted', async () => {
    const { a } = await build({ jwks_refetch_interval_s: 0.05 });
    const late = await generateTestKey('EdDSA', 'ed-2');
    const token = await signRaw({ alg: 'EdDSA', kid: 'ed-2' }, goodClaims(), late.privateKey);
    assert.equal(await reason(() => a.authenticate(`Bearer ${token}`, undefined)), 'unknown_key');
    jwks.setKeys([key.jwk, late.jwk]);
    await sleep(60);
    assert.equal(await reason(() => a.authenticate(`Bearer ${token}`, undefined)), 'ok');
    jwks.setKeys([key.jwk]);
  });

  test('max_entries 0 disables the cache', async () => {
    const { a, hooks } = await build({ token_cache: { max_entries: 0 } });
    const token = await sign(goodClaims());
    await a.authenticate(`Bearer ${token}`, undefined);
    const again = a.authenticate(`Bearer ${token}`, undefined);
    assert.ok(isPromise(again));
    await again;
    assert.deepEqual(hooks.results, ['ok', 'ok']);
  });

  test('the cache is bounded by max_entries (LRU)', async () => {
    const { a } = await build({ token_cache: { max_entries: 2 } });
    const t = await Promise.all([1, 2, 3].map((i) => sign(goodClaims({ sub: `u${i}` }))));
    for (const tok of t) await a.authenticate(`Bearer ${tok}`, undefined);
    const evicted = a.authenticate(`Bearer ${t[0]}`, undefined);
    assert.ok(isPromise(evicted), 'oldest entry evicted');
    await evicted;
    assert.ok(!isPromise(a.authenticate(`Bearer ${t[2]}`, undefined)));
  });
});

describe('TokenCache eviction', () => {
  const verified = (i: number): VerifiedToken => ({ token: `header.payload.signature-${String(i).padStart(40, '0')}`, claims: {}, subject: `u${i}`, expiresAtMs: Date.now() + 60_000 });

  test('holds at most max_entries, and a token in steady use outlives a stream of new ones', () => {
    const cache = new TokenCache(100, 60_000);
    const hot = verified(0);
    cache.set(hot);
    for (let i = 1; i <= 1000; i++) {
      cache.set(verified(i));
      // the hot token is used once every 10 new tokens: more often than every max_entries / 2 inserts
      if (i % 10 === 0) assert.equal(cache.get(hot.token), hot, `hot token evicted after ${i} inserts`);
      assert.ok(cache.size <= 100);
    }
    assert.equal(cache.get(verified(1).token), undefined, 'an early token used once is gone');
    assert.equal(cache.get(verified(1000).token)?.subject, 'u1000');
  });

  test('a hit needs the whole token, not just the tail it is filed under', () => {
    const cache = new TokenCache(10, 60_000);
    const v = verified(7);
    cache.set(v);
    assert.equal(cache.get(`x${v.token.slice(1)}`), undefined);
    assert.equal(cache.get(v.token), v);
  });
});
