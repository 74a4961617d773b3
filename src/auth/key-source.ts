import type { JwtConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { isHmacAlg } from './algorithms.js';
import { RemoteJwks } from './remote-jwks.js';
import { loadJwksFile, loadPublicKeyFile, loadSecretKeys } from './static-keys.js';
import type { AuthLogger, KeySource } from './types.js';

/**
 * Builds the key source from config alone: tokens never contribute keys or key
 * locations (`jwk`, `jku`, `x5u`, `x5c` headers are ignored), `kid` is only a
 * lookup label. Refuses to start on a configuration that can't verify some
 * allowed algorithm, rather than failing every request later.
 */
export async function buildKeySource(jwt: JwtConfig, logger: AuthLogger | undefined): Promise<KeySource> {
  const hmacAlgs = jwt.algorithms.filter(isHmacAlg);
  const publicAlgs = jwt.algorithms.filter((a) => !isHmacAlg(a));

  let secrets: Map<string, CryptoKey> | undefined;
  if (hmacAlgs.length > 0) {
    if (!jwt.secret_env) throw new Error(`auth: ${hmacAlgs.join(', ')} allowed but jwt.secret_env is not set`);
    secrets = await loadSecretKeys(jwt.secret_env, hmacAlgs);
  } else if (jwt.secret_env) {
    logger?.warn({ secret_env: jwt.secret_env }, 'auth: jwt.secret_env is set but no HS* algorithm is allowed; the secret is not used');
  }

  const remote = jwt.jwks_url !== undefined || jwt.discovery;
  const sources = [remote && 'jwks_url/discovery', jwt.jwks_file && 'jwks_file', jwt.public_key_file && 'public_key_file'].filter(Boolean);
  if (sources.length > 1) throw new Error(`auth: configure only one public key source (got ${sources.join(', ')})`);
  if (publicAlgs.length > 0 && sources.length === 0) {
    throw new Error(`auth: ${publicAlgs.join(', ')} allowed but none of jwks_url, discovery, jwks_file, public_key_file is set`);
  }
  if (publicAlgs.length === 0 && sources.length > 0) {
    logger?.warn({ source: sources[0] }, 'auth: a public key source is configured but only HS* algorithms are allowed; it is not used');
  }

  let publicKeys: KeySource | undefined;
  if (publicAlgs.length > 0) {
    if (jwt.jwks_file) publicKeys = loadJwksFile(jwt.jwks_file, publicAlgs);
    else if (jwt.public_key_file) publicKeys = loadPublicKeyFile(jwt.public_key_file, publicAlgs);
    else {
      if (jwt.jwks_url !== undefined && jwt.discovery) {
        logger?.warn({ jwks_url: jwt.jwks_url }, 'auth: both jwks_url and discovery are set; using jwks_url without discovery');
      }
      const jwks = new RemoteJwks({
        ...(jwt.jwks_url !== undefined ? { jwksUrl: jwt.jwks_url } : { discoveryIssuer: jwt.issuer }),
        ttlMs: jwt.jwks_cache_ttl_s * 1000,
        intervalMs: jwt.jwks_refetch_interval_s * 1000,
        timeoutMs: jwt.jwks_timeout_ms,
        logger,
      });
      await jwks.start();
      publicKeys = jwks;
    }
  }
  return new KeysByFamily(secrets, publicKeys);
}

/** Dispatches by algorithm family: HS* only to the secret, everything else only to the public keys. */
class KeysByFamily implements KeySource {
  constructor(private readonly secrets: Map<string, CryptoKey> | undefined, private readonly publicKeys: KeySource | undefined) {}
  resolve(alg: string, kid: string | undefined): Promise<CryptoKey> {
    if (isHmacAlg(alg)) {
      const secret = this.secrets?.get(alg);
      return secret ? Promise.resolve(secret) : Promise.reject(new GatewayError('unknown_key', `no secret configured for ${alg}`));
    }
    if (!this.publicKeys) return Promise.reject(new GatewayError('unknown_key', `no public key configured for ${alg}`));
    return this.publicKeys.resolve(alg, kid);
  }
  ready(): boolean { return this.publicKeys ? this.publicKeys.ready() : true; }
  close(): void { this.publicKeys?.close(); }
}
