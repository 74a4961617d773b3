/**
 * What the policy analysis commands (explain, who-can, access, diff, replay)
 * share: the config's policy and store, opened read-only, and plain tables.
 */
import { loadConfig, type Config } from '../config/index.js';
import { loadPolicy, type CompiledPolicy, type ExplainOptions, type RecordFacts } from '../policy/index.js';
import { AssignmentWriter, MemoryAssignmentStore, loadSeed, type MemberRecord } from '../store/index.js';
import { UsageError } from './output.js';

export function configPath(flag: string | undefined): string {
  return flag ?? process.env.ROLEGATE_CONFIG ?? 'config/gateway.yaml';
}

export interface Loaded { config: Config; policy: CompiledPolicy; options: ExplainOptions }

/** The config and the policy it names, loaded as `rolegate serve` would (LoadError on any problem). */
export function loadConfigAndPolicy(file: string): Loaded {
  const config = loadConfig(file);
  const policy = loadPolicy(config.policy.paths, { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods });
  return { config, policy, options: explainOptions(config) };
}

export function explainOptions(config: Config): ExplainOptions {
  return {
    methods: config.http.methods,
    canonical: { emptySegments: config.http.empty_segments, allowSemicolon: config.http.allow_semicolon, maxPathBytes: config.limits.max_path_bytes },
    ignoresMethodOverride: (u) => config.upstreams[u]?.ignores_method_override === true,
  };
}

/** Read access to the config's store: members one by one or all, relations and partner groups. */
export interface AnalysisStore {
  /** For messages: where the data came from. */
  readonly description: string;
  getMember(id: string): Promise<MemberRecord | null>;
  listMembers(): Promise<MemberRecord[]>;
  getRelations(ref: string): Promise<RecordFacts | null>;
  getPartnerGroups(partner: string): Promise<readonly string[] | null>;
  close(): Promise<void>;
}

/**
 * The store the config names. A seed file is loaded into the in-memory store,
 * as the gateway does. Redis is read through the store's writer (the read API
 * `rolegate members list` uses); relations and partners come from one
 * snapshot, taken on first use.
 */
export async function openAnalysisStore(config: Config): Promise<AnalysisStore> {
  const redis = config.store.redis;
  if (!redis) {
    const memory = new MemoryAssignmentStore(config.store.seed ? loadSeed(config.store.seed) : undefined);
    return {
      description: config.store.seed ? `seed ${config.store.seed}` : 'none (the config has no store: every user is unknown)',
      getMember: async (id) => memory.getMember(id),
      listMembers: async () => memory.listMembers().sort((a, b) => a.id.localeCompare(b.id)),
      getRelations: async (ref) => memory.getRelations(ref),
      getPartnerGroups: async (p) => memory.getPartnerGroups(p),
      close: async () => {},
    };
  }
  const writer = await AssignmentWriter.open(redis);
  let snapshot: ReturnType<AssignmentWriter['snapshot']> | undefined;
  const snap = () => (snapshot ??= writer.snapshot());
  return {
    description: `redis (prefix ${redis.prefix})`,
    getMember: (id) => writer.getMember(id),
    listMembers: () => writer.listMembers(),
    getRelations: async (ref) => (await snap()).relations.get(ref) ?? null,
    getPartnerGroups: async (p) => (await snap()).partners.get(p) ?? null,
    close: () => writer.close(),
  };
}

/** `--claims '{"org_id":"p-7"}'`: a JSON object standing for the token's claims. */
export function parseClaims(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let v: unknown;
  try { v = JSON.parse(json); } catch (e) { throw new UsageError(`--claims is not JSON: ${(e as Error).message}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('--claims must be a JSON object, e.g. \'{"org_id":"acme","kind":"internal"}\'');
  return v as Record<string, unknown>;
}

/** Aligned columns, first row the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** RFC 4180 CSV (for access reviews in a spreadsheet). */
export function csv(rows: readonly (readonly string[])[]): string {
  const cell = (c: string) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** Cwd-relative file names in messages. */
export function relative(text: string): string {
  return text.split(process.cwd() + '/').join('');
}
