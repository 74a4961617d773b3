// Row "rolegate": the built CLI with full auth (RS256 JWT from a JWKS over HTTP, own_org policy).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpGet, spawnChild, waitReadyOrStop } from './child.js';
import { AUDIENCE, ISSUER, SUBJECT } from './tokens.js';
import { SMALL_PATH } from './payloads.js';
import type { RunningTarget, TargetContext } from './targets.js';

export interface RolegateVariant {
  /** Extra YAML under `store:` besides the seed (e.g. a Redis URL, for a later row). */
  storeYaml?: string;
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
policy: { paths: [policy.yaml], watch: false }
store:
  seed: members.yaml
${variant.storeYaml ?? ''}log: { level: info }
`;
}

export async function startRolegate(ctx: TargetContext, name: string, variant: RolegateVariant): Promise<RunningTarget> {
  const dir = join(ctx.tmpDir, name);
  mkdirSync(dir, { recursive: true });
  const [port, opsPort] = [await freePort(), await freePort()];
  const config = join(dir, 'gateway.yaml');
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  writeFileSync(join(dir, 'members.yaml'), MEMBERS);
  writeFileSync(config, gatewayYaml(port, opsPort, ctx, variant));
  // The per-request log line stays on; stdout goes to /dev/null (stderr is kept for errors).
  const child = spawnChild(name, process.execPath, [rolegateCli(ctx), 'serve', '--config', config], {
    core: ctx.proxyCore, stderrFile: join(dir, 'stderr.log'), cwd: ctx.repoRoot,
  });
  await waitReadyOrStop(child, `http://127.0.0.1:${opsPort}/readyz`, 10_000);
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child };
}

/** Authorization must really happen: the other org's token is refused with 403. */
export async function rolegateDenies(t: RunningTarget, ctx: TargetContext): Promise<void> {
  const r = await httpGet(`${t.url}${SMALL_PATH}`, { authorization: `Bearer ${ctx.tokens.otherOrg}` });
  if (r.status !== 403) throw new Error(`token for org p-99 got HTTP ${r.status}, expected 403`);
}
