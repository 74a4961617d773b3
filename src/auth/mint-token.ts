import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { isHmacAlg, keyTypeFitsAlg } from './algorithms.js';

/**
 * Development helpers for `rolegate token` and `rolegate demo`. The gateway
 * itself never signs; these exist so local setups don't need a real IdP.
 */

export type SigningAlg = 'RS256' | 'ES256' | 'EdDSA';
export type SigningKey = CryptoKey | KeyObject | Uint8Array;

export interface GeneratedKey { privateKey: CryptoKey | KeyObject; publicJwk: JWK; kid: string; alg: string }

/** A fresh key pair; kid defaults to the RFC 7638 thumbprint, so it is stable for the key. */
export async function generateSigningKey(alg: SigningAlg, kid?: string): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const id = kid ?? await calculateJwkThumbprint(jwk);
  return { privateKey, publicJwk: { ...jwk, kid: id, alg, use: 'sig' }, kid: id, alg };
}

export interface MintOptions {
  privateKey: SigningKey;
  alg: string;
  kid?: string;
  issuer: string;
  audience: string | string[];
  subject: string;
  ttlSeconds: number;
  /** Extra claims; iss/aud/sub/iat/exp from the options above win over same-named entries here. */
  claims?: Record<string, unknown>;
  typ?: string;
}

export async function mintToken(opts: MintOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...opts.claims })
    .setProtectedHeader({ alg: opts.alg, typ: opts.typ ?? 'JWT', ...(opts.kid !== undefined ? { kid: opts.kid } : {}) })
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setSubject(opts.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + opts.ttlSeconds)
    .sign(opts.privateKey);
}

/**
 * `rolegate token --key FILE`: a PEM private key (PKCS#8, or PKCS#1/SEC1),
 * a private JWK JSON file, or for HS* the raw secret bytes (>= 32).
 */
export async function loadPrivateKey(file: string, alg: string): Promise<SigningKey> {
  const raw = readFileSync(file);
  if (isHmacAlg(alg)) {
    const secret = Buffer.from(raw.toString('utf8').replace(/\r?\n$/, ''), 'utf8');
    if (secret.length < 32) throw new Error(`${file}: an ${alg} secret must be at least 32 bytes`);
    return new Uint8Array(secret);
  }
  const text = raw.toString('utf8').trim();
  if (text.startsWith('{')) {
    const jwk = JSON.parse(text) as JWK;
    if (typeof jwk.d !== 'string') throw new Error(`${file}: the JWK has no private part ("d")`);
    if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error(`${file}: the JWK is for ${jwk.alg}, not ${alg}`);
    const key = await importJWK(jwk, alg);
    if (key instanceof Uint8Array) throw new Error(`${file}: a symmetric JWK cannot sign ${alg}`);
    return key;
  }
  const key = createPrivateKey(text);
  if (!keyTypeFitsAlg(key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve, alg)) {
    throw new Error(`${file}: a ${key.asymmetricKeyType} key cannot sign ${alg}`);
  }
  return key;
}
