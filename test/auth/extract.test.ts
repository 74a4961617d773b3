/** Where the token comes from: Authorization header vs session cookie. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildAuthenticator, type Authenticator, type VerifiedToken } from '../../src/auth/index.js';
import { GatewayError } from '../../src/errors.js';
import { authConfig, generateTestKey, goodClaims, recordingHooks, signRaw, tempDir, type TestKeyPair } from '../helpers/keys.js';

let key: TestKeyPair;
let auth: Authenticator;
let noCookie: Authenticator;
let good: string;
let other: string;
const hooks = recordingHooks();
const tmp = tempDir();

before(async () => {
  key = await generateTestKey('ES256', 'ec-1');
  const pem = tmp.write('ec.pem', key.spkiPem);
  auth = await buildAuthenticator(authConfig({ public_key_file: pem, token_cache: { max_entries: 0 } }, 'session'), hooks);
  noCookie = await buildAuthenticator(authConfig({ public_key_file: pem }), recordingHooks());
  good = await signRaw({ alg: 'ES256', kid: 'ec-1' }, goodClaims(), key.privateKey);
  other = await signRaw({ alg: 'ES256', kid: 'ec-1' }, goodClaims({ sub: 'user-2' }), key.privateKey);
});

after(() => { auth?.close(); noCookie?.close(); tmp.remove(); });

type Outcome = string;
async function outcome(a: Authenticator, authorization: string | string[] | undefined, cookie: string | undefined): Promise<Outcome> {
  let v: VerifiedToken;
  try {
    v = await a.authenticate(authorization, cookie);
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err.reason;
  }
  return `ok:${v.subject}`;
}

describe('token extraction', () => {
  const rows: Array<[string, () => [string | string[] | undefined, string | undefined], Outcome, (() => Authenticator)?]> = [
    ['Bearer header', () => [`Bearer ${good}`, undefined], 'ok:user-1'],
    ['scheme is case-insensitive', () => [`bEaReR ${good}`, undefined], 'ok:user-1'],
    ['single-element array is one header', () => [[`Bearer ${good}`], undefined], 'ok:user-1'],
    ['repeated Authorization header', () => [[`Bearer ${good}`, `Bearer ${other}`], undefined], 'duplicate_authorization'],
    ['repeated identical Authorization header', () => [[`Bearer ${good}`, `Bearer ${good}`], undefined], 'duplicate_authorization'],
    ['no header, no cookie', () => [undefined, undefined], 'missing_token'],
    ['empty Authorization header', () => ['', undefined], 'malformed_token'],
    ['Basic scheme', () => ['Basic dXNlcjpwYXNz', undefined], 'malformed_token'],
    ['Basic scheme does not fall back to the cookie', () => ['Basic dXNlcjpwYXNz', `session=${good}`], 'malformed_token'],
    ['Bearer without token', () => ['Bearer', undefined], 'malformed_token'],
    ['Bearer with two spaces', () => [`Bearer  ${good}`, undefined], 'malformed_token'],
    ['Bearer with tab', () => [`Bearer\t${good}`, undefined], 'malformed_token'],
    ['two tokens', () => [`Bearer ${good} ${other}`, undefined], 'malformed_token'],
    ['BearerX scheme', () => [`BearerX ${good}`, undefined], 'malformed_token'],
    ['cookie fallback', () => [undefined, `theme=dark; session=${other}; x=1`], 'ok:user-2'],
    ['quoted cookie value', () => [undefined, `session="${other}"`], 'ok:user-2'],
    ['cookie ignored when Authorization present', () => [`Bearer ${good}`, `session=${other}`], 'ok:user-1'],
    ['invalid cookie ignored when Authorization present', () => [`Bearer ${good}`, 'session=garbage'], 'ok:user-1'],
    ['other cookies only', () => [undefined, 'sessionx=abc; xsession=def'], 'missing_token'],
    ['empty session cookie', () => [undefined, 'session='], 'missing_token'],
    ['session cookie sent twice', () => [undefined, `session=${good}; session=${other}`], 'malformed_token'],
    ['garbage in cookie', () => [undefined, 'session=not-a-jwt'], 'malformed_token'],
    ['cookie not configured', () => [undefined, `session=${good}`], 'missing_token', () => noCookie],
    ['oversized bearer token', () => [`Bearer ${'a'.repeat(8193)}`, undefined], 'token_too_large'],
    ['oversized cookie token', () => [undefined, `session=${'a'.repeat(8193)}`], 'token_too_large'],
    ['token of exactly max_token_bytes is parsed (then rejected as malformed)', () => [`Bearer ${'a'.repeat(8192)}`, undefined], 'malformed_token'],
  ];
  for (const [name, args, expected, which] of rows) {
    test(`${name} -> ${expected}`, async () => {
      const [a, c] = args();
      assert.equal(await outcome(which ? which() : auth, a, c), expected);
    });
  }

  test('duplicate Authorization is a 400, the rest 401', () => {
    assert.throws(() => auth.authenticate(['Bearer a', 'Bearer b'], undefined), (e: unknown) => e instanceof GatewayError && e.status === 400);
    assert.throws(() => auth.authenticate(undefined, undefined), (e: unknown) => e instanceof GatewayError && e.status === 401);
  });

  test('extraction failures are reported to onVerification', () => {
    assert.ok(hooks.results.includes('missing_token'));
    assert.ok(hooks.results.includes('duplicate_authorization'));
  });
});
