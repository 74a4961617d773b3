import { dirname, resolve } from 'node:path';
import { lazyValidator } from './lazy-validator.js';
import { configSchema } from './schema.js';
import { YamlSource, ajvDiagnostics } from './yaml-source.js';
import { LoadError } from './diagnostics.js';
import type { Config } from './types.js';

// coerceTypes: `port: ${PORT}` interpolates to a string; numbers and booleans from the environment must still validate
const validate = lazyValidator({ allErrors: true, useDefaults: true, coerceTypes: true, strict: true, allowUnionTypes: true }, configSchema);

/** Read, interpolate, validate and freeze gateway.yaml. Throws LoadError listing every problem. */
export function loadConfig(file: string): Config {
  const abs = resolve(file);
  const src = YamlSource.read(abs, { interpolateEnv: true });
  if (src.diagnostics.length) throw new LoadError(src.diagnostics);
  const raw = (src.value ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new LoadError([src.error([], 'config must be a YAML mapping')]);
  if (!validate(raw)) ajvDiagnostics(src, validate.errors);
  const cfg = raw as unknown as Config;
  if (src.diagnostics.length === 0) semanticChecks(src, cfg);
  if (src.diagnostics.length) throw new LoadError(src.diagnostics);
  const dir = dirname(abs);
  const at = (p: string) => resolve(dir, p);
  cfg.file = abs;
  cfg.dir = dir;
  cfg.policy.paths = cfg.policy.paths.map(at);
  if (cfg.policy.shadow) cfg.policy.shadow.paths = cfg.policy.shadow.paths.map(at);
  if (cfg.log.decision_log && cfg.log.decision_log.path !== 'stdout') cfg.log.decision_log.path = at(cfg.log.decision_log.path);
  if (cfg.store.seed) cfg.store.seed = at(cfg.store.seed);
  const jwt = cfg.auth.jwt;
  if (jwt.jwks_file) jwt.jwks_file = at(jwt.jwks_file);
  if (jwt.public_key_file) jwt.public_key_file = at(jwt.public_key_file);
  for (const u of Object.values(cfg.upstreams)) u.url = u.url.replace(/\/$/, '');
  return deepFreeze(cfg);
}

function semanticChecks(src: YamlSource, cfg: Config): void {
  const jwt = cfg.auth.jwt;
  const sources = (['jwks_url', 'jwks_file', 'public_key_file', 'secret_env'] as const).filter((k) => jwt[k] !== undefined);
  if (sources.length !== 1 && !jwt.discovery) {
    src.error(['auth', 'jwt'], sources.length === 0
      ? 'one key source is required: jwks_url, jwks_file, public_key_file, secret_env or discovery: true'
      : `only one key source may be set, found ${sources.join(', ')}`);
  }
  const hmac = jwt.algorithms.filter((a) => a.startsWith('HS'));
  if (hmac.length && jwt.secret_env === undefined) src.error(['auth', 'jwt', 'algorithms'], `${hmac.join(', ')} needs secret_env (an HMAC secret); asymmetric keys never verify HMAC tokens`);
  if (jwt.secret_env !== undefined && hmac.length !== jwt.algorithms.length) src.error(['auth', 'jwt', 'algorithms'], 'with secret_env only HS256/HS384/HS512 may be listed');
  const redis = cfg.store.redis;
  if (redis) {
    const forms = [redis.url !== undefined, redis.sentinels !== undefined, redis.cluster !== undefined].filter(Boolean).length;
    if (forms !== 1) src.error(['store', 'redis'], 'exactly one of url, sentinels (with name) or cluster is required');
    if (redis.sentinels && !redis.name) src.error(['store', 'redis', 'name'], 'sentinels need the master name');
  }
  for (const [name, u] of Object.entries(cfg.upstreams)) {
    try {
      const url = new URL(u.url);
      if (!url.hostname) throw new Error('no host');
    } catch {
      src.error(['upstreams', name, 'url'], `"${u.url}" is not a valid http(s) URL`);
    }
  }
  const ports = new Map<number, string>();
  for (const name of ['listen', 'ops', 'admin'] as const) {
    const l = cfg[name];
    if (!l || l.port === 0) continue;
    const other = ports.get(l.port);
    // report at whichever of the two is written in the file (a default has no line)
    if (other) src.error(src.has([name, 'port']) ? [name, 'port'] : [other, 'port'], `port ${l.port} is already used by ${other}`);
    ports.set(l.port, name);
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
