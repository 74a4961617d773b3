/**
 * Table-driven JWT attacks and claim failures against an authenticator backed
 * by a JWKS endpoint. Every row names the exact reason we expect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildAuthenticator, type Authenticator } from '../../src/auth/index.js';
import { GatewayError } from '../../src/errors.js';
import {
  authConfig, b64u, generateTestKey, goodClaims, recordingHooks, signRaw, startJwksServer, tempDir,
  hmacSecret, type JwksServer, type TestKeyPair,
} from '../helpers/keys.js';

let rsa: TestKeyPair, ec: TestKeyPair, ed: TestKeyPair, attacker: TestKeyPair;
let jwks: JwksServer, evil: JwksServer;
let auth: Authenticator, typed: Authenticator, confusable: Authenticator;
const hooks = recordingHooks();
const tmp = tempDir();

before(async () => {
  [rsa, ec, ed, attacker] = await Promise.all([
    generateTestKey('RS256', 'rsa-1'), generateTestKey('ES256', 'ec-1'), generateTestKey('EdDSA', 'ed-1'), generateTestKey('RS256', 'evil-1'),
  ]);
  jwks = await startJwksServer([rsa.jwk, ec.jwk, ed.jwk]);
  evil = await startJwksServer([attacker.jwk]);
  auth = await buildAuthenticator(authConfig({ jwks_url: jwks.jwksUrl }), hooks);
  typed = await buildAuthenticator(authConfig({ jwks_url: jwks.jwksUrl, typ: ['at+jwt', 'application/jwt'] }), recordingHooks());
  // HS256 and RS256 both allowed: the RSA public key must still never act as the HMAC secret.
  process.env.ROLEGATE_TEST_ATTACK_SECRET = hmacSecret();
  confusable = await buildAuthenticator(authConfig({
    algorithms: ['RS256', 'HS256'], public_key_file: tmp.write('rsa.pem', rsa.spkiPem), secret_env: 'ROLEGATE_TEST_ATTACK_SECRET',
  }), recordingHooks());
});

after(async () => {
  for (const a of [auth, typed, confusable]) a?.close();
  await Promise.all([jwks?.close(), evil?.close()]);
  tmp.remove();
});

async function reasonOf(a: Authenticator, token: string): Promise<string> {
  try {
    await a.authenticate(`Bearer ${token}`, undefined);
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected GatewayError, got ${String(err)}`);
    return err.reason;
  }
  return 'ok';
}

const now = () => Math.floor(Date.now() / 1000);
const rs = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => signRaw({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT', ...header }, claims, rsa.privateKey);
const without = (claim: string) => { const c = goodClaims(); delete c[claim]; return c; };
const swapPayload = (token: string, claims: Record<string, unknown>) => { const [h, , s] = token.split('.'); return `${h}.${b64u(JSON.stringify(claims))}.${s}`; };
const flipSig = (token: string) => { const last = token.at(-2) === 'A' ? 'B' : 'A'; return token.slice(0, -2) + last + token.slice(-1); };

type Row = [name: string, make: () => Promise<string>, expected: string, which?: () => Authenticator];

const rows: Row[] = [
  // sanity: each family verifies
  ['valid RS256', () => rs(goodClaims()), 'ok'],
  ['valid ES256', () => signRaw({ alg: 'ES256', kid: 'ec-1' }, goodClaims(), ec.privateKey), 'ok'],
  ['valid EdDSA', () => signRaw({ alg: 'EdDSA', kid: 'ed-1' }, goodClaims(), ed.privateKey), 'ok'],
  ['aud array containing ours', () => rs(goodClaims({ aud: ['other', 'rolegate-tests'] })), 'ok'],
  ['exp just past but within clock tolerance', () => rs(goodClaims({ exp: now() - 10 })), 'ok'],

  // time
  ['expired', () => rs(goodClaims({ exp: now() - 100 })), 'token_expired'],
  ['nbf in the future', () => rs(goodClaims({ nbf: now() + 100 })), 'token_not_yet_valid'],
  ['iat in the future', () => rs(goodClaims({ iat: now() + 100 })), 'token_not_yet_valid'],

  // claims
  ['wrong iss', () => rs(goodClaims({ iss: 'https://evil.test' })), 'bad_issuer'],
  ['iss with trailing slash', () => rs(goodClaims({ iss: 'https://issuer.test/' })), 'bad_issuer'],
  ['wrong aud', () => rs(goodClaims({ aud: 'someone-else' })), 'bad_audience'],
  ['missing exp', () => rs(without('exp')), 'missing_claim'],
  ['missing sub', () => rs(without('sub')), 'missing_claim'],
  ['missing aud', () => rs(without('aud')), 'missing_claim'],
  ['missing iss', () => rs(without('iss')), 'missing_claim'],
  ['exp not a number', () => rs(goodClaims({ exp: String(now() + 300) })), 'invalid_claim'],
  ['sub empty', () => rs(goodClaims({ sub: '' })), 'invalid_claim'],
  ['sub not a string', () => rs(goodClaims({ sub: 42 })), 'invalid_claim'],
  ['sub with CRLF (header injection)', () => rs(goodClaims({ sub: 'alice\r\nX-Admin: 1' })), 'invalid_claim'],
  ['sub with NUL', () => rs(goodClaims({ sub: 'alice\u0000' })), 'invalid_claim'],
  ['sub with leading space', () => rs(goodClaims({ sub: ' alice' })), 'invalid_claim'],
  ['sub longer than 256', () => rs(goodClaims({ sub: 'a'.repeat(257) })), 'invalid_claim'],
  ['sub of exactly 256', () => rs(goodClaims({ sub: 'a'.repeat(256) })), 'ok'],
  ['payload is a JSON array', () => signRaw({ alg: 'RS256', kid: 'rsa-1' }, '[1,2]', rsa.privateKey), 'malformed_token'],

  // algorithms
  ['alg none, empty signature', async () => `${b64u('{"alg":"none","typ":"JWT"}')}.${b64u(JSON.stringify(goodClaims()))}.`, 'unsupported_algorithm'],
  ['alg None (case variant)', async () => `${b64u('{"alg":"None"}')}.${b64u(JSON.stringify(goodClaims()))}.`, 'unsupported_algorithm'],
  ['alg HS256 signed with the RSA public key (HS256 not allowed)', () => signRaw({ alg: 'HS256', kid: 'rsa-1' }, goodClaims(), new TextEncoder().encode(rsa.spkiPem)), 'unsupported_algorithm'],
  ['alg HS256 signed with the RSA PEM (HS256 allowed, secret_env set)', () => signRaw({ alg: 'HS256', kid: 'rsa-1' }, goodClaims(), new TextEncoder().encode(rsa.spkiPem)), 'bad_signature', () => confusable],
  ['alg HS256 signed with the RSA JWK JSON (HS256 allowed)', () => signRaw({ alg: 'HS256' }, goodClaims(), new TextEncoder().encode(JSON.stringify(rsa.jwk))), 'bad_signature', () => confusable],
  ['alg HS256 signed with the real secret (HS256 allowed)', () => signRaw({ alg: 'HS256' }, goodClaims(), new TextEncoder().encode(process.env.ROLEGATE_TEST_ATTACK_SECRET!)), 'ok', () => confusable],
  ['RS256 via public_key_file ignores the token kid', () => rs(goodClaims(), { kid: 'whatever' }), 'ok', () => confusable],
  ['alg RS512 not in allow-list', () => signRaw({ alg: 'RS512', kid: 'rsa-1' }, goodClaims(), rsa.privateKey), 'unsupported_algorithm'],
  ['alg PS256 not in allow-list', () => signRaw({ alg: 'PS256', kid: 'rsa-1' }, goodClaims(), rsa.privateKey), 'unsupported_algorithm'],
  ['alg missing', async () => `${b64u('{"kid":"rsa-1"}')}.${b64u(JSON.stringify(goodClaims()))}.AAAA`, 'malformed_token'],
  ['alg ES256 but kid of the RSA key', () => signRaw({ alg: 'ES256', kid: 'rsa-1' }, goodClaims(), ec.privateKey), 'unknown_key'],
  ['alg ES256 with EC kid but RSA signature bytes', async () => { const t = await rs(goodClaims()); const ecT = await signRaw({ alg: 'ES256', kid: 'ec-1' }, goodClaims(), ec.privateKey); return `${ecT.split('.').slice(0, 2).join('.')}.${t.split('.')[2]}`; }, 'bad_signature'],

  // keys
  ['unknown kid', () => signRaw({ alg: 'RS256', kid: 'nope' }, goodClaims(), rsa.privateKey), 'unknown_key'],
  ['kid path traversal', () => signRaw({ alg: 'RS256', kid: '../../../../dev/null' }, goodClaims(), rsa.privateKey), 'unknown_key'],
  ['kid not a string', () => signRaw({ alg: 'RS256', kid: 7 }, goodClaims(), rsa.privateKey), 'malformed_token'],
  ['right kid, attacker signature', () => signRaw({ alg: 'RS256', kid: 'rsa-1' }, goodClaims(), attacker.privateKey), 'bad_signature'],
  ['tampered payload', async () => swapPayload(await rs(goodClaims()), goodClaims({ sub: 'admin' })), 'bad_signature'],
  ['tampered signature', async () => flipSig(await rs(goodClaims())), 'bad_signature'],
  ['signature stripped', async () => { const t = await rs(goodClaims()); return t.slice(0, t.lastIndexOf('.') + 1); }, 'malformed_token'],
  ['embedded jwk (attacker key, attacker kid)', () => signRaw({ alg: 'RS256', kid: 'evil-1', jwk: attacker.jwk }, goodClaims(), attacker.privateKey), 'unknown_key'],
  ['embedded jwk (attacker key, our kid)', () => signRaw({ alg: 'RS256', kid: 'rsa-1', jwk: { ...attacker.jwk, kid: 'rsa-1' } }, goodClaims(), attacker.privateKey), 'bad_signature'],
  ['embedded jwk, no kid', () => signRaw({ alg: 'RS256', jwk: attacker.jwk }, goodClaims(), attacker.privateKey), 'bad_signature'],
  ['jku to attacker JWKS', () => signRaw({ alg: 'RS256', kid: 'evil-1', jku: evil.jwksUrl }, goodClaims(), attacker.privateKey), 'unknown_key'],
  ['x5u to attacker', () => signRaw({ alg: 'RS256', kid: 'evil-1', x5u: `${evil.base}/cert.pem` }, goodClaims(), attacker.privateKey), 'unknown_key'],
  ['x5c with garbage chain, our kid', () => signRaw({ alg: 'RS256', kid: 'rsa-1', x5c: ['MIIB'] }, goodClaims(), attacker.privateKey), 'bad_signature'],

  // crit / typ
  ['crit with unknown extension', () => rs(goodClaims(), { crit: ['exp'], exp: 1 }), 'unsupported_crit'],
  ['crit b64', () => rs(goodClaims(), { crit: ['b64'], b64: true }), 'unsupported_crit'],
  ['typ mismatch', () => rs(goodClaims(), { typ: 'JOSE' }), 'bad_token_type', () => typed],
  ['typ missing when required', () => signRaw({ alg: 'RS256', kid: 'rsa-1' }, goodClaims(), rsa.privateKey), 'bad_token_type', () => typed],
  ['typ at+jwt (RFC 9068)', () => rs(goodClaims(), { typ: 'at+jwt' }), 'ok', () => typed],
  ['typ application/at+jwt', () => rs(goodClaims(), { typ: 'application/at+jwt' }), 'ok', () => typed],
  ['typ AT+JWT case-insensitive', () => rs(goodClaims(), { typ: 'AT+JWT' }), 'ok', () => typed],
  ['typ jwt matches configured application/jwt', () => rs(goodClaims(), { typ: 'jwt' }), 'ok', () => typed],
  ['typ ignored when none configured', () => rs(goodClaims(), { typ: 'something/else' }), 'ok'],

  // shape
  ['oversized token', () => rs(goodClaims({ pad: 'x'.repeat(9000) })), 'token_too_large'],
  ['two segments', async () => `${b64u('{"alg":"RS256"}')}.${b64u('{}')}`, 'malformed_token'],
  ['four segments', async () => `${await rs(goodClaims())}.AAAA`, 'malformed_token'],
  ['header not base64url', async () => `e30*.${b64u('{}')}.AAAA`, 'malformed_token'],
  ['header is a JSON array', async () => `${b64u('["RS256"]')}.${b64u('{}')}.AAAA`, 'malformed_token'],
  ['header not JSON', async () => `${b64u('alg=RS256')}.${b64u('{}')}.AAAA`, 'malformed_token'],
  ['padding in signature', async () => `${await rs(goodClaims())}==`, 'malformed_token'],
];

describe('JWT attacks and claim checks', () => {
  for (const [name, make, expected, which] of rows) {
    test(`${name} -> ${expected}`, async () => {
      assert.equal(await reasonOf(which ? which() : auth, await make()), expected);
    });
  }

  test('the attacker JWKS/x5u server was never contacted', () => {
    assert.equal(evil.totalHits(), 0);
  });

  test('every outcome reached onVerification', () => {
    assert.ok(hooks.results.includes('ok'));
    assert.ok(hooks.results.includes('bad_signature'));
    assert.ok(hooks.results.includes('unsupported_algorithm'));
  });

  test('no token or claim value reached the logger', () => {
    const text = JSON.stringify(hooks.logged) + hooks.warnings.join('\n');
    assert.ok(!text.includes('user-1') && !text.includes('eyJ'), text);
  });
});
