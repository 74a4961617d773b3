/**
 * A throwaway redis-server for one test file: loopback, a free port, no
 * persistence. Never the machine's Redis on 6379. stop()/start() keep the port
 * so clients reconnect to the same address (data does not survive a stop);
 * pause()/resume() freeze it (SIGSTOP) to play a server that accepts but never answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    await Promise.race([waitForPong(port, 5000), exited]);
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

/** Resolves when the server answers PING with +PONG. */
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
    s.on('data', (d) => { buf += d; if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
  });
}

import type { RedisConfig } from '../../src/config/types.js';
import type { CacheResult, StoreHooks } from '../../src/store/index.js';

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
