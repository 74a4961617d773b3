// The rolegate rows: the built CLI with full auth (RS256 JWT from a JWKS over HTTP, a policy with conditions),
// in-memory or Redis store; their configs, policy and seed are generated into the temp dir.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, httpGet, spawnChild, waitReadyOrStop } from './child.js';
import type { Child } from './child.js';
import { AUDIENCE, ISSUER, SUBJECT } from './tokens.js';
import { SMALL_PATH } from './payloads.js';
import type { RunningTarget, TargetContext } from './targets.js';

export interface RolegateVariant {
  /** Extra YAML under `store:` besides the seed or the Redis URL (e.g. cache settings). */
  storeYaml?: string;
  /** Use `store.redis` and load the members with `rolegate import`: on `redisUrl` if given, else on a redis-server of its own. */
  redis?: boolean;
  redisUrl?: string;
  /** Add `policy.shadow` with a candidate policy that differs in one grant. */
  shadow?: boolean;
  /** Policy and store seed YAML, instead of POLICY and MEMBERS. */
  policy?: string;
  members?: string;
}

/** The redis-server binary ($BENCH_REDIS_SERVER or on PATH), or undefined. */
export function redisServerBinary(): string | undefined {
  const bin = process.env.BENCH_REDIS_SERVER || 'redis-server';
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore', timeout: 3000 });
  return r.status === 0 ? bin : undefined;
}

/** The built CLI; $BENCH_ROLEGATE_CLI points at another build (e.g. an older checkout's) to compare. */
export function rolegateCli(ctx: TargetContext): string {
  return process.env.BENCH_ROLEGATE_CLI || join(ctx.repoRoot, 'dist', 'src', 'cli', 'main.js');
}

export function rolegateUnavailable(ctx: TargetContext): string | undefined {
  return existsSync(rolegateCli(ctx)) ? undefined : `${rolegateCli(ctx)} not built`;
}

export interface PolicyOptions {
  /** What the partner may do to deals of its own org (or, with `dealsWhen: collaborator`, of the deals it collaborates on). */
  dealActions?: string;
  dealsWhen?: 'own_org' | 'collaborator';
  /** Mark the deal routes as lists (`items`, `id`, `total` of the large payload), so a per-record right filters them. */
  lists?: boolean;
}

/** The bench policy: one partner role, the two payload routes and the streaming route, all with a condition. */
export function policyYaml(o: PolicyOptions = {}): string {
  const list = o.lists ? ', list: { items: /items, id: id, total: /total }' : '';
  return `resources:
  deals: { actions: [list, read, create, update, delete] }
  files: { actions: [read, update] }
roles:
  partner_contact:
    audience: partner
    grants: [ { allow: "deals:${o.dealActions ?? 'list,read'}", when: ${o.dealsWhen ?? 'own_org'} }, { allow: "files:read,update", when: own_org } ]
routes:
  - { match: "GET /api/partners/:partnerId/deals/small", resource: deals, action: list, org: partnerId, upstream: portal${list} }
  - { match: "GET /api/partners/:partnerId/deals/large", resource: deals, action: list, org: partnerId, upstream: portal${list} }
  - { match: "GET,PUT /api/partners/:partnerId/files/:fileId", resource: files, action: "{method}", org: partnerId, upstream: portal }
`;
}

const POLICY = policyYaml();

/** The shadow candidate: the same policy with one grant widened (partners may also create deals). */
const CANDIDATE = policyYaml({ dealActions: 'list,read,create' });

/** A store seed: `members` maps id -> flow mapping text; `relations` likewise. */
export function seedYaml(members: Record<string, string>, relations: Record<string, string> = {}): string {
  const lines = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `  ${k}: ${v}\n`).join('');
  return `members:\n${lines(members)}${Object.keys(relations).length > 0 ? `relations:\n${lines(relations)}` : ''}`;
}

/** The store entry of a partner contact of p-42, the org every bench path is about. */
export const PARTNER_MEMBER = '{ status: active, roles: [partner_contact], org: p-42, kind: partner }';

const MEMBERS = seedYaml({ [SUBJECT]: PARTNER_MEMBER });

function gatewayYaml(port: number, opsPort: number, ctx: TargetContext, variant: RolegateVariant): string {
  return `listen:  { host: 127.0.0.1, port: ${port} }
ops:     { host: 127.0.0.1, port: ${opsPort} }
upstreams:
  portal: { url: "http://127.0.0.1:${ctx.upstreamPort}", timeout_ms: 30000, connections: 64 }
auth:
  jwt:
    issuer: "${ISSUER}"
    audience: "${AUDIENCE}"
    algorithms: [RS256]
    jwks_url: "${ctx.tokens.jwksUrl}"
    clock_tolerance_s: 30
    claims: { subject: sub, org: org_id, kind: kind, roles: roles, groups: groups }
policy: { paths: [policy.yaml], watch: false${variant.shadow ? ', shadow: { paths: [candidate.yaml] }' : ''} }
store:
${variant.redisUrl ? `  redis: { url: "${variant.redisUrl}", prefix: "bench:" }\n` : '  seed: members.yaml\n'}${variant.storeYaml ?? ''}log: { level: info }
`;
}

/** A redis-server on a free loopback port, nothing persisted; its files and logs in `dir`. */
export async function startRedis(dir: string, name: string): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const child = spawnChild(name, redisServerBinary() ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stderrFile: join(dir, 'redis.stderr.log'), stdoutFile: join(dir, 'redis.stdout.log'), cwd: dir,
  });
  try {
    await waitTcp(port, child, 10_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, child };
}

export async function startRolegate(ctx: TargetContext, name: string, variant: RolegateVariant): Promise<RunningTarget> {
  const dir = join(ctx.tmpDir, name);
  mkdirSync(dir, { recursive: true });
  const [port, opsPort] = [await freePort(), await freePort()];
  const config = join(dir, 'gateway.yaml');
  writeFileSync(join(dir, 'policy.yaml'), variant.policy ?? POLICY);
  writeFileSync(join(dir, 'members.yaml'), variant.members ?? MEMBERS);
  if (variant.shadow) writeFileSync(join(dir, 'candidate.yaml'), CANDIDATE);
  // A row with its own redis-server stops it with the gateway.
  const ownRedis = variant.redis && variant.redisUrl === undefined ? await startRedis(dir, `${name}-redis`) : undefined;
  const redisUrl = variant.redisUrl ?? ownRedis?.url;
  writeFileSync(config, gatewayYaml(port, opsPort, ctx, { ...variant, redisUrl }));
  // The per-request log line stays on; stdout goes to /dev/null (stderr is kept for errors).
  let child: Child | undefined;
  try {
    if (redisUrl !== undefined) await runImport(ctx, dir, config);
    child = spawnChild(name, process.execPath, [rolegateCli(ctx), 'serve', '--config', config], {
      core: ctx.proxyCore, stderrFile: join(dir, 'stderr.log'), cwd: ctx.repoRoot,
    });
    // 20 s: on a loaded 2-core machine a gateway pinned next to other proxies can take seconds to connect its store.
    await waitReadyOrStop(child, `http://127.0.0.1:${opsPort}/readyz`, 20_000);
  } catch (err) {
    await ownRedis?.child.stop();
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  if (ownRedis === undefined) return { url, pid: child.pid, child, opsUrl: `http://127.0.0.1:${opsPort}` };
  // The measured pid stays the gateway's; stopping the row also stops its redis-server.
  const [g, r] = [child, ownRedis.child];
  const both: Child = { ...g, stop: async () => { await g.stop(); await r.stop(); } };
  Object.defineProperty(both, 'exited', { get: () => g.exited ?? (r.exited === undefined ? undefined : `redis-server ${r.exited}`) });
  return { url, pid: g.pid, child: both, opsUrl: `http://127.0.0.1:${opsPort}` };
}

/** Resolves once `port` accepts TCP connections; rejects if `proc` exits or after `timeoutMs`. */
async function waitTcp(port: number, proc: Child, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited !== undefined) throw new Error(`redis-server exited (${proc.exited}): ${proc.stderrTail()}`);
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server not listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `rolegate import members.yaml --config gateway.yaml`, bounded to 30 s (the cold row imports thousands). */
function runImport(ctx: TargetContext, dir: string, config: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [rolegateCli(ctx), 'import', join(dir, 'members.yaml'), '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('exit', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`rolegate import failed (${code ?? sig}): ${out.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Authorization must really happen: the other org's token is refused with 403. */
export async function rolegateDenies(t: RunningTarget, ctx: TargetContext): Promise<void> {
  const r = await httpGet(`${t.url}${SMALL_PATH}`, { authorization: `Bearer ${ctx.tokens.otherOrg}` });
  if (r.status !== 403) throw new Error(`token for org p-99 got HTTP ${r.status}, expected 403`);
}
