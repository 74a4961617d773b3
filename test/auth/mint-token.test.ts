/** Development helpers: generated keys and minted tokens verify through the real authenticator. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { exportJWK, exportPKCS8 } from 'jose';
import { buildAuthenticator, generateSigningKey, loadPrivateKey, mintToken } from '../../src/auth/index.js';
import { AUDIENCE, ISSUER, authConfig, recordingHooks, tempDir } from '../helpers/keys.js';

const tmp = tempDir();
after(() => tmp.remove());

describe('generateSigningKey + mintToken', () => {
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    test(`${alg} round-trip through a JWKS file`, async () => {
      const key = await generateSigningKey(alg);
      assert.equal(key.publicJwk.kid, key.kid);
      assert.equal(key.publicJwk.alg, alg);
      assert.equal(key.publicJwk.d, undefined, 'public JWK carries no private part');
      const file = tmp.write(`${alg}.jwks.json`, JSON.stringify({ keys: [key.publicJwk] }));
      const a = await buildAuthenticator(authConfig({ jwks_file: file, algorithms: [alg], typ: ['at+jwt'] }), recordingHooks());
      const token = await mintToken({
        privateKey: key.privateKey, alg, kid: key.kid, issuer: ISSUER, audience: AUDIENCE, subject: 'dev-user', ttlSeconds: 60,
        claims: { roles: ['viewer'], sub: 'ignored' }, typ: 'at+jwt',
      });
      const v = await a.authenticate(`Bearer ${token}`, undefined);
      assert.equal(v.subject, 'dev-user');
      assert.deepEqual(v.claims.roles, ['viewer']);
      assert.ok(v.expiresAtMs > Date.now() && v.expiresAtMs <= Date.now() + 61_000);
      a.close();
    });
  }

  test('explicit kid', async () => {
    const key = await generateSigningKey('ES256', 'my-kid');
    assert.equal(key.kid, 'my-kid');
    assert.equal(key.publicJwk.kid, 'my-kid');
  });
});

describe('loadPrivateKey', () => {
  test('PKCS#8 PEM, PKCS#1 PEM and private JWK all sign verifiable tokens', async () => {
    const gen = await generateSigningKey('RS256', 'file-key');
    const jwks = tmp.write('file.jwks.json', JSON.stringify({ keys: [gen.publicJwk] }));
    const a = await buildAuthenticator(authConfig({ jwks_file: jwks, algorithms: ['RS256'] }), recordingHooks());
    const pkcs8 = tmp.write('k.pem', await exportPKCS8(gen.privateKey as CryptoKey));
    const jwk = tmp.write('k.json', JSON.stringify(await exportJWK(gen.privateKey)));
    for (const file of [pkcs8, jwk]) {
      const privateKey = await loadPrivateKey(file, 'RS256');
      const token = await mintToken({ privateKey, alg: 'RS256', kid: 'file-key', issuer: ISSUER, audience: AUDIENCE, subject: 's', ttlSeconds: 60 });
      assert.equal((await a.authenticate(`Bearer ${token}`, undefined)).subject, 's');
    }
    a.close();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = tmp.write('k1.pem', privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
    assert.ok(await loadPrivateKey(pkcs1, 'RS256'));
  });

  test('a key of the wrong type for the algorithm is refused', async () => {
    const ec = await generateSigningKey('ES256');
    const file = tmp.write('ec.pem', await exportPKCS8(ec.privateKey as CryptoKey));
    await assert.rejects(loadPrivateKey(file, 'RS256'), /cannot sign RS256/);
  });

  test('a public JWK is refused', async () => {
    const k = await generateSigningKey('ES256');
    await assert.rejects(loadPrivateKey(tmp.write('pub.json', JSON.stringify(k.publicJwk)), 'ES256'), /no private part/);
  });

  test('HS256 secret file: >= 32 bytes', async () => {
    assert.equal((await loadPrivateKey(tmp.write('s.txt', `${'s'.repeat(32)}\n`), 'HS256') as Uint8Array).length, 32);
    await assert.rejects(loadPrivateKey(tmp.write('short.txt', 'short'), 'HS256'), /at least 32/);
  });
});
