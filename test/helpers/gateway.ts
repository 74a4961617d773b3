/**
 * Start a real gateway for end-to-end suites, from a temp dir holding what an
 * operator would write: a policy YAML, a jwks.json with keys generated at test
 * start, a store seed and a gateway.yaml. In-process through loadConfig +
 * startGateway, or as the built CLI (`rolegate serve --config F`) in a child.
 * Ports are 0 everywhere.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { pino, destination as pinoDestination } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { generateSigningKey, mintToken, type GeneratedKey } from '../../src/auth/index.js';
import { startStubUpstream, type StubUpstream } from './stub-upstream.js';

export const ISSUER = 'https://idp.e2e.test/';
export const AUDIENCE = 'rolegate-e2e';
export const HS_ENV = 'ROLEGATE_E2E_HS_SECRET';
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The e2e access model: the portal's roles plus probe/upload routes for the proxy suites. */
export const POLICY = `
version: "e2e-1"
resources:
  deals:    { actions: [list, read, create, update, delete] }
  partners: { actions: [list, read] }
  payouts:  { actions: [list, read, update], tags: [financial] }
  settings: { actions: [read, update], tags: [settings] }
  profile:  { actions: [read, update] }
  uploads:  { actions: [create] }
  probe:    { actions: [read, create, update, delete] }
roles:
  owner:   { builtin: true, grants: ["*:*"] }
  admin:   { builtin: true, grants: ["*:*"], except: { tags: [financial] } }
  viewer:  { builtin: true, grants: ["*:list,read"], except: { tags: [financial, settings] } }
  member:  { builtin: true, inherits: [viewer], grants: ["deals:create,update"] }
  partner_contact:
    audience: partner
    grants:
      - { allow: "deals:list", when: own_org }
      - { allow: "partners:read", when: own_org }
      - { allow: "profile:read,update", when: self }
default_roles: { partner: [partner_contact] }
routes:
  - { match: "GET /api/deals", resource: deals, action: list, upstream: portal }
  - { match: "POST /api/deals", resource: deals, action: create, upstream: portal }
  - { match: "GET /api/deals/:dealId", resource: deals, action: read, record: dealId, upstream: portal }
  - { match: "PUT,PATCH /api/deals/:dealId", resource: deals, action: update, record: dealId, upstream: portal }
  - { match: "DELETE /api/deals/:dealId", resource: deals, action: delete, record: dealId, upstream: portal }
  - { match: "GET /api/partners/:partnerId", resource: partners, action: read, org: partnerId, upstream: portal }
  - { match: "GET /api/partners/:partnerId/deals", resource: deals, action: list, org: partnerId, upstream: portal }
  - { match: "GET /api/payouts", resource: payouts, action: list, upstream: portal }
  - { match: "GET /api/users/:userId/profile", resource: profile, action: read, user: userId, upstream: portal }
  - { match: "PUT /api/users/:userId/profile", resource: profile, action: update, user: userId, upstream: portal }
  - { match: "* /settings/**", resource: settings, action: "{method}", upstream: portal }
  - { match: "GET /api/events", resource: deals, action: list, websocket: true, upstream: portal }
  - { match: "GET /api/public/**", public: true, upstream: portal }
  - { match: "GET /ws-dead", resource: deals, action: list, websocket: true, upstream: dead }
  - { match: "GET /ws-slow", resource: deals, action: list, websocket: true, upstream: slow }
  - { match: "* /probe/**", resource: probe, action: "{method}", upstream: portal }
  - { match: "* /dead/**", resource: probe, action: "{method}", upstream: dead }
  - { match: "* /slow/**", resource: probe, action: "{method}", upstream: slow }
  - { match: "POST /upload/small", resource: uploads, action: create, max_body_bytes: 1024, upstream: portal }
  - { match: "POST /upload/big", resource: uploads, action: create, upstream: portal }
`;

export const SEED = `
members:
  u-olivia: { status: active, roles: [owner], org: acme, kind: internal }
  u-adam:   { status: active, roles: [admin], org: acme, kind: internal }
  u-vera:   { status: active, roles: [viewer], org: acme, kind: internal }
  u-max:    { status: active, roles: [member], org: acme, kind: internal }
  u-pat:    { status: active, roles: [], org: p-42, kind: partner }
  u-ivy:    { status: pending, roles: [member], org: acme, kind: internal }
  u-rex:    { status: removed, roles: [admin], org: acme, kind: internal }
  u-ghost:  { status: active, roles: [ghost], org: acme, kind: internal }
  u-nora:   { status: active, roles: [partner_contact], org: acme, kind: internal }
relations:
  deals/d1: { assignees: [u-max], collaborators: [u-pat], partner: p-42 }
partners:
  p-42: { groups: [emea] }
`;

export interface TestKeys { rsa: GeneratedKey; ec: GeneratedKey; rsaPublicPem: string; hsSecret: string }

let keysPromise: Promise<TestKeys> | undefined;
/** Generated once per test file (process), at first use. */
export function testKeys(): Promise<TestKeys> {
  return keysPromise ??= (async () => {
    const [rsa, ec] = await Promise.all([generateSigningKey('RS256', 'rsa-1'), generateSigningKey('ES256', 'ec-1')]);
    const rsaPublicPem = createPublicKey({ key: rsa.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    return { rsa, ec, rsaPublicPem, hsSecret: randomBytes(36).toString('base64url') };
  })();
}

export interface TokenOptions {
  alg?: 'RS256' | 'ES256' | 'HS256';
  kid?: string;
  ttlSeconds?: number;
  claims?: Record<string, unknown>;
  issuer?: string;
  audience?: string | string[];
  typ?: string;
}

export interface GatewayOptions {
  /** 'asymmetric' (RS256+ES256 from jwks.json, the default) or 'hs256' (secret_env). */
  keys?: 'asymmetric' | 'hs256';
  policy?: string;
  seed?: string;
  /** Edit the gateway.yaml object before it is written (limits, upstreams, ...). */
  config?: (cfg: Record<string, any>) => void;
  /** Log to a file (default) or nowhere. */
  log?: 'file' | 'silent';
  upstream?: StubUpstream;
}

export interface GatewayFiles {
  dir: string;
  configFile: string;
  logFile: string;
  upstream: StubUpstream;
  ownsUpstream: boolean;
  keys: TestKeys;
  token(sub: string, opts?: TokenOptions): Promise<string>;
  cleanup(): Promise<void>;
}

export interface TestGateway extends GatewayFiles {
  url: string;
  opsUrl: string;
  gateway: RunningGateway;
  /** Parsed request-log lines written so far. */
  logLines(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** A loopback port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Write policy, keys, seed and gateway.yaml to a fresh temp dir. */
export async function prepareGateway(opts: GatewayOptions = {}): Promise<GatewayFiles> {
  const keys = await testKeys();
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-e2e-'));
  const upstream = opts.upstream ?? await startStubUpstream();
  const hs = opts.keys === 'hs256';
  writeFileSync(join(dir, 'policy.yaml'), opts.policy ?? POLICY);
  writeFileSync(join(dir, 'seed.yaml'), opts.seed ?? SEED);
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [keys.rsa.publicJwk, keys.ec.publicJwk] }));
  if (hs) process.env[HS_ENV] = keys.hsSecret;
  const cfg: Record<string, any> = {
    listen: { host: '127.0.0.1', port: 0 },
    ops: { host: '127.0.0.1', port: 0 },
    upstreams: {
      portal: { url: upstream.url, timeout_ms: 10000, connections: 16 },
      dead: { url: `http://127.0.0.1:${await closedPort()}`, timeout_ms: 2000, connect_timeout_ms: 1000 },
      slow: { url: upstream.url, timeout_ms: 400 },
    },
    auth: {
      jwt: {
        issuer: ISSUER,
        audience: AUDIENCE,
        ...(hs ? { algorithms: ['HS256'], secret_env: HS_ENV } : { algorithms: ['RS256', 'ES256'], jwks_file: 'jwks.json' }),
        clock_tolerance_s: 30,
        max_token_bytes: 4096,
      },
      cookie: 'session',
    },
    policy: { paths: ['policy.yaml'], watch: false },
    store: { seed: 'seed.yaml' },
    headers: { prefix: 'x-rolegate-', forward_authorization: true },
    log: { level: 'info' },
  };
  opts.config?.(cfg);
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(cfg));

  const token = (sub: string, t: TokenOptions = {}): Promise<string> => {
    const alg = t.alg ?? (hs ? 'HS256' : 'RS256');
    const key = alg === 'HS256' ? new TextEncoder().encode(keys.hsSecret) : alg === 'ES256' ? keys.ec : keys.rsa;
    return mintToken({
      privateKey: key instanceof Uint8Array ? key : key.privateKey,
      alg,
      ...(alg === 'HS256' ? {} : { kid: t.kid ?? (key as GeneratedKey).kid }),
      issuer: t.issuer ?? ISSUER,
      audience: t.audience ?? AUDIENCE,
      subject: sub,
      ttlSeconds: t.ttlSeconds ?? 300,
      ...(t.claims ? { claims: t.claims } : {}),
      ...(t.typ ? { typ: t.typ } : {}),
    });
  };
  const ownsUpstream = opts.upstream === undefined;
  return {
    dir, configFile, logFile: join(dir, 'requests.log'), upstream, ownsUpstream, keys, token,
    async cleanup() {
      if (ownsUpstream) await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** loadConfig + startGateway in this process, logging to a file (sync writes, so tests can read it at once). */
export async function startTestGateway(opts: GatewayOptions = {}): Promise<TestGateway> {
  const files = await prepareGateway(opts);
  const config = loadConfig(files.configFile);
  const logger = opts.log === 'silent'
    ? pino({ level: 'silent' })
    : pino({ level: 'info' }, pinoDestination({ dest: files.logFile, sync: true }));
  const gateway = await startGateway(config, { logger });
  return {
    ...files,
    url: gateway.url,
    opsUrl: gateway.opsUrl,
    gateway,
    logLines() {
      if (!existsSync(files.logFile)) return [];
      return readFileSync(files.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async close() {
      await gateway.close();
      await files.cleanup();
    },
  };
}

export interface SpawnedGateway extends GatewayFiles {
  url: string;
  opsUrl: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  /** Resident set size of the gateway process in bytes (Linux /proc). */
  rss(): number;
  close(): Promise<void>;
}

/**
 * The built CLI, `rolegate serve --config F`, in a child process. The CLI's
 * logger buffers stdout, so the ports are picked here (free loopback ports)
 * rather than read back from the "listening" line; ready once /healthz answers.
 */
export async function spawnGateway(opts: GatewayOptions = {}, startTimeoutMs = 15000): Promise<SpawnedGateway> {
  const [port, opsPort] = [await closedPort(), await closedPort()];
  const files = await prepareGateway({
    ...opts,
    config: (c) => { c.listen.port = port; c.ops.port = opsPort; opts.config?.(c); },
  });
  const env = { ...process.env, ...(opts.keys === 'hs256' ? { [HS_ENV]: files.keys.hsSecret } : {}) };
  const child = spawn(process.execPath, [CLI, 'serve', '--config', files.configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { if (out.length < 4e6) out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { if (err.length < 4e6) err += c.toString(); });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const listening = { url: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}` };
  const deadline = Date.now() + startTimeoutMs;
  let up = false;
  while (!up && Date.now() < deadline && child.exitCode === null) {
    try { up = (await http(`${listening.opsUrl}/healthz`, { timeoutMs: 1000 })).status === 200; } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
  if (!up) {
    child.kill('SIGKILL');
    await exited;
    await files.cleanup();
    throw new Error(`gateway did not start within ${startTimeoutMs} ms\nstdout: ${out}\nstderr: ${err}`);
  }
  return {
    ...files,
    ...listening,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      await files.cleanup();
    },
  };
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  text: string;
  json: any;
}

/** One request on a fresh connection (no keep-alive pool between cases), bounded by timeoutMs. */
export function http(url: string, opts: { method?: string; headers?: OutgoingHttpHeaders | string[]; body?: string | Buffer | Readable; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers as OutgoingHttpHeaders, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, text, json });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`request to ${url} timed out`)), opts.timeoutMs ?? 10000);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });
