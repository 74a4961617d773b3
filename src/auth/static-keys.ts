import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { hmacHash, jwkFitsAlg, minSecretBytes } from './algorithms.js';
import { sanitizeJwks, sanitizeKey } from './jwks-sanitize.js';
import type { KeySource } from './types.js';

/** A fixed key set loaded at startup (jwks_file or public_key_file). */
export class LocalKeys implements KeySource {
  private readonly set: ReturnType<typeof createLocalJWKSet>;
  /** A single key without a kid (typical PEM file) matches tokens whatever kid they carry. */
  private readonly ignoreKid: boolean;
  constructor(jwks: JSONWebKeySet, allowed: readonly string[], what: string) {
    // Fail at startup, not on every request, when the file can't verify any allowed algorithm.
    if (!jwks.keys.some((k) => allowed.some((alg) => jwkFitsAlg(k, alg)))) {
      throw new Error(`auth: ${what} has no key usable with the allowed algorithms (${allowed.join(', ')})`);
    }
    this.set = createLocalJWKSet(jwks);
    this.ignoreKid = jwks.keys.length === 1 && jwks.keys[0]!.kid === undefined;
  }
  resolve(alg: string, kid: string | undefined): Promise<CryptoKey> {
    return this.set({ alg, kid: this.ignoreKid ? undefined : kid });
  }
  ready(): boolean { return true; }
  close(): void {}
}

export function loadJwksFile(file: string, allowed: readonly string[]): LocalKeys {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`auth: cannot read jwks_file ${file}: ${(err as Error).message}`);
  }
  const { jwks } = sanitizeJwks(json);
  if (jwks.keys.length === 0) throw new Error(`auth: jwks_file ${file} has no usable public signing keys`);
  return new LocalKeys(jwks, allowed, `jwks_file ${file}`);
}

/**
 * public_key_file: a PEM SPKI public key (or certificate), a JWK, or a JWKS.
 * A private key is refused outright: it has no business on the gateway.
 */
export function loadPublicKeyFile(file: string, allowed: readonly string[]): LocalKeys {
  const text = readFileSync(file, 'utf8').trim();
  if (text.startsWith('{')) {
    const json = JSON.parse(text) as Record<string, unknown>;
    if (Array.isArray(json.keys)) {
      const { jwks } = sanitizeJwks(json);
      if (jwks.keys.length === 0) throw new Error(`auth: public_key_file ${file} has no usable public signing keys`);
      return new LocalKeys(jwks, allowed, `public_key_file ${file}`);
    }
    return new LocalKeys({ keys: [requirePublic(sanitizeKey(json), file)] }, allowed, `public_key_file ${file}`);
  }
  if (/PRIVATE KEY/.test(text)) throw new Error(`auth: public_key_file ${file} contains a private key; give the gateway the public key only`);
  let jwk: JWK;
  try {
    jwk = createPublicKey(text).export({ format: 'jwk' }) as JWK;
  } catch (err) {
    throw new Error(`auth: public_key_file ${file} is not a usable PEM public key: ${(err as Error).message}`);
  }
  return new LocalKeys({ keys: [requirePublic(sanitizeKey(jwk), file)] }, allowed, `public_key_file ${file}`);
}

function requirePublic(jwk: JWK | undefined, file: string): JWK {
  if (!jwk) throw new Error(`auth: public_key_file ${file} is not a public RSA (>= 2048 bits), EC (P-256/384/521) or Ed25519 signing key (private keys are refused)`);
  return jwk;
}

/**
 * HS* keys: only ever the secret named by `secret_env`, pre-imported once per
 * algorithm as a non-extractable HMAC CryptoKey so jose can't be handed
 * anything else for an HS token.
 */
export async function loadSecretKeys(envName: string, hmacAlgs: readonly string[]): Promise<Map<string, CryptoKey>> {
  const value = process.env[envName];
  if (value === undefined || value === '') throw new Error(`auth: environment variable ${envName} (jwt.secret_env) is not set`);
  const bytes = Buffer.from(value, 'utf8');
  const min = minSecretBytes(hmacAlgs);
  if (bytes.length < min) throw new Error(`auth: the secret in ${envName} is ${bytes.length} bytes; at least ${min} are required`);
  const keys = new Map<string, CryptoKey>();
  for (const alg of hmacAlgs) {
    keys.set(alg, await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: hmacHash(alg) }, false, ['verify']));
  }
  return keys;
}
