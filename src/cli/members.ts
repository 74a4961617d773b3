import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.js';
import { AssignmentWriter, InvalidAssignmentError, type MemberPatch, type StoredMember, type WriteResult } from '../store/index.js';
import { formatTable, out, UsageError } from './output.js';

export const membersHelp = `rolegate members set ID [options]     create or update a member
rolegate members remove ID            mark a member removed (denied at once on every instance)
rolegate members list [--role R] [--status S] [--json]

Writes go to the Redis store named by the config (store.redis).
  --config FILE     gateway config (default $ROLEGATE_CONFIG, else config/gateway.yaml)
set options (left out: unchanged; a new member is active with no roles):
  --status S        pending | active | removed
  --roles a,b       replaces the roles ('' for none)
  --groups g,h      replaces the groups ('' for none)
  --org O  --kind internal|partner  --email E   ('' clears)`;

const NO_REDIS = `has no store.redis. The in-memory store lives inside the gateway process and is
seeded from store.seed at start; edit that file and restart instead. To write
assignments at run time, configure store.redis.`;

/** The writer for the store a config names; a config without Redis is a usage error. */
export async function openWriter(configFile: string | undefined): Promise<AssignmentWriter> {
  const config = redisConfigOf(configFile);
  return AssignmentWriter.open(config.store.redis!);
}

/** The config a store command works on; one without Redis is a usage error. */
export function redisConfigOf(configFile: string | undefined): Config {
  const file = configFile ?? process.env.ROLEGATE_CONFIG ?? 'config/gateway.yaml';
  const config = loadConfig(file);
  if (!config.store.redis) throw new UsageError(`${file} ${NO_REDIS}`);
  return config;
}

/** Runs `fn` with a connected writer, closing it after; invalid ids become usage errors. */
export async function withWriter<T>(configFile: string | undefined, fn: (w: AssignmentWriter) => Promise<T>): Promise<T> {
  const w = await openWriter(configFile);
  try {
    return await fn(w);
  } catch (e) {
    if (e instanceof InvalidAssignmentError) throw new UsageError(e.message);
    throw e;
  } finally {
    await w.close();
  }
}

/** `a,b` -> ['a','b']; '' -> [] (clear); absent -> undefined (keep). */
export function csv(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

export function describeWrite(what: string, r: WriteResult): string {
  return `${what} ${r.outcome} (store version ${r.version})`;
}

export async function members(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'set') return set(rest);
  if (sub === 'remove') return remove(rest);
  if (sub === 'list') return list(rest);
  throw new UsageError(sub === undefined ? 'a subcommand is required: set, remove or list' : `unknown subcommand "${sub}"`);
}

async function set(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' }, status: { type: 'string' }, roles: { type: 'string' }, groups: { type: 'string' },
      org: { type: 'string' }, kind: { type: 'string' }, email: { type: 'string' },
    },
  });
  const id = onlyId(positionals, 'members set');
  const patch = {
    status: values.status, roles: csv(values.roles), groups: csv(values.groups), org: values.org, kind: values.kind, email: values.email,
  } as MemberPatch;
  for (const k of Object.keys(patch) as (keyof MemberPatch)[]) if (patch[k] === undefined) delete patch[k];
  const r = await withWriter(values.config, (w) => w.setMember(id, patch));
  out(describeWrite(`member ${id}`, r));
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { config: { type: 'string', short: 'c' } } });
  const id = onlyId(positionals, 'members remove');
  const r = await withWriter(values.config, (w) => w.removeMember(id));
  out(r.outcome === 'unchanged' ? `member ${id} was already removed (store version ${r.version})` : `member ${id} removed (store version ${r.version})`);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, role: { type: 'string' }, status: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length) throw new UsageError(`members list takes no arguments, got "${positionals.join(' ')}"`);
  const filter = { ...(values.role !== undefined ? { role: values.role } : {}), ...(values.status !== undefined ? { status: values.status } : {}) };
  const rows = await withWriter(values.config, (w) => w.listMembers(filter));
  out(values.json ? JSON.stringify(rows.map(toJson), null, 2) : table(rows));
  return 0;
}

function onlyId(positionals: string[], cmd: string): string {
  if (positionals.length !== 1) throw new UsageError(`${cmd} takes exactly one member ID, got ${positionals.length}`);
  return positionals[0]!;
}

function toJson(m: StoredMember) {
  return {
    id: m.id, status: m.status, roles: m.roles, groups: m.groups, org: m.org ?? null, kind: m.kind ?? null, email: m.email ?? null,
    created: new Date(m.created_ms).toISOString(), updated: new Date(m.updated_ms).toISOString(),
  };
}

function table(rows: readonly StoredMember[]): string {
  if (rows.length === 0) return '(no members)';
  const cells = [['ID', 'STATUS', 'ROLES', 'GROUPS', 'ORG', 'KIND', 'EMAIL'],
    ...rows.map((m) => [m.id, m.status, m.roles.join(',') || '-', m.groups.join(',') || '-', m.org ?? '-', m.kind ?? '-', m.email ?? '-'])];
  return formatTable(cells);
}
