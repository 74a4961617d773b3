/**
 * Starters for the Redis suites (test/store, test/e2e/redis-*).
 *
 * startRedis(): a throwaway redis-server for one test file: loopback, a free
 * port, no persistence. Never the machine's Redis on 6379. stop()/start() keep
 * the port so clients reconnect to the same address (data does not survive a
 * stop); pause()/resume() freeze it (SIGSTOP) to play a server that accepts but
 * never answers. Also: a Sentinel, store configs and recording hooks, and for
 * the e2e suites a gateway config, an ES256 signer, a counting upstream and
 * `rolegate serve` as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, mintToken, type GeneratedKey } from '../../src/auth/index.js';
import type { Config, RedisConfig } from '../../src/config/types.js';
import type { AssignmentStore, CacheResult, StoreHooks } from '../../src/store/index.js';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Stops the server and removes its folder (call in `after`). */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  if (port === 6379) throw new Error('refusing to use port 6379');
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-redis-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = p;
    // a test process that dies without `after` must not leave a server behind
    const reap = () => { p.kill('SIGKILL'); };
    process.once('exit', reap);
    p.once('exit', () => process.off('exit', reap));
    let stderr = '';
    p.stderr!.on('data', (d) => { stderr += d; });
    const exited = new Promise<never>((_, reject) => p.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${stderr}`))));
    exited.catch(() => {});
    try {
      await Promise.race([waitForPong(port, 5000), exited]);
    } catch (e) {
      p.kill('SIGKILL');
      throw e;
    }
  };

  const stop = async () => {
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await gone;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    pause: () => { child?.kill('SIGSTOP'); },
    resume: () => { child?.kill('SIGCONT'); },
    async close() { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Resolves when the server answers PING. */
export async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    // +PONG, or -NOAUTH from a server with requirepass: either way it is up
    s.on('data', (d) => { buf += d; if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH')); });
  });
}

/** A RedisConfig with the documented defaults. */
export function redisConfig(url: string, over: Partial<RedisConfig> = {}): RedisConfig {
  return { url, prefix: 'rolegate:', connect_timeout_ms: 2000, command_timeout_ms: 500, ...over };
}

/** StoreHooks that keep what they were told, for assertions. */
export function recordingStoreHooks() {
  const cache: Record<CacheResult, number> = { hit: 0, miss: 0, stale: 0 };
  const errors: string[] = [];
  const lags: number[] = [];
  const hooks: StoreHooks = {
    cache: (r) => { cache[r]++; },
    error: (op) => { errors.push(op); },
    duration: () => {},
    invalidation: (lag) => { lags.push(lag); },
  };
  return { hooks, cache, errors, lags };
}

/** p-th percentile (0..100) of a list, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Just enough Config for buildAssignmentStore. */
export function storeOnlyConfig(redis: RedisConfig, cache: { max_entries?: number; ttl_ms?: number; stale_if_error_ms?: number } = {}): Config {
  return { store: { redis, cache: { max_entries: cache.max_entries ?? 1000, ttl_ms: cache.ttl_ms ?? 30000 }, stale_if_error_ms: cache.stale_if_error_ms ?? 0 } } as Config;
}

export const quietLogger = { info() {}, warn() {} };

/** Waits until healthy() (connected and subscribed). */
export async function untilHealthy(store: AssignmentStore, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!store.healthy()) {
    if (Date.now() > deadline) throw new Error('store did not become healthy');
    await sleep(10);
  }
}

/** The repository root, found from this compiled file (dist/test/helpers). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO, 'dist/src/cli/main.js');

export interface GatewayConfigOptions {
  redisUrl?: string;
  listenPort?: number;
  opsPort?: number;
  upstreamUrl?: string;
  jwksFile?: string;
  cache?: { max_entries?: number; ttl_ms?: number };
  staleIfErrorMs?: number;
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Writes a gateway.yaml into `dir` (portal policy from the repo) and returns its path. */
export function writeGatewayConfig(dir: string, o: GatewayConfigOptions = {}): string {
  const store: string[] = [];
  if (o.redisUrl) {
    store.push(`  redis: { url: "${o.redisUrl}", prefix: "rolegate:", command_timeout_ms: ${o.commandTimeoutMs ?? 500}, connect_timeout_ms: ${o.connectTimeoutMs ?? 2000} }`);
  } else {
    store.push('  seed: members.yaml');
  }
  store.push(`  cache: { max_entries: ${o.cache?.max_entries ?? 10000}, ttl_ms: ${o.cache?.ttl_ms ?? 30000} }`);
  store.push(`  stale_if_error_ms: ${o.staleIfErrorMs ?? 0}`);
  const yaml = `listen: { host: 127.0.0.1, port: ${o.listenPort ?? 0} }
ops: { host: 127.0.0.1, port: ${o.opsPort ?? 0} }
upstreams:
  portal: { url: "${o.upstreamUrl ?? 'http://127.0.0.1:9'}", timeout_ms: 5000 }
auth:
  jwt:
    issuer: "https://issuer.test"
    audience: "rolegate-tests"
    algorithms: [ES256]
    jwks_file: "${o.jwksFile ?? 'jwks.json'}"
policy: { paths: ["${join(REPO, 'policies/portal.yaml')}"], watch: false }
store:
${store.join('\n')}
log: { level: warn, decisions: false }
`;
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** A Redis Sentinel watching `masterPort` under the name `name`; stop() it in `after`. */
export async function startSentinel(masterPort: number, name: string): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`);
  const p = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const reap = () => { p.kill('SIGKILL'); };
  process.once('exit', reap);
  try {
    await waitForPong(port, 5000);
  } catch (e) {
    p.kill('SIGKILL');
    throw e;
  }
  return {
    port,
    async stop() {
      process.off('exit', reap);
      if (p.exitCode === null && p.signalCode === null) {
        const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
        p.kill('SIGKILL');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A 200-JSON upstream that counts what reached it. */
export async function startCountingUpstream(): Promise<{ url: string; hits(): number; close(): Promise<void> }> {
  let hits = 0;
  const srv = createHttpServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    hits: () => hits,
    close: () => { srv.closeAllConnections(); return new Promise((resolve) => srv.close(() => resolve())); },
  };
}

/** An ES256 key whose public half is written as `dir/jwks.json`, and a token minter for the gateway config above. */
export async function testSigner(dir: string): Promise<{ jwksFile: string; token(sub: string, claims?: Record<string, unknown>): Promise<string> }> {
  const key: GeneratedKey = await generateSigningKey('ES256');
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
  return {
    jwksFile,
    token: (sub, claims = {}) => mintToken({ privateKey: key.privateKey, alg: 'ES256', kid: key.kid, issuer: 'https://issuer.test', audience: 'rolegate-tests', subject: sub, ttlSeconds: 600, claims }),
  };
}

export interface GatewayChild {
  readonly url: string;
  readonly opsUrl: string;
  readonly pid: number;
  /** Still running (not crashed). */
  alive(): boolean;
  output(): string;
  stop(): Promise<void>;
}

/** `rolegate serve --config FILE` from the built CLI; resolves once /healthz answers. */
export async function spawnGateway(dir: string, name: string, o: GatewayConfigOptions): Promise<GatewayChild> {
  const listenPort = await freePort();
  const opsPort = await freePort();
  const gdir = join(dir, name);
  mkdirSync(gdir, { recursive: true });
  const config = writeGatewayConfig(gdir, { ...o, listenPort, opsPort });
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const reap = () => { child.kill('SIGKILL'); };
  process.once('exit', reap);
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  const deadline = Date.now() + 10000;
  while ((await httpGet(`${opsUrl}/healthz`).catch(() => ({ status: 0 }))).status !== 200) {
    if (child.exitCode !== null) throw new Error(`gateway ${name} exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`gateway ${name} did not start: ${output}`);
    await sleep(25);
  }
  return {
    url: `http://127.0.0.1:${listenPort}`,
    opsUrl,
    pid: child.pid!,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    async stop() {
      process.off('exit', reap);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** GET with an optional bearer token; the body parsed as JSON when it is JSON. Keep-alive off: each call is independent. */
export function httpGet(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { connection: 'close', ...(token ? { authorization: `Bearer ${token}` } : {}) }, timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let body: Record<string, unknown> = {};
        try { body = JSON.parse(text); } catch { /* not JSON (/metrics) */ }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
