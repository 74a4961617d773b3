// Row "rolegate": the built CLI with full auth (RS256 JWT from a JWKS over HTTP, own_org policy).
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
  /** Extra YAML under `store:` besides the seed (e.g. a Redis URL, for a later row). */
  storeYaml?: string;
  /** Start a redis-server on a free loopback port, use `store.redis` and load the members with `rolegate import`. */
  redis?: boolean;
  /** Add `policy.shadow` with a candidate policy that differs in one grant. */
  shadow?: boolean;
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

const POLICY = `resources:
  deals: { actions: [list, read, create, update, delete] }
roles:
  partner_contact:
    audience: partner
    grants: [ { allow: "deals:list,read", when: own_org } ]
routes:
  - { match: "GET /api/partners/:partnerId/deals/small", resource: deals, action: list, org: partnerId, upstream: portal }
  - { match: "GET /api/partners/:partnerId/deals/large", resource: deals, action: list, org: partnerId, upstream: portal }
`;

/** The shadow candidate: the same policy with one grant widened (partners may also create deals). */
const CANDIDATE = POLICY.replace('allow: "deals:list,read"', 'allow: "deals:list,read,create"');

const MEMBERS = `members:
  ${SUBJECT}: { status: active, roles: [partner_contact], org: p-42, kind: partner }
`;

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
${variant.redis ? '' : '  seed: members.yaml\n'}${variant.storeYaml ?? ''}log: { level: info }
`;
}

export async function startRolegate(ctx: TargetContext, name: string, variant: RolegateVariant): Promise<RunningTarget> {
  const dir = join(ctx.tmpDir, name);
  mkdirSync(dir, { recursive: true });
  const [port, opsPort] = [await freePort(), await freePort()];
  const config = join(dir, 'gateway.yaml');
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'members.yaml'), MEMBERS);
  if (variant.shadow) writeFileSync(join(dir, 'candidate.yaml'), CANDIDATE);
  let redis: Child | undefined;
  if (variant.redis) {
    const redisPort = await freePort();
    const bin = redisServerBinary() ?? 'redis-server';
    redis = spawnChild(`${name}-redis`, bin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stderrFile: join(dir, 'redis.stderr.log'), stdoutFile: join(dir, 'redis.stdout.log'), cwd: dir,
    });
    try {
      await waitTcp(redisPort, redis, 10_000);
      variant = { ...variant, storeYaml: `${variant.storeYaml ?? ''}  redis: { url: "redis://127.0.0.1:${redisPort}", prefix: "bench:" }\n` };
      writeFileSync(config, gatewayYaml(port, opsPort, ctx, variant));
      await runImport(ctx, dir, config);
    } catch (err) {
      await redis.stop();
      throw err;
    }
  } else {
    writeFileSync(config, gatewayYaml(port, opsPort, ctx, variant));
  }
  // The per-request log line stays on; stdout goes to /dev/null (stderr is kept for errors).
  const child = spawnChild(name, process.execPath, [rolegateCli(ctx), 'serve', '--config', config], {
    core: ctx.proxyCore, stderrFile: join(dir, 'stderr.log'), cwd: ctx.repoRoot,
  });
  try {
    await waitReadyOrStop(child, `http://127.0.0.1:${opsPort}/readyz`, 10_000);
  } catch (err) {
    await redis?.stop();
    throw err;
  }
  if (redis === undefined) return { url: `http://127.0.0.1:${port}`, pid: child.pid, child };
  // The measured pid stays the gateway's; stopping the row also stops its redis-server.
  const r = redis;
  const both: Child = { ...child, stop: async () => { await child.stop(); await r.stop(); } };
  Object.defineProperty(both, 'exited', { get: () => child.exited ?? (r.exited === undefined ? undefined : `redis-server ${r.exited}`) });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child: both };
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

/** `rolegate import members.yaml --config gateway.yaml`, bounded to 20 s. */
function runImport(ctx: TargetContext, dir: string, config: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [rolegateCli(ctx), 'import', join(dir, 'members.yaml'), '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
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
