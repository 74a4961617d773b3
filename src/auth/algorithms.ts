/**
 * The JWS algorithms the gateway will ever accept, split by key family so a
 * key of one family can never be handed to an algorithm of another (the
 * classic RS256 -> HS256 "public key as HMAC secret" confusion).
 */
export const HMAC_ALGS: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512']);
export const ASYMMETRIC_ALGS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

export function isHmacAlg(alg: string): boolean { return HMAC_ALGS.has(alg); }

/** Checks the configured allow-list once at build time; 'none' and unknown names refuse startup. */
export function validateAllowList(algorithms: readonly string[]): void {
  if (algorithms.length === 0) throw new Error('auth: jwt.algorithms is empty');
  for (const alg of algorithms) {
    if (!HMAC_ALGS.has(alg) && !ASYMMETRIC_ALGS.has(alg)) {
      throw new Error(`auth: algorithm ${JSON.stringify(alg)} is not supported (allowed: ${[...HMAC_ALGS, ...ASYMMETRIC_ALGS].join(', ')})`);
    }
  }
}

/** RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. */
export function minSecretBytes(algorithms: readonly string[]): number {
  let min = 32;
  if (algorithms.includes('HS384')) min = 48;
  if (algorithms.includes('HS512')) min = 64;
  return min;
}

export function hmacHash(alg: string): string { return `SHA-${alg.slice(2)}`; }

/** Whether a Node KeyObject (asymmetricKeyType / namedCurve) can verify or sign `alg`. */
export function keyTypeFitsAlg(keyType: string | undefined, namedCurve: string | undefined, alg: string): boolean {
  switch (keyType) {
    case 'rsa': return /^(RS|PS)(256|384|512)$/.test(alg);
    case 'rsa-pss': return /^PS(256|384|512)$/.test(alg);
    case 'ec':
      return (alg === 'ES256' && namedCurve === 'prime256v1')
        || (alg === 'ES384' && namedCurve === 'secp384r1')
        || (alg === 'ES512' && namedCurve === 'secp521r1');
    case 'ed25519': return alg === 'EdDSA' || alg === 'Ed25519';
    default: return false;
  }
}

const EC_ALG: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

/** Whether a (sanitized, public) JWK can verify `alg`; mirrors jose's own kty/crv matching. */
export function jwkFitsAlg(jwk: { kty?: string; crv?: string; alg?: string }, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  switch (jwk.kty) {
    case 'RSA': return /^(RS|PS)(256|384|512)$/.test(alg);
    case 'EC': return jwk.crv !== undefined && EC_ALG[jwk.crv] === alg;
    case 'OKP': return jwk.crv === 'Ed25519' && (alg === 'EdDSA' || alg === 'Ed25519');
    default: return false;
  }
}
