import type { AuthConfig } from '../config/types.js';
import { isGatewayError, type GatewayError } from '../errors.js';
import { validateAllowList } from './algorithms.js';
import { extractToken } from './extract-token.js';
import { buildKeySource } from './key-source.js';
import { toGatewayError } from './map-error.js';
import { TokenCache } from './token-cache.js';
import type { AuthHooks, Authenticator, VerifiedToken } from './types.js';
import { createVerifier } from './verify-token.js';

/**
 * Builds the auth stage. Throws (refuses to start) on a configuration that
 * can't work: unknown/none algorithm, missing or short HMAC secret, unreadable
 * key file. A JWKS endpoint that is down at startup is NOT fatal: ready()
 * stays false and tokens get keys_unavailable until a fetch succeeds.
 */
export async function buildAuthenticator(cfg: AuthConfig, hooks: AuthHooks): Promise<Authenticator> {
  const jwt = cfg.jwt;
  validateAllowList(jwt.algorithms);
  const keys = await buildKeySource(jwt, hooks.logger);
  const verify = createVerifier(jwt, keys);
  const cache = new TokenCache(jwt.token_cache.max_entries, jwt.jwks_cache_ttl_s * 1000);
  const maxBytes = jwt.max_token_bytes;
  const cookie = cfg.cookie;

  const fail = (err: unknown): never => {
    const g = toGatewayError(err);
    if (!isExpected(err)) logUnexpected(hooks, err);
    hooks.onVerification(g.reason);
    throw g;
  };
  const succeed = (verified: VerifiedToken): VerifiedToken => {
    cache.set(verified);
    hooks.onVerification('ok');
    return verified;
  };

  return {
    authenticate(authorization, cookieHeader) {
      let token: string;
      try {
        token = extractToken(authorization, cookieHeader, cookie, maxBytes);
      } catch (err) {
        hooks.onVerification((err as GatewayError).reason);
        throw err;
      }
      const hit = cache.get(token);
      if (hit !== undefined) {
        hooks.onVerification('cache_hit');
        return hit;
      }
      return verify(token).then(succeed, fail);
    },
    ready: () => keys.ready(),
    close: () => keys.close(),
  };
}

/** GatewayErrors and jose's own errors are normal outcomes; anything else deserves a log line. */
function isExpected(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return isGatewayError(err) || (typeof code === 'string' && /^ERR_J(OSE|WS|WT|WK|WKS)_/.test(code));
}

/** Only the error's class and code: messages of unknown errors may quote token bytes (e.g. JSON SyntaxError). */
function logUnexpected(hooks: AuthHooks, err: unknown): void {
  const e = err as { name?: unknown; code?: unknown };
  hooks.logger?.warn({ errName: e?.name, errCode: e?.code }, 'auth: unexpected error during token verification');
}
