import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config/index.js';
import { isGatewayError } from '../errors.js';
import { canonicalPath } from '../routes/index.js';
import { ALL_METHODS, explainRequest, readDecisionLog, type DecisionRecord, type ExplainOptions, type FactSource, type Principal } from '../policy/index.js';
import { configPath, explainOptions, openAnalysisStore, table, type AnalysisStore } from './analysis.js';
import { loadPolicySource, SOURCE_SYNTAX } from './policy-source.js';
import { err, out, UsageError } from './output.js';

export const replayHelp = `rolegate replay DECISION_LOG --policy CANDIDATE [--config FILE] [--json] [--fail-on-change]

Re-decide every request of a decision log (docs/decision-log.md; "-" reads
stdin) under a candidate policy, and report each request whose decision would
change, grouped by route and by the principal's roles. The principal is the
one logged (as assembled at decision time); record relations and partner groups
come from the config's store now (without --config, record conditions cannot hold).
  --policy CANDIDATE  the candidate policy (a source as below)
  --config FILE       http methods, path rules, upstreams and store of the gateway
  --fail-on-change    exit 1 when any decision would change

${SOURCE_SYNTAX}`;

interface Outcome { decision: 'allow' | 'deny'; reason: string; route: string; role?: string }
interface Change { line: number; record: DecisionRecord; after: Outcome }

const NO_FACTS: FactSource = { getRelations: () => null, getPartnerGroups: () => null };

export async function replay(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      policy: { type: 'string' }, config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false },
      'fail-on-change': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one DECISION_LOG, got ${positionals.length} argument(s)`);
  if (!values.policy) throw new UsageError('--policy CANDIDATE is required');
  const config: Config | undefined = values.config !== undefined ? loadConfig(configPath(values.config)) : undefined;
  const candidate = loadPolicySource(values.policy, config
    ? { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods }
    : { upstreams: null, methods: ALL_METHODS });
  const logFile = positionals[0]!;
  const log = readDecisionLog(readFileSync(logFile === '-' ? 0 : logFile, 'utf8'));
  for (const e of log.errors) err(`${logFile}:${e.line}: not a decision record: ${e.message}`);

  const options: ExplainOptions = config ? explainOptions(config) : {};
  const store: AnalysisStore | undefined = config ? await openAnalysisStore(config) : undefined;
  const changes: Change[] = [];
  const skipped: { line: number; reason: string }[] = [];
  let reasonChanges = 0;
  try {
    for (const { line, record } of log.records) {
      const after = await redecide(record, candidate.policy, store ?? NO_FACTS, options);
      if (!after) { skipped.push({ line, reason: 'settled before a principal existed (400/401)' }); continue; }
      if (after.decision !== record.decision) changes.push({ line, record, after });
      else if (after.decision === 'deny' && after.reason !== record.reason) reasonChanges++;
    }
  } finally {
    await store?.close();
  }

  const groups = groupChanges(changes);
  const summary = {
    records: log.records.length, invalid: log.errors.length, skipped: skipped.length, changed: changes.length,
    allow_to_deny: changes.filter((c) => c.after.decision === 'deny').length,
    deny_to_allow: changes.filter((c) => c.after.decision === 'allow').length,
    reason_changed: reasonChanges,
  };
  if (values.json) {
    out(candidate.relabel(JSON.stringify({
      candidate: { source: candidate.label, version: candidate.policy.version, hash: candidate.policy.hash },
      store: store?.description ?? null, summary, skipped, invalid: log.errors,
      groups: groups.map((g) => ({
        route: g.route, roles: g.roles, count: g.changes.length,
        changes: g.changes.map((c) => ({
          line: c.line, time: c.record.time, request_id: c.record.request_id, ...(c.record.trace_id ? { trace_id: c.record.trace_id } : {}),
          principal: c.record.principal?.id ?? null, method: c.record.method, path: c.record.path,
          before: { decision: c.record.decision, reason: c.record.reason }, after: c.after,
        })),
      })),
    }, null, 2)));
  } else {
    const lines = [
      `replayed ${summary.records} decision(s) from ${logFile} under ${candidate.label} (${candidate.policy.version}): ${summary.changed} would change` +
      ` (${summary.allow_to_deny} allow -> deny, ${summary.deny_to_allow} deny -> allow); ${summary.reason_changed} deny reason(s) change; ${summary.skipped} skipped${summary.invalid ? `; ${summary.invalid} invalid line(s)` : ''}`,
      `relations and partner groups: ${store ? store.description : 'none (no --config): record conditions cannot hold'}`,
    ];
    for (const g of groups) {
      lines.push('', `route ${g.route}  roles ${g.roles}  ${g.changes.length} change(s)`);
      lines.push(table(g.changes.map((c) => [
        `  line ${c.line}`, c.record.time, c.record.principal?.id ?? '(anonymous)', `${c.record.method} ${c.record.path}`,
        `${c.record.decision} ${c.record.reason} -> ${c.after.decision} ${c.after.reason}${c.after.role ? ` (${c.after.role})` : ''}`,
      ])));
    }
    out(candidate.relabel(lines.join('\n')));
  }
  return values['fail-on-change'] && changes.length > 0 ? 1 : 0;
}

/** The candidate's decision on a logged request, or null when the log holds no principal to decide for. */
async function redecide(r: DecisionRecord, policy: Parameters<typeof explainRequest>[0], facts: FactSource, options: ExplainOptions): Promise<Outcome | null> {
  if (!r.principal) {
    // only a public route is allowed without a principal: does the candidate still leave it public?
    if (r.decision !== 'allow') return null;
    try {
      const match = policy.routes.match(r.method, canonicalPath(r.path, options.canonical ?? { emptySegments: 'reject', allowSemicolon: false, maxPathBytes: 4096 }).segments);
      if (match?.route.public) return { decision: 'allow', reason: 'allow', route: match.route.id };
      return { decision: 'deny', reason: 'missing_token', route: match?.route.id ?? 'none' };
    } catch (e) {
      if (isGatewayError(e)) return { decision: 'deny', reason: e.reason, route: 'none' };
      throw e;
    }
  }
  const p = r.principal;
  const principal: Principal = { id: p.id, status: p.status, kind: p.kind ?? undefined, org: p.org ?? undefined, roles: p.roles, groups: p.groups };
  const ex = await explainRequest(policy, principal, r.method, r.path, facts, options);
  const allowing = ex.roles.find((x) => x.outcome === 'allow');
  return { decision: ex.decision, reason: ex.reason === 'filter' ? 'allow' : ex.reason, route: ex.route?.id ?? 'none', ...(allowing ? { role: allowing.role } : {}) };
}

function rolesLabel(r: DecisionRecord): string {
  const p = r.principal;
  if (!p) return '(anonymous)';
  if (p.roles.length) return p.roles.join(',');
  if (p.groups.length) return `(groups ${p.groups.join(',')})`;
  return `(none${p.kind ? `: defaults for ${p.kind}` : ''})`;
}

function groupChanges(changes: readonly Change[]): { route: string; roles: string; changes: Change[] }[] {
  const groups = new Map<string, { route: string; roles: string; changes: Change[] }>();
  for (const c of changes) {
    const route = c.record.route;
    const roles = rolesLabel(c.record);
    const key = `${route}\0${roles}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { route, roles, changes: [] }));
    g.changes.push(c);
  }
  return [...groups.values()].sort((a, b) => a.route.localeCompare(b.route) || a.roles.localeCompare(b.roles));
}
