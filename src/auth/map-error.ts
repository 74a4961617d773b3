import { GatewayError, isGatewayError, type Reason } from '../errors.js';

/**
 * The one place a verification failure becomes a reason. jose's messages are
 * deliberately not copied into the GatewayError (some echo header values, and
 * jose attaches the claims set as `payload`/`cause`), so nothing from the
 * token can reach a log line through this error.
 */
export function toGatewayError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
  return new GatewayError(reasonOf(err));
}

function reasonOf(err: unknown): Reason {
  const e = err as { code?: unknown; claim?: unknown; reason?: unknown; name?: unknown };
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED': return 'token_expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return 'bad_signature';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': return claimReason(e.claim, e.reason);
    case 'ERR_JOSE_ALG_NOT_ALLOWED': return 'unsupported_algorithm';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS': // no kid and several candidates: we don't try each
    case 'ERR_JWK_INVALID':
      return 'unknown_key';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'malformed_token';
    case 'ERR_JOSE_NOT_SUPPORTED': return 'unsupported_crit';
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return 'keys_unavailable';
    default:
      // jose throws plain TypeErrors (and WebCrypto DOMExceptions) when a key
      // can't serve the algorithm: wrong type/curve, RSA < 2048 bits.
      if (e?.name === 'TypeError' || e?.name === 'DataError' || e?.name === 'InvalidAccessError' || e?.name === 'NotSupportedError') return 'unknown_key';
      return 'internal';
  }
}

function claimReason(claim: unknown, reason: unknown): Reason {
  if (reason === 'missing') return 'missing_claim';
  if (reason === 'invalid') return 'invalid_claim';
  switch (claim) {
    case 'iss': return 'bad_issuer';
    case 'aud': return 'bad_audience';
    case 'nbf':
    case 'iat':
      return 'token_not_yet_valid';
    case 'typ': return 'bad_token_type';
    default: return 'invalid_claim';
  }
}
