import { parseArgs } from 'node:util';
import { isGatewayError, REASONS } from '../errors.js';
import { explainPrincipal, judgeAccess, type AccessVerdict, type Condition, type RoleRef } from '../policy/index.js';
import { configPath, loadConfigAndPolicy, openAnalysisStore, parseClaims, relative, table } from './analysis.js';
import { out, UsageError } from './output.js';

export const accessHelp = `rolegate access USER [--claims JSON] [--json] [--config FILE]

The effective permission matrix of one member: for every resource and action
of the policy, allowed (and by which role), conditional (the conditions: they
depend on the record, org or user a request names), or denied with the reason.
The member comes from the config's store; --claims adds token claims as in
\`rolegate explain\`.`;

export async function access(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, claims: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one USER, got ${positionals.length} argument(s)`);
  const id = positionals[0]!;
  const claims = parseClaims(values.claims);
  const { config, policy } = loadConfigAndPolicy(configPath(values.config));
  const store = await openAnalysisStore(config);
  let member;
  try { member = await store.getMember(id); } finally { await store.close(); }
  let assembled;
  try {
    assembled = explainPrincipal(id, claims, member, config.auth.jwt.claims);
  } catch (e) {
    if (isGatewayError(e)) throw new UsageError(`--claims: ${e.message}`);
    throw e;
  }
  const p = assembled.principal;
  const matrix = policy.permissions.map((perm, i) => ({ resource: perm.resource, action: perm.action, ...judgeAccess(policy, p, i) }));

  if (values.json) {
    out(JSON.stringify({ policy: { version: policy.version, hash: policy.hash }, store: store.description, principal: { ...p, sources: assembled.sources }, permissions: matrix }, null, 2));
    return 0;
  }
  const head = `${p.id}: status ${p.status}, kind ${p.kind ?? '-'}, org ${p.org ?? '-'}, roles ${p.roles.join(',') || '-'}, groups ${p.groups.join(',') || '-'}  (policy ${policy.version}; store: ${store.description})`;
  const rows = matrix.map((m) => [m.resource, m.action, m.access, describeVerdict(m)]);
  out(relative(`${head}\n\n${table([['RESOURCE', 'ACTION', 'ACCESS', 'DETAIL'], ...rows])}`));
  return 0;
}

export function describeVia(r: RoleRef): string {
  return r.via === 'direct' ? 'member role' : r.via === 'group' ? `group ${r.from}` : `default for ${r.from}`;
}

/** `always` | `own_org` | `assigned and own_org or collaborator`. */
export function whenText(when: 'always' | readonly (readonly Condition[])[] | readonly Condition[]): string {
  if (when === 'always') return 'always';
  if (when.length === 0) return 'always';
  const alts = typeof when[0] === 'string' ? [when as readonly Condition[]] : (when as readonly (readonly Condition[])[]);
  return alts.map((a) => a.join(' and ')).join(' or ');
}

export function describeVerdict(v: AccessVerdict): string {
  if (v.access === 'allowed') return `${v.by!.role} (${describeVia(v.by!)})${v.by!.when === 'always' ? '' : `, when ${whenText(v.by!.when)} (holds here)`}`;
  if (v.access === 'conditional') return v.conditions!.map((c) => `${c.role}: when ${whenText(c.when)}`).join('; ');
  if (v.excludedBy) return `${v.reason}: except ${v.excludedBy.by} "${v.excludedBy.name}" of ${v.excludedBy.via}${v.excludedBy.role !== v.excludedBy.via ? ` (from ${v.excludedBy.role})` : ''}`;
  return `${v.reason}: ${v.reason === 'allow' || v.reason === 'filter' ? '' : REASONS[v.reason].message}`;
}
