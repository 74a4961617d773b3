/**
 * Test key material and a tiny JWKS/discovery server. Keys are generated per
 * test run; nothing here is a fixture on disk except what tests write to a
 * temp dir themselves.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, type JWK } from 'jose';
import type { AuthConfig, JwtConfig } from '../../src/config/types.js';

export type TestAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface TestKeyPair {
  alg: TestAlg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Public JWK with kid/alg/use set. */
  jwk: JWK;
  spkiPem: string;
  pkcs8Pem: string;
}

export async function generateTestKey(alg: TestAlg, kid: string): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, jwk, spkiPem: await exportSPKI(publicKey), pkcs8Pem: await exportPKCS8(privateKey) };
}

/** A random HS256 secret (48 ASCII chars) to put in an env var. */
export function hmacSecret(): string { return randomBytes(36).toString('base64url'); }

export function b64u(input: string | Uint8Array): string { return Buffer.from(input).toString('base64url'); }

const SIGN_PARAMS: Record<string, AlgorithmIdentifier | EcdsaParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
};

/**
 * Signs an arbitrary header + payload (raw WebCrypto, no jose): attack tokens
 * need headers jose would refuse to produce (crit, jku, alg confusion).
 * `key` is a private CryptoKey, or raw bytes for HS256.
 */
export async function signRaw(header: Record<string, unknown>, payload: Record<string, unknown> | string, key: CryptoKey | Uint8Array): Promise<string> {
  const input = `${b64u(JSON.stringify(header))}.${b64u(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  const data = new TextEncoder().encode(input);
  let sig: ArrayBuffer;
  if (key instanceof Uint8Array) {
    const hmac = await crypto.subtle.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    sig = await crypto.subtle.sign('HMAC', hmac, data);
  } else {
    sig = await crypto.subtle.sign(SIGN_PARAMS[header.alg as string] ?? { name: 'RSASSA-PKCS1-v1_5' }, key, data);
  }
  return `${input}.${b64u(new Uint8Array(sig))}`;
}

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'rolegate-tests';

/** Claims that pass every check, relative to now. */
export function goodClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now, exp: now + 300, ...extra };
}

/** A full AuthConfig with the documented defaults; tests override what they exercise. */
export function authConfig(jwt: Partial<JwtConfig>, cookie?: string): AuthConfig {
  const full: JwtConfig = {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    jwks_url: undefined,
    jwks_file: undefined,
    public_key_file: undefined,
    secret_env: undefined,
    discovery: false,
    typ: [],
    clock_tolerance_s: 30,
    max_token_bytes: 8192,
    jwks_cache_ttl_s: 600,
    jwks_refetch_interval_s: 30,
    jwks_timeout_ms: 5000,
    token_cache: { max_entries: 10000 },
    claims: { subject: 'sub', org: 'org_id', kind: 'kind', roles: 'roles', groups: 'groups', email: 'email' },
    ...jwt,
  };
  for (const k of ['jwks_url', 'jwks_file', 'public_key_file', 'secret_env'] as const) {
    if (full[k] === undefined) delete full[k];
  }
  return cookie === undefined ? { jwt: full } : { jwt: full, cookie };
}

/** A temp dir for key files; remove() at the end of the test file. */
export function tempDir(): { dir: string; write(name: string, content: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-auth-'));
  return {
    dir,
    write(name, content) { const p = join(dir, name); writeFileSync(p, content); return p; },
    remove() { rmSync(dir, { recursive: true, force: true }); },
  };
}

export interface JwksServer {
  /** http://127.0.0.1:port (also the issuer in its discovery document). */
  base: string;
  jwksUrl: string;
  /** Requests per path. */
  hits: Map<string, number>;
  jwksHits(): number;
  totalHits(): number;
  setKeys(keys: JWK[]): void;
  /** While failing, every request gets a 503. */
  setFailing(failing: boolean): void;
  /** Overrides the discovery document (default: { issuer: base, jwks_uri: jwksUrl }). */
  setDiscovery(doc: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let current = keys;
  let failing = false;
  let discovery: Record<string, unknown> | undefined;
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (failing) { res.writeHead(503).end(); return; }
    if (path === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: current }));
    } else if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(discovery ?? { issuer: base, jwks_uri: `${base}/jwks.json` }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    jwksUrl: `${base}/jwks.json`,
    hits,
    jwksHits: () => hits.get('/jwks.json') ?? 0,
    totalHits: () => [...hits.values()].reduce((a, b) => a + b, 0),
    setKeys(k) { current = k; },
    setFailing(f) { failing = f; },
    setDiscovery(doc) { discovery = doc; },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Records onVerification results and warnings. */
export function recordingHooks(): { results: string[]; warnings: string[]; logged: object[]; onVerification(r: string): void; logger: { warn(obj: object, msg: string): void } } {
  const results: string[] = [];
  const warnings: string[] = [];
  const logged: object[] = [];
  return {
    results,
    warnings,
    logged,
    onVerification(r) { results.push(r); },
    logger: { warn(obj, msg) { logged.push(obj); warnings.push(msg); } },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond()` holds (timing-based tests stay stable on a loaded machine). */
export async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await sleep(10);
  }
}
