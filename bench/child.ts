// Child processes of the harness: spawned (optionally pinned with taskset), tracked, always killed.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

export interface Child {
  name: string;
  pid: number;
  stderrFile: string;
  /** Set once the process has exited ("code 1", "signal SIGKILL"...). */
  exited: string | undefined;
  stop(): Promise<void>;
  /** Last lines of the child's stderr, for error messages. */
  stderrTail(): string;
}

const live = new Set<ChildProcess>();

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore', timeout: 2000 }).status === 0;
}

/** Pin every thread of this process (the load generator) to `core`. */
export function pinSelf(core: number): boolean {
  return spawnSync('taskset', ['-a', '-pc', String(core), String(process.pid)], { stdio: 'ignore', timeout: 2000 }).status === 0;
}

export interface SpawnOpts {
  /** Run under `taskset -c <core>`. */
  core?: number | undefined;
  /** File for stdout, or undefined for /dev/null. */
  stdoutFile?: string | undefined;
  stderrFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function spawnChild(name: string, cmd: string, args: string[], opts: SpawnOpts): Child {
  const argv = opts.core === undefined ? [cmd, ...args] : ['taskset', '-c', String(opts.core), cmd, ...args];
  const errFd = openSync(opts.stderrFile, 'w');
  const outFd = opts.stdoutFile === undefined ? 'ignore' : openSync(opts.stdoutFile, 'w');
  // detached: own process group, so the whole tree (nginx master + worker) is signalled at once.
  const proc = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['ignore', outFd, errFd],
    detached: true,
    cwd: opts.cwd,
    env: opts.env ?? process.env,
  });
  closeSync(errFd);
  if (typeof outFd === 'number') closeSync(outFd);
  live.add(proc);
  const child: Child = {
    name,
    pid: proc.pid ?? -1,
    stderrFile: opts.stderrFile,
    exited: proc.pid === undefined ? 'failed to spawn' : undefined,
    stop: () => stopProc(proc),
    stderrTail: () => tail(opts.stderrFile),
  };
  proc.on('error', (err) => { child.exited = `spawn error: ${err.message}`; });
  proc.on('exit', (code, signal) => {
    child.exited = signal ? `signal ${signal}` : `exit code ${code}`;
    live.delete(proc);
  });
  return child;
}

function signalGroup(proc: ChildProcess, sig: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, sig);
  } catch {
    try { proc.kill(sig); } catch { /* already gone */ }
  }
}

async function stopProc(proc: ChildProcess): Promise<void> {
  if (!live.has(proc)) return;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  signalGroup(proc, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 3000).unref());
  if ((await Promise.race([gone, timer])) === 'timeout') {
    signalGroup(proc, 'SIGKILL');
    await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
  signalGroup(proc, 'SIGKILL'); // stragglers in the group
  live.delete(proc);
}

/** Synchronous last resort (process 'exit' handler). */
export function killAllNow(): void {
  for (const proc of live) signalGroup(proc, 'SIGKILL');
  live.clear();
}

export async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop()));
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Ports this process has handed out: the kernel may offer a just-closed port again, and targets start concurrently. */
const handedOut = new Set<number>();

/** A port that was free a moment ago (listen on 0, close, hand the number to a child), never the same one twice. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no unused port after 50 attempts');
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export interface HttpAnswer { status: number; body: Buffer }

/** One GET on a fresh connection, bounded by `timeoutMs`. */
export function httpGet(url: string, headers: Record<string, string>, timeoutMs = 2000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Poll `url` until `ok(status)`, the child exits, or `timeoutMs` passes. Throws with a reason. */
export async function waitReady(
  child: Child, url: string, timeoutMs: number, ok: (status: number) => boolean = (s) => s === 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exited !== undefined) {
      const t = child.stderrTail();
      throw new Error(`${child.name} ${child.exited} before ready${t ? `:\n${t}` : ''}`);
    }
    try {
      const r = await httpGet(url, {}, 1000);
      if (ok(r.status)) return;
      last = `HTTP ${r.status} ${r.body.toString('utf8', 0, 300)}`; // e.g. /readyz names the failing check
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} not ready within ${timeoutMs} ms (${url}: ${last})`);
}

/** waitReady, and stop the child if it never gets ready. */
export async function waitReadyOrStop(
  child: Child, url: string, timeoutMs: number, ok?: (status: number) => boolean,
): Promise<void> {
  try {
    await waitReady(child, url, timeoutMs, ok);
  } catch (err) {
    await child.stop();
    throw err;
  }
}
