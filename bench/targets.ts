// The target list: the extension point. Each row of the table is one TargetSpec; add a spec
// (e.g. rolegate on the Redis store) to TARGETS and it is started, smoke-checked and measured.
import { join } from 'node:path';
import { freePort, spawnChild, waitReadyOrStop } from './child.js';
import type { Child } from './child.js';
import { nginxBinary, startNginx } from './nginx.js';
import { redisServerBinary, rolegateDenies, rolegateUnavailable, startRolegate } from './rolegate.js';
import type { TokenKit } from './tokens.js';

export interface TargetContext {
  repoRoot: string;
  /** dist/bench, where the compiled child scripts live. */
  benchDist: string;
  tmpDir: string;
  upstreamPort: number;
  upstreamPid: number;
  /** Core for proxies when pinning, else undefined. */
  proxyCore: number | undefined;
  tokens: TokenKit;
}

export interface RunningTarget {
  url: string;
  /** Root of the process tree whose CPU is measured. */
  pid: number;
  /** Undefined for "direct" (the upstream belongs to the harness). */
  child?: Child;
}

export interface TargetSpec {
  name: string;
  description: string;
  /** Why this target cannot run on this machine, checked before starting it. */
  unavailable?(ctx: TargetContext): string | undefined;
  start(ctx: TargetContext): Promise<RunningTarget>;
  /** Checks beyond "200 with the upstream's exact body for both payloads". */
  extraCheck?(t: RunningTarget, ctx: TargetContext): Promise<void>;
}

/** A passthrough implemented by bench/targets/<script>.js, started as its own process. */
function nodeScript(name: string, script: string, description: string): TargetSpec {
  return {
    name,
    description,
    async start(ctx) {
      const port = await freePort();
      const child = spawnChild(name, process.execPath, [join(ctx.benchDist, 'targets', `${script}.js`), String(port), `http://127.0.0.1:${ctx.upstreamPort}`], {
        core: ctx.proxyCore, stderrFile: join(ctx.tmpDir, `${name}.stderr.log`),
      });
      const url = `http://127.0.0.1:${port}`;
      await waitReadyOrStop(child, `${url}/healthz`, 10_000);
      return { url, pid: child.pid, child };
    },
  };
}

export const TARGETS: TargetSpec[] = [
  {
    name: 'direct',
    description: 'client -> stub upstream, no proxy (CPU column: the upstream\'s own cost)',
    async start(ctx) {
      return { url: `http://127.0.0.1:${ctx.upstreamPort}`, pid: ctx.upstreamPid };
    },
  },
  {
    name: 'nginx',
    description: 'nginx proxy_pass, upstream keepalive 64, 1 worker, access log on',
    unavailable: () => (nginxBinary() === undefined ? 'nginx not installed' : undefined),
    start: startNginx,
  },
  nodeScript('http-proxy', 'http-proxy', 'http-proxy passthrough, keep-alive agent, no auth'),
  nodeScript('undici', 'undici', 'minimal undici Pool passthrough, streamed, no auth'),
  {
    name: 'rolegate',
    description: 'rolegate, RS256 JWT (JWKS over HTTP) + own_org policy, in-memory store, request log on',
    unavailable: rolegateUnavailable,
    start: (ctx) => startRolegate(ctx, 'rolegate', {}),
    extraCheck: rolegateDenies,
  },
  {
    name: 'rolegate-redis',
    description: 'rolegate as above, Redis member store (local redis-server, not counted) behind the in-process cache',
    unavailable: (ctx) => rolegateUnavailable(ctx) ?? (redisServerBinary() === undefined ? 'redis-server not installed' : undefined),
    start: (ctx) => startRolegate(ctx, 'rolegate-redis', { redis: true }),
    extraCheck: rolegateDenies,
  },
  {
    name: 'rolegate-shadow',
    description: 'rolegate as above, plus a shadow candidate policy (one grant differs) evaluated on every request',
    unavailable: rolegateUnavailable,
    start: (ctx) => startRolegate(ctx, 'rolegate-shadow', { shadow: true }),
    extraCheck: rolegateDenies,
  },
];

/** The reference rows for the ratio columns. */
export const RATIO_REFS = ['http-proxy', 'nginx', 'undici'] as const;
