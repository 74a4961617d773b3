/** Static key sources and the startup refusals that keep misconfigurations out of production. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildAuthenticator } from '../../src/auth/index.js';
import type { JwtConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { authConfig, generateTestKey, goodClaims, hmacSecret, recordingHooks, signRaw, tempDir, type TestKeyPair } from '../helpers/keys.js';

let rsa: TestKeyPair, ec: TestKeyPair, ed: TestKeyPair;
const tmp = tempDir();
const ENV = 'ROLEGATE_TEST_KEYSOURCE_SECRET';

before(async () => {
  [rsa, ec, ed] = await Promise.all([generateTestKey('RS256', 'rsa-1'), generateTestKey('ES256', 'ec-1'), generateTestKey('EdDSA', 'ed-1')]);
});
after(() => { tmp.remove(); delete process.env[ENV]; });

async function verifies(jwt: Partial<JwtConfig>, token: string): Promise<string> {
  const a = await buildAuthenticator(authConfig(jwt), recordingHooks());
  try {
    await a.authenticate(`Bearer ${token}`, undefined);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof GatewayError);
    return e.reason;
  } finally {
    a.close();
  }
}

describe('static key sources', () => {
  test('public_key_file: PEM SPKI, RSA / EC / Ed25519', async () => {
    for (const k of [rsa, ec, ed]) {
      const file = tmp.write(`${k.kid}.pem`, k.spkiPem);
      assert.equal(await verifies({ public_key_file: file, algorithms: [k.alg] }, await signRaw({ alg: k.alg }, goodClaims(), k.privateKey)), 'ok', k.alg);
    }
  });

  test('public_key_file: JWK JSON; its kid is honoured when present', async () => {
    const file = tmp.write('rsa.jwk.json', JSON.stringify(rsa.jwk));
    assert.equal(await verifies({ public_key_file: file, algorithms: ['RS256'] }, await signRaw({ alg: 'RS256', kid: 'rsa-1' }, goodClaims(), rsa.privateKey)), 'ok');
    assert.equal(await verifies({ public_key_file: file, algorithms: ['RS256'] }, await signRaw({ alg: 'RS256', kid: 'other' }, goodClaims(), rsa.privateKey)), 'unknown_key');
  });

  test('jwks_file with several keys selects by kid', async () => {
    const file = tmp.write('jwks.json', JSON.stringify({ keys: [rsa.jwk, ec.jwk, ed.jwk] }));
    assert.equal(await verifies({ jwks_file: file }, await signRaw({ alg: 'ES256', kid: 'ec-1' }, goodClaims(), ec.privateKey)), 'ok');
    assert.equal(await verifies({ jwks_file: file }, await signRaw({ alg: 'EdDSA', kid: 'ed-1' }, goodClaims(), ed.privateKey)), 'ok');
    assert.equal(await verifies({ jwks_file: file }, await signRaw({ alg: 'RS256', kid: 'ec-1' }, goodClaims(), rsa.privateKey)), 'unknown_key');
  });

  test('HS256 via secret_env', async () => {
    const secret = hmacSecret();
    process.env[ENV] = secret;
    const token = await signRaw({ alg: 'HS256' }, goodClaims(), new TextEncoder().encode(secret));
    assert.equal(await verifies({ algorithms: ['HS256'], secret_env: ENV }, token), 'ok');
    const forged = await signRaw({ alg: 'HS256' }, goodClaims(), new TextEncoder().encode(`${secret}x`));
    assert.equal(await verifies({ algorithms: ['HS256'], secret_env: ENV }, forged), 'bad_signature');
  });
});

describe('startup refusals', () => {
  const refuses = (name: string, jwt: () => Partial<JwtConfig>, pattern: RegExp) =>
    test(name, async () => {
      await assert.rejects(buildAuthenticator(authConfig(jwt()), recordingHooks()), pattern);
    });

  refuses('alg none in the allow-list', () => ({ algorithms: ['RS256', 'none'], public_key_file: tmp.write('a.pem', rsa.spkiPem) }), /not supported/);
  refuses('unknown algorithm', () => ({ algorithms: ['RS257'], public_key_file: tmp.write('a.pem', rsa.spkiPem) }), /not supported/);
  refuses('empty allow-list', () => ({ algorithms: [] }), /empty/);
  refuses('HS256 without secret_env', () => ({ algorithms: ['HS256'] }), /secret_env/);
  refuses('secret_env variable missing', () => { delete process.env.ROLEGATE_TEST_UNSET; return { algorithms: ['HS256'], secret_env: 'ROLEGATE_TEST_UNSET' }; }, /not set/);
  refuses('secret shorter than 32 bytes', () => { process.env[ENV] = 'x'.repeat(31); return { algorithms: ['HS256'], secret_env: ENV }; }, /at least 32/);
  refuses('HS512 secret shorter than 64 bytes', () => { process.env[ENV] = 'x'.repeat(40); return { algorithms: ['HS512'], secret_env: ENV }; }, /at least 64/);
  refuses('RS256 with no key source', () => ({ algorithms: ['RS256'] }), /none of jwks_url/);
  refuses('two key sources', () => ({ jwks_file: tmp.write('j.json', JSON.stringify({ keys: [rsa.jwk] })), public_key_file: tmp.write('b.pem', rsa.spkiPem) }), /only one/);
  refuses('private key PEM as public_key_file', () => ({ public_key_file: tmp.write('priv.pem', rsa.pkcs8Pem) }), /private key/);
  refuses('private JWK as public_key_file', () => ({ public_key_file: tmp.write('priv.json', JSON.stringify({ ...rsa.jwk, d: 'AAAA' })) }), /private keys are refused/);
  refuses('EC key while only RS256 is allowed', () => ({ algorithms: ['RS256'], public_key_file: tmp.write('ec.pem', ec.spkiPem) }), /no key usable/);
  refuses('jwks_file with only a symmetric key', () => ({ jwks_file: tmp.write('oct.json', JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })) }), /no usable/);
  refuses('unreadable jwks_file', () => ({ jwks_file: '/nonexistent/jwks.json' }), /cannot read/);
});
