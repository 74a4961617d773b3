import type { JSONWebKeySet, JWK } from 'jose';
import { ASYMMETRIC_ALGS } from './algorithms.js';

const CURVES: Record<string, ReadonlySet<string>> = {
  EC: new Set(['P-256', 'P-384', 'P-521']),
  OKP: new Set(['Ed25519']),
};
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface SanitizedSet { jwks: JSONWebKeySet; dropped: number }

/**
 * Copies only the public members a verifier needs out of a JWKS. Symmetric
 * (`oct`) keys are dropped: HMAC secrets come from `secret_env` only, so a
 * JWKS can never smuggle one in. So are private keys, encryption keys, RSA
 * keys under 2048 bits (jose refuses them at verify time anyway) and anything
 * with an `alg` we don't accept. `x5c`/`x5u` are not copied: certificates are
 * never a key source.
 */
export function sanitizeJwks(input: unknown): SanitizedSet {
  if (!isObject(input) || !Array.isArray(input.keys)) throw new Error('not a JWKS (no "keys" array)');
  const keys: JWK[] = [];
  for (const k of input.keys) {
    const clean = sanitizeKey(k);
    if (clean) keys.push(clean);
  }
  return { jwks: { keys }, dropped: input.keys.length - keys.length };
}

export function sanitizeKey(k: unknown): JWK | undefined {
  if (!isObject(k) || typeof k.kty !== 'string') return undefined;
  if (PRIVATE_MEMBERS.some((m) => k[m] !== undefined)) return undefined;
  if (k.use !== undefined && k.use !== 'sig') return undefined;
  if (k.key_ops !== undefined && !(Array.isArray(k.key_ops) && k.key_ops.includes('verify'))) return undefined;
  if (k.alg !== undefined && !(typeof k.alg === 'string' && ASYMMETRIC_ALGS.has(k.alg))) return undefined;
  if (k.kid !== undefined && typeof k.kid !== 'string') return undefined;
  const out: JWK = { kty: k.kty };
  if (k.kid !== undefined) out.kid = k.kid;
  if (k.alg !== undefined) out.alg = k.alg as string;
  if (k.kty === 'RSA') {
    if (typeof k.n !== 'string' || typeof k.e !== 'string') return undefined;
    if (Buffer.from(k.n, 'base64url').length < 256) return undefined;
    out.n = k.n; out.e = k.e;
  } else if (k.kty === 'EC' || k.kty === 'OKP') {
    if (typeof k.crv !== 'string' || !CURVES[k.kty]!.has(k.crv) || typeof k.x !== 'string') return undefined;
    out.crv = k.crv; out.x = k.x;
    if (k.kty === 'EC') {
      if (typeof k.y !== 'string') return undefined;
      out.y = k.y;
    }
  } else {
    return undefined;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
