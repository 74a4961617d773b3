import { parseArgs } from 'node:util';
import { LoadError, loadConfig, type Config } from '../config/index.js';
import { ALL_METHODS, assemblePrincipal, diffPolicies, type Grant, type MemberRight, type PolicyDiff, type Principal, type RouteView } from '../policy/index.js';
import { configPath, openAnalysisStore } from './analysis.js';
import { loadPolicySource, SOURCE_SYNTAX, type LoadedSource } from './policy-source.js';
import { err, out, UsageError } from './output.js';

export const diffHelp = `rolegate diff OLD NEW [--config FILE] [--json] [--fail-on-gain] [--fail-on-change]

A semantic diff of two policies: for each role the (resource, action) rights it
gains and loses, with their conditions, compared on the compiled roles (so a
change made through inherits, except or tags shows up); roles added and removed;
group and default-role mappings; routes added, removed or mapped differently
(methods, resource:action, params, upstream, public, websocket, list).
With --config, the config's upstreams and methods are used to load both
policies, and the members of its store whose effective access changes are
listed with how.

${SOURCE_SYNTAX}

Exit code: 0 (changes or not), 1 with --fail-on-gain when anything gains (a role
right, a role reaching a member through a group or default, a route exposed or
remapped, a member) or with --fail-on-change on any change, 2 when OLD, NEW or
the config cannot be loaded.`;

export async function diff(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false },
      'fail-on-gain': { type: 'boolean', default: false }, 'fail-on-change': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 2) throw new UsageError(`expected OLD and NEW, got ${positionals.length} argument(s)`);
  let config: Config | undefined;
  let before: LoadedSource;
  let after: LoadedSource;
  let members: Principal[] | undefined;
  let storeDescription: string | undefined;
  try {
    config = values.config !== undefined ? loadConfig(configPath(values.config)) : undefined;
    const opts = config
      ? { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods }
      : { upstreams: null, methods: ALL_METHODS };
    before = loadPolicySource(positionals[0]!, opts);
    after = loadPolicySource(positionals[1]!, opts);
    if (config) {
      const store = await openAnalysisStore(config);
      storeDescription = store.description;
      try {
        members = (await store.listMembers()).map((m) => assemblePrincipal(m.id, {}, m, config!.auth.jwt.claims));
      } finally {
        await store.close();
      }
    }
  } catch (e) {
    if (e instanceof LoadError || e instanceof UsageError) { err(e.message); return 2; }
    err(`rolegate diff: ${(e as Error).message}`);
    return 2;
  }
  const d = diffPolicies(before.policy, after.policy, members);
  const relabel = (t: string) => after.relabel(before.relabel(t));
  if (values.json) {
    const doc = {
      old: { source: before.label, version: before.policy.version, hash: before.policy.hash },
      new: { source: after.label, version: after.policy.version, hash: after.policy.hash },
      ...(storeDescription !== undefined ? { store: storeDescription } : {}),
      ...d,
    };
    out(relabel(JSON.stringify(doc, null, 2)));
  } else {
    out(relabel(formatDiff(d, before, after, storeDescription)));
  }
  if (values['fail-on-change'] && d.summary.changes > 0) return 1;
  if (values['fail-on-gain'] && d.summary.gains > 0) return 1;
  return 0;
}

export function grantText(g: Grant | null): string {
  if (g === null) return 'nothing';
  return g === 'always' ? 'always' : `when ${g.map((a) => a.join(' and ')).join(' or ')}`;
}

const mark = (d: { gain: boolean; loss: boolean }) => (d.gain && d.loss ? '~' : d.gain ? '+' : d.loss ? '-' : '~');

function formatDiff(d: PolicyDiff, before: LoadedSource, after: LoadedSource, store: string | undefined): string {
  const lines = [`${before.label} (${before.policy.version}) -> ${after.label} (${after.policy.version})`];
  if (d.roles.length) {
    lines.push('', 'roles');
    for (const r of d.roles) {
      lines.push(`  ${r.change === 'added' ? '+' : r.change === 'removed' ? '-' : '~'} ${r.role}${r.change === 'changed' ? '' : ` (${r.change})`}  ${r.source}`);
      for (const a of r.attributes) lines.push(`      ${mark(a)} ${a.field}: ${a.before} -> ${a.after}`);
      for (const x of r.rights) {
        const what = x.change === 'gained' ? grantText(x.after) : x.change === 'lost' ? `was ${grantText(x.before)}` : `${grantText(x.before)} -> ${grantText(x.after)}`;
        const why = x.excludedBy ? `; removed by except ${x.excludedBy.by} "${x.excludedBy.name}"${x.excludedBy.role !== r.role ? ` of ${x.excludedBy.role}` : ''}`
          : x.wasExcludedBy ? `; no longer removed by except ${x.wasExcludedBy.by} "${x.wasExcludedBy.name}"` : '';
        lines.push(`      ${mark(x)} ${x.permission.padEnd(24)} ${x.change}: ${what}${why}`);
      }
    }
  }
  if (d.mappings.length) {
    lines.push('', 'groups and default roles');
    for (const m of d.mappings) {
      const name = m.kind === 'group' ? `group ${m.name}` : `default_roles.${m.name}`;
      const status = !m.existed ? ' (new)' : !m.exists ? ' (removed)' : '';
      lines.push(`  ${mark(m)} ${name}${status}: ${[...m.added.map((r) => `+${r}`), ...m.removed.map((r) => `-${r}`)].join(' ') || 'no roles'}`);
    }
  }
  if (d.routes.length) {
    lines.push('', 'routes');
    for (const r of d.routes) {
      if (r.change === 'added') lines.push(`  + ${r.id}  ${routeText(r.after!)}  ${r.after!.source}`);
      else if (r.change === 'removed') lines.push(`  - ${r.id}  ${routeText(r.before!)}  (was ${r.before!.source})`);
      else {
        lines.push(`  ${mark(r)} ${r.id}  ${r.after!.source}`);
        for (const f of r.fields) lines.push(`      ${f}: ${fieldText(r.before!, f)} -> ${fieldText(r.after!, f)}`);
      }
    }
  }
  if (d.members) {
    lines.push('', `members whose access changes (store: ${store})`);
    if (d.members.length === 0) lines.push('  (none)');
    for (const m of d.members) {
      lines.push(`  ${m.id}`);
      for (const x of m.rights) lines.push(`      ${mark(x)} ${x.permission.padEnd(24)} ${rightText(x.before)} -> ${rightText(x.after)}`);
      for (const x of m.routes) lines.push(`      ${mark(x)} ${`route ${x.route} (${x.method})`.padEnd(24)} ${rightText(x.before)} -> ${rightText(x.after)}`);
    }
  }
  const s = d.summary;
  lines.push('', s.changes === 0 ? 'no semantic change' : `${s.changes} change(s): ${s.gains} gain(s), ${s.losses} loss(es)`);
  return lines.join('\n');
}

function rightText(r: MemberRight): string {
  return r.detail;
}

function routeText(v: RouteView): string {
  const methods = Object.entries(v.methods).filter(([m]) => m !== 'HEAD' || v.methods.GET === undefined).map(([m, p]) => `${m} ${p}`).join(', ');
  const params = Object.entries(v.params).map(([k, p]) => `${k}=${p}`).join(' ');
  return `${v.template}: ${methods || 'no method'}${params ? `, ${params}` : ''}, upstream ${v.upstream}`;
}

function fieldText(v: RouteView, f: string): string {
  const x = v[f as keyof RouteView];
  if (f === 'methods') return Object.entries(x as Record<string, string>).map(([m, p]) => `${m} ${p}`).join(', ') || 'none';
  if (f === 'params') return Object.entries(x as Record<string, string>).map(([k, p]) => `${k}=${p}`).join(' ') || 'none';
  return String(x);
}
