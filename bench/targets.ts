// The target list: the extension point. Each row of the table is one TargetSpec; add a spec
// (e.g. rolegate on the Redis store) to TARGETS and it is started, smoke-checked and measured.
import { join } from 'node:path';
import { freePort, spawnChild, waitReadyOrStop } from './child.js';
import type { Child } from './child.js';
import { coldMisses, coldUsers, startColdRedis } from './cold-users.js';
import { FILTER_MEMBERS, FILTER_POLICY, filteredLargeBody } from './list-filter.js';
import { nginxBinary, startNginx } from './nginx.js';
import type { PayloadName } from './payloads.js';
import { redisServerBinary, rolegateDenies, rolegateUnavailable, startRolegate } from './rolegate.js';
import type { Mode } from './settings.js';
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
  /** Smoke starts smaller variants (fewer cold users). */
  mode: Mode;
}

export interface RunningTarget {
  url: string;
  /** Root of the process tree whose CPU is measured. */
  pid: number;
  /** Undefined for "direct" (the upstream belongs to the harness). */
  child?: Child;
  /** rolegate's ops listener (/metrics). */
  opsUrl?: string;
  /** Headers per request instead of the bench token's (the cold row cycles through its users). */
  requestHeaders?: () => Record<string, string>;
}

export interface TargetSpec {
  name: string;
  description: string;
  /** The payloads this row is measured on (default: all). */
  payloads?: readonly PayloadName[];
  /** The body the row must answer, when it is not the upstream's (a filtered list). */
  expectedBody?(p: PayloadName): Buffer;
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

export function redisUnavailable(ctx: TargetContext): string | undefined {
  return rolegateUnavailable(ctx) ?? (redisServerBinary() === undefined ? 'redis-server not installed' : undefined);
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
    unavailable: redisUnavailable,
    start: (ctx) => startRolegate(ctx, 'rolegate-redis', { redis: true }),
    extraCheck: rolegateDenies,
  },
  {
    name: 'rolegate-redis-cold',
    description: `rolegate on Redis, store cache off (max_entries 0), requests cycle through ${coldUsers('full').toLocaleString('en-US')} users (tokens cached): a Redis read per request`,
    payloads: ['small'],
    unavailable: redisUnavailable,
    start: (ctx) => startColdRedis(ctx, 'rolegate-redis-cold'),
    extraCheck: async (t, ctx) => { await rolegateDenies(t, ctx); await coldMisses(t); },
  },
  {
    name: 'rolegate-filter',
    description: 'rolegate, in-memory store, list route filtered per record (when: collaborator): the large list parsed, half the records kept, total rewritten',
    payloads: ['large'],
    expectedBody: filteredLargeBody,
    unavailable: rolegateUnavailable,
    start: (ctx) => startRolegate(ctx, 'rolegate-filter', { policy: FILTER_POLICY, members: FILTER_MEMBERS }),
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
