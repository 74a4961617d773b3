import { parseArgs } from 'node:util';
import { assemblePrincipal, judgeAccess, rolesHolding, type AccessQuery, type AccessVerdict, type CompiledPolicy } from '../policy/index.js';
import { configPath, csv, loadConfigAndPolicy, openAnalysisStore, relative, table, type AnalysisStore } from './analysis.js';
import { describeVerdict, describeVia, whenText } from './access.js';
import { out, UsageError } from './output.js';

export const whoCanHelp = `rolegate who-can RESOURCE:ACTION [--record RESOURCE/ID] [--org O] [--all] [--json|--csv] [--config FILE]

Every member of the config's store who may do RESOURCE:ACTION, with the role
and the condition that makes it so, and every role of the policy that holds it.
Members are judged on the gateway's engine with what the store says about them
(a token's org/kind claims could differ: see \`rolegate explain --claims\`).
  --record RESOURCE/ID  judge record conditions (assigned, collaborator, group) on this record
  --org O               judge own_org and group for this organisation
  --all                 also list members who may not, with the reason
  --json | --csv        machine-readable output (CSV: one row per member and role)
Without --record/--org, a grant whose condition needs them is listed as
"conditional" with the condition.`;

export async function whoCan(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' }, record: { type: 'string' }, org: { type: 'string' }, all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false }, csv: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one RESOURCE:ACTION, got ${positionals.length} argument(s)`);
  if (values.json && values.csv) throw new UsageError('--json and --csv exclude each other');
  const { config, policy } = loadConfigAndPolicy(configPath(values.config));
  const perm = permissionIndex(policy, positionals[0]!);
  const resource = policy.permissions[perm]!.resource;
  if (values.record !== undefined && !values.record.startsWith(`${resource}/`)) {
    throw new UsageError(`--record must name a ${resource} record (${resource}/ID), got "${values.record}"`);
  }
  const store = await openAnalysisStore(config);
  let rows: { member: { id: string; status: string; kind: string | null; org: string | null; email: string | null }; verdict: AccessVerdict }[];
  let query: AccessQuery;
  try {
    query = await accessQuery(store, values.org, values.record);
    rows = [];
    for (const m of await store.listMembers()) {
      const principal = assemblePrincipal(m.id, {}, m, config.auth.jwt.claims);
      const verdict = judgeAccess(policy, principal, perm, query);
      if (verdict.access !== 'denied' || values.all) rows.push({ member: { id: m.id, status: m.status, kind: m.kind ?? null, org: m.org ?? null, email: m.email ?? null }, verdict });
    }
  } finally {
    await store.close();
  }
  const roles = rolesHolding(policy, perm);
  const permission = positionals[0]!;

  if (values.json) {
    out(JSON.stringify({ permission, policy: { version: policy.version, hash: policy.hash }, store: store.description, query: describeQuery(query), roles, members: rows.map((r) => ({ ...r.member, ...r.verdict })) }, null, 2));
    return 0;
  }
  const flat = rows.flatMap((r) => verdictRows(r.verdict).map((v) => [r.member.id, r.member.status, r.member.kind ?? '', r.member.org ?? '', r.verdict.access, v.role, v.via, v.detail]));
  if (values.csv) {
    out(csv([['member', 'status', 'kind', 'org', 'access', 'role', 'via', 'detail'], ...flat]).trimEnd());
    return 0;
  }
  const lines = [`${permission}  (policy ${policy.version}; store: ${store.description})`];
  const q = describeQuery(query);
  if (q.length) lines.push(`target: ${q.join('; ')}`);
  lines.push('', 'roles that hold it:');
  if (roles.length === 0) lines.push('  (none)');
  for (const r of roles) {
    const how = r.grant === null ? `excluded by except ${r.excludedBy!.by} "${r.excludedBy!.name}"${r.excludedBy!.role !== r.role ? ` (from ${r.excludedBy!.role})` : ''}`
      : r.grant === 'always' ? 'always' : `when ${whenText(r.grant)}`;
    const reach = [...r.groups.map((g) => `group ${g}`), ...r.defaultFor.map((k) => `default for ${k}`)];
    const notes = [r.audience !== 'any' ? `audience ${r.audience}` : '', r.login ? '' : 'login disabled', reach.length ? `via ${reach.join(', ')}` : ''].filter(Boolean);
    lines.push(`  ${r.role.padEnd(20)} ${how}${notes.length ? `  [${notes.join('; ')}]` : ''}  ${r.source}`);
  }
  lines.push('', `members${values.all ? '' : ' who can'}:`);
  lines.push(flat.length ? table([['MEMBER', 'STATUS', 'KIND', 'ORG', 'ACCESS', 'ROLE', 'VIA', 'DETAIL'], ...flat]).replace(/^/gm, '  ') : '  (none)');
  out(relative(lines.join('\n')));
  return 0;
}

export function permissionIndex(policy: CompiledPolicy, spec: string): number {
  const idx = policy.permIndex.get(spec);
  if (idx !== undefined) return idx;
  const [res] = spec.split(':');
  const actions = policy.permissions.filter((p) => p.resource === res).map((p) => p.action);
  throw new UsageError(actions.length
    ? `resource "${res}" has no action in "${spec}" (actions: ${actions.join(', ')})`
    : `"${spec}" is not RESOURCE:ACTION of this policy (resources: ${[...new Set(policy.permissions.map((p) => p.resource))].join(', ')})`);
}

/** The facts a who-can question fixes, read from the store like resolveTarget reads them for a request. */
async function accessQuery(store: AnalysisStore, org: string | undefined, recordRef: string | undefined): Promise<AccessQuery> {
  const q: AccessQuery = {};
  if (org !== undefined) q.org = org;
  if (recordRef !== undefined) {
    q.recordRef = recordRef;
    const record = await store.getRelations(recordRef);
    if (record) q.record = record;
  }
  const partner = org ?? q.record?.partner;
  if (partner !== undefined) {
    const groups = await store.getPartnerGroups(partner);
    if (groups) q.partnerGroups = groups;
  }
  return q;
}

function describeQuery(q: AccessQuery): string[] {
  const out: string[] = [];
  if (q.org !== undefined) out.push(`org ${q.org}`);
  if (q.recordRef !== undefined) {
    out.push(q.record ? `record ${q.recordRef} (assignees ${q.record.assignees.join(',') || '-'}; collaborators ${q.record.collaborators.join(',') || '-'}; partner ${q.record.partner ?? '-'})`
      : `record ${q.recordRef} (unknown to the store)`);
  }
  if (q.partnerGroups !== undefined) out.push(`partner groups ${q.partnerGroups.join(',') || '-'}`);
  return out;
}

/** One row per role behind a verdict (one for allowed and denied, one per role for conditional). */
function verdictRows(v: AccessVerdict): { role: string; via: string; detail: string }[] {
  if (v.access === 'conditional') return v.conditions!.map((c) => ({ role: c.role, via: describeVia(c), detail: `when ${whenText(c.when)}` }));
  if (v.by) return [{ role: v.by.role, via: describeVia(v.by), detail: v.by.when === 'always' ? 'always' : `when ${whenText(v.by.when)} (holds here)` }];
  return [{ role: v.excludedBy?.via ?? '', via: '', detail: describeVerdict(v) }];
}
