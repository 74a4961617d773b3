import { parseArgs } from 'node:util';
import { isGatewayError } from '../errors.js';
import { explainPrincipal, explainRefusal, explainRequest, type Explanation, type RoleTrace } from '../policy/index.js';
import { configPath, loadConfigAndPolicy, openAnalysisStore, parseClaims, relative } from './analysis.js';
import { out, UsageError } from './output.js';

export const explainHelp = `rolegate explain --as USER [--claims JSON] [--json] [--config FILE] METHOD PATH

The full decision trace of one request, on the gateway's own engine: the
canonical path (or why the target is refused), the route that matched
(file:line), the principal as the gateway would assemble it (token claims from
--claims, then the member in the config's store), every role decide() looked
at with each grant, condition and \`except\`, and the final decision and reason.
  --as USER       the token subject (sub)
  --claims JSON   other token claims, e.g. '{"org_id":"p-7","kind":"partner"}'
                  (org, kind and groups claims win over the store, as in the gateway)
  --json          the trace as JSON
Exit code 0 whatever the decision; 1 when the config or policy cannot load.`;

export async function explain(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, as: { type: 'string' }, claims: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (!values.as) throw new UsageError('--as USER is required');
  if (positionals.length !== 2) throw new UsageError(`expected METHOD PATH, got ${positionals.length} argument(s)`);
  const method = positionals[0]!.toUpperCase();
  const path = positionals[1]!;
  const claims = parseClaims(values.claims);
  const { config, policy, options } = loadConfigAndPolicy(configPath(values.config));
  const store = await openAnalysisStore(config);
  let ex: Explanation;
  try {
    const member = await store.getMember(values.as);
    let assembled;
    try {
      assembled = explainPrincipal(values.as, claims, member, config.auth.jwt.claims);
    } catch (e) {
      if (!isGatewayError(e)) throw e;
      assembled = undefined;
      ex = explainRefusal(method, path, values.as, e);
    }
    if (assembled) {
      ex = await explainRequest(policy, assembled.principal, method, path, store, options);
      ex.principal.sources = assembled.sources;
    }
  } finally {
    await store.close();
  }
  out(values.json ? JSON.stringify({ policy: { version: policy.version, hash: policy.hash }, store: store.description, ...ex! }, null, 2) : relative(formatExplanation(ex!)));
  return 0;
}

const OUTCOME: Record<RoleTrace['outcome'], string> = {
  unknown_role: 'not in policy', audience: 'audience does not apply', login: 'login disabled', excluded: 'excluded',
  not_granted: 'not granted', allow: 'ALLOWS', conditions_failed: 'conditions not met',
};

export function formatExplanation(ex: Explanation): string {
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(10)}${text}`);
  row('request', `${ex.request.method} ${ex.request.path}`);
  row('canonical', ex.canonical ? ex.canonical.path + ex.canonical.query : `refused (${ex.reason})`);
  if (ex.route) {
    const r = ex.route;
    const params = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
    row('route', `${r.id}  ${r.source}`);
    row('', r.public ? `public, upstream ${r.upstream}` : `${r.resource}:${r.action ?? '?'}, upstream ${r.upstream}${params ? `, ${params}` : ''}`);
  } else if (ex.canonical) {
    row('route', 'none matches');
  }
  const p = ex.principal;
  const src = (k: keyof NonNullable<typeof p.sources>) => (p.sources ? ` (${p.sources[k]})` : '');
  row('principal', `${p.id}  status ${p.status}${src('status')}`);
  row('', `kind ${p.kind ?? '-'}${src('kind')}  org ${p.org ?? '-'}${src('org')}`);
  row('', `roles ${p.roles.join(',') || '-'}${src('roles')}  groups ${p.groups.join(',') || '-'}${src('groups')}`);
  if (ex.unmappedGroups.length) row('', `groups mapping to no role: ${ex.unmappedGroups.join(', ')}`);
  if (ex.target) {
    const t = ex.target;
    const facts: string[] = [];
    if (t.org !== undefined) facts.push(`org ${t.org}`);
    if (t.user !== undefined) facts.push(`user ${t.user}`);
    if (facts.length) row('target', facts.join('  '));
    if (t.record) {
      const r = t.record;
      row(facts.length ? '' : 'target', !r.read ? `record ${r.ref} (not read: no role uses record conditions)`
        : !r.known ? `record ${r.ref}: unknown to the store`
          : `record ${r.ref}: assignees ${r.assignees.join(',') || '-'}; collaborators ${r.collaborators.join(',') || '-'}; partner ${r.partner ?? '-'}`);
    }
    if (t.partner !== undefined) row(facts.length || t.record ? '' : 'target', `partner ${t.partner}: groups ${t.partnerGroups === null ? '(unknown to the store)' : t.partnerGroups?.join(',') || '-'}`);
  }
  if (ex.roles.length) {
    lines.push('roles     (in the order decide() considers them; it stops at the first that allows)');
    for (const r of ex.roles) {
      const via = r.via === 'direct' ? 'member role' : r.via === 'group' ? `via group ${r.from}` : `default for ${r.from}`;
      lines.push(`  ${r.role} (${via}${r.source ? `, ${r.source}` : ''}): ${OUTCOME[r.outcome]}`);
      lines.push(`      ${r.why}`);
      if (Array.isArray(r.grant)) {
        for (const alt of r.grant) {
          lines.push(`      when ${alt.conditions.map((c) => c.condition).join(' and ')}: ${alt.result.replace('_', ' ')}`);
          for (const c of alt.conditions) lines.push(`        ${c.condition}: ${c.result.replace('_', ' ')}: ${c.why}`);
        }
      }
    }
  } else if (ex.reason === 'member_pending' || ex.reason === 'member_removed') {
    lines.push('roles     not evaluated: the membership status decides before any role');
  } else if (ex.target) {
    lines.push('roles     none: no member role, no group role, no default role for this kind');
  }
  if (ex.listFilter) row('filter', ex.listFilter.map((a) => a.join(' and ')).join('  OR  '));
  row('decision', `${ex.decision.toUpperCase()} ${ex.status} ${ex.reason}: ${ex.message}`);
  return lines.join('\n');
}
