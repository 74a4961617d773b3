/**
 * A temp folder holding what an operator writes for the analysis commands
 * (policy, store seed, gateway.yaml), and a runner for the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Covers every decision reason: exclusions inherited, audiences, login, groups, defaults, record, org and user conditions, a list route. */
export const POLICY = `version: "t-1"
resources:
  deals:    { actions: [list, read, update, delete] }
  payouts:  { actions: [list, read], tags: [financial] }
  partners: { actions: [read] }
  profile:  { actions: [read] }
roles:
  owner:   { grants: ["*:*"] }
  viewer:  { grants: ["*:list,read"], except: { tags: [financial] } }
  auditor: { inherits: [viewer] }
  manager:
    inherits: [viewer]
    grants:
      - { allow: "deals:update,delete", when: assigned }
  partner_contact:
    audience: partner
    grants:
      - { allow: "deals:list", when: collaborator }
      - { allow: "partners:read", when: own_org }
      - { allow: "profile:read", when: self }
  partner_helper: { audience: partner, grants: ["deals:read"] }
  robot: { login: false, grants: ["deals:read"] }
groups:
  emea: { roles: [viewer] }
default_roles: { partner: [partner_contact] }
routes:
  - { match: "GET /api/deals", resource: deals, action: list, upstream: portal, list: { items: /data } }
  - { match: "GET /api/deals/:id", resource: deals, action: read, record: id, upstream: portal }
  - { match: "DELETE /api/deals/:id", resource: deals, action: delete, record: id, upstream: portal }
  - { match: "GET /api/payouts", resource: payouts, action: list, upstream: portal }
  - { match: "GET /api/partners/:p", resource: partners, action: read, org: p, upstream: portal }
  - { match: "GET /api/users/:u/profile", resource: profile, action: read, user: u, upstream: portal }
  - { match: "GET /api/public/**", public: true, upstream: portal }
`;

export const SEED = `members:
  u-olivia: { status: active, roles: [owner], org: acme, kind: internal }
  u-vera:   { status: active, roles: [viewer], org: acme, kind: internal }
  u-al:     { status: active, roles: [auditor], org: acme, kind: internal }
  u-mia:    { status: active, roles: [manager], org: acme, kind: internal }
  u-ed:     { status: active, groups: [emea], org: acme, kind: internal }
  u-pat:    { status: active, org: p-42, kind: partner }
  u-hal:    { status: active, roles: [partner_helper], org: acme, kind: internal }
  u-bot:    { status: active, roles: [robot], kind: internal }
  u-nobody: { status: active, kind: internal }
  u-ivy:    { status: pending, roles: [viewer], kind: internal }
  u-rex:    { status: removed, roles: [owner], kind: internal }
relations:
  deals/d1: { assignees: [u-mia], collaborators: [u-pat], partner: p-42 }
  deals/d2: { assignees: [u-olivia], partner: p-7 }
partners:
  p-42: { groups: [emea] }
`;

export const CONFIG = `upstreams: { portal: { url: "http://127.0.0.1:9" } }
auth: { jwt: { issuer: "https://idp.test/", audience: rolegate-test, algorithms: [ES256], jwks_file: jwks.json } }
policy: { paths: [policy.yaml] }
store: { seed: members.yaml }
http: { methods: [GET, HEAD, POST, PUT, PATCH, DELETE] }
`;

export interface Workspace { dir: string; config: string; write(name: string, text: string): string; close(): void }

export function workspace(files: Record<string, string> = { 'policy.yaml': POLICY, 'members.yaml': SEED, 'gateway.yaml': CONFIG }): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-cli-'));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  for (const [name, text] of Object.entries(files)) write(name, text);
  return { dir, config: join(dir, 'gateway.yaml'), write, close: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult { code: number; stdout: string; stderr: string }

export function rolegate(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: 60000, input: opts.input,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The built CLI's JSON output, with stderr in the message when it is not JSON. */
export function json<T = any>(r: CliResult): T { // eslint-disable-line @typescript-eslint/no-explicit-any
  try { return JSON.parse(r.stdout) as T; } catch { throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`); }
}
