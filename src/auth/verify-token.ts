import { jwtVerify, type JWTVerifyOptions } from 'jose';
import type { JwtConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { checkBodySegments, parseCompactHeader } from './compact-header.js';
import type { KeySource, VerifiedToken } from './types.js';

/** OIDC Core §2: `sub` is at most 255 ASCII chars; we allow 256 printable ones, no edge spaces, so it is header-safe. */
const SAFE_SUBJECT = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

/** `typ` compared the way RFC 7515 §4.1.9 suggests: case-insensitive, "application/" optional. */
function normalizeTyp(typ: string): string {
  const t = typ.toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

/**
 * Full verification of a token the cache didn't know. Order matters: cheap,
 * unauthenticated header checks first (alg allow-list, crit, typ) so nothing
 * attacker-chosen reaches key lookup, then the signature, then claims.
 */
export function createVerifier(jwt: JwtConfig, keys: KeySource): (token: string) => Promise<VerifiedToken> {
  const allowed = new Set(jwt.algorithms);
  const acceptedTyp = jwt.typ.length > 0 ? new Set(jwt.typ.map(normalizeTyp)) : undefined;
  const subjectClaim = jwt.claims.subject;
  const tolerance = jwt.clock_tolerance_s;
  const options: JWTVerifyOptions = {
    algorithms: jwt.algorithms,
    issuer: jwt.issuer,
    audience: jwt.audience,
    clockTolerance: tolerance,
    requiredClaims: [...new Set(['exp', 'iss', 'aud', subjectClaim])],
  };

  return async (token) => {
    const header = parseCompactHeader(token);
    if (!allowed.has(header.alg)) throw new GatewayError('unsupported_algorithm');
    // We implement no JWS extensions, so any `crit` names one we don't understand (RFC 7515 §4.1.11).
    if (header.hasCrit) throw new GatewayError('unsupported_crit');
    if (acceptedTyp && !(typeof header.typ === 'string' && acceptedTyp.has(normalizeTyp(header.typ)))) {
      throw new GatewayError('bad_token_type');
    }
    checkBodySegments(token);

    const key = await keys.resolve(header.alg, header.kid);
    const { payload } = await jwtVerify(token, key, options);

    // jose only checks `iat` against maxTokenAge; a token issued in the future is not valid yet.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + tolerance) throw new GatewayError('token_not_yet_valid', '"iat" is in the future');
    const subject = payload[subjectClaim];
    if (typeof subject !== 'string' || !SAFE_SUBJECT.test(subject)) throw new GatewayError('invalid_claim', `"${subjectClaim}" must be 1-256 printable ASCII characters`);
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new GatewayError('invalid_claim', '"exp" is not a number');

    return Object.freeze({ token, claims: deepFreeze(payload), subject, expiresAtMs: payload.exp * 1000 });
  };
}

/** Cached tokens are shared between requests; later stages must not be able to mutate one request's view of another's claims. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
