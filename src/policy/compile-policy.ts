import type { YamlSource, KeyPath } from '../config/index.js';
import { compileRoutes, type RouteSpec } from '../routes/index.js';
import type { Audience, CompiledPolicy, CompiledRole, Condition, Exclusion, Holding, Permission } from './types.js';

interface ResourceBody { actions: string[]; tags?: string[] }
type GrantBody = string | { allow: string; when?: Condition | Condition[] };
interface RoleBody {
  builtin?: boolean; audience?: Audience; login?: boolean; inherits?: string[];
  grants?: GrantBody[]; except?: { tags?: string[]; resources?: string[] };
}
export interface PolicyDocument {
  src: YamlSource;
  body: {
    version?: string;
    resources?: Record<string, ResourceBody>;
    roles?: Record<string, RoleBody>;
    groups?: Record<string, { roles?: string[] }>;
    default_roles?: { internal?: string[]; partner?: string[] };
    routes?: RouteSpec[];
  };
}

interface Located<T> { value: T; src: YamlSource; path: KeyPath }

/** Conditions that may need store facts (a record's relations, its partner, the partner's groups). */
const FACT_CONDITIONS: ReadonlySet<Condition> = new Set(['assigned', 'collaborator', 'group', 'own_org']);
const GROUP_CONDITION: ReadonlySet<Condition> = new Set(['group']);

/**
 * Merge policy documents and turn them into lookup tables: every role's
 * permissions become an array indexed by permission number, with `inherits`
 * and `except` already applied. Problems are reported on the documents' sources.
 */
export interface CompileOptions {
  upstreams: ReadonlySet<string> | null;
  methods: readonly string[];
  hash: string;
  files: readonly string[];
  /** Default roles set through the admin API: replace the YAML's for the audiences they name; `src` is where to report unknown roles. */
  defaultRoles?: { value: { internal?: readonly string[] | undefined; partner?: readonly string[] | undefined }; src: YamlSource } | undefined;
}

export function compilePolicy(docs: readonly PolicyDocument[], opts: CompileOptions): CompiledPolicy {
  const resources = mergeSection(docs, 'resources');
  const roleBodies = mergeSection(docs, 'roles');
  const groups = mergeSection(docs, 'groups');
  const report = (l: { src: YamlSource; path: KeyPath }, key: string | number | undefined, msg: string) =>
    l.src.error(key === undefined ? l.path : [...l.path, key], msg);

  const permissions: Permission[] = [];
  const permIndex = new Map<string, number>();
  for (const [name, r] of resources) {
    for (const action of r.value.actions) {
      permIndex.set(`${name}:${action}`, permissions.length);
      permissions.push(Object.freeze({ resource: name, action, tags: Object.freeze(r.value.tags ?? []) }));
    }
  }

  const compiled = new Map<string, CompiledRole>();
  const visiting = new Set<string>();

  const compileRole = (name: string): CompiledRole | undefined => {
    const done = compiled.get(name);
    if (done) return done;
    const located = roleBodies.get(name);
    if (!located) return undefined;
    const body = located.value;
    if (visiting.has(name)) {
      const chain = [...visiting];
      report(located, 'inherits', `inherits cycle: ${[...chain.slice(chain.indexOf(name)), name].join(' -> ')}`);
      return undefined;
    }
    visiting.add(name);
    const inheritedExclusions = new Map<number, Exclusion>();
    const perms: (Holding | undefined)[] = new Array(permissions.length);
    (body.inherits ?? []).forEach((parent, i) => {
      if (!roleBodies.has(parent)) return report(located, 'inherits', `unknown role "${parent}" at inherits[${i}]`);
      const p = compileRole(parent);
      if (!p) return;
      p.perms.forEach((h, idx) => { if (h !== undefined) perms[idx] = mergeHolding(perms[idx], h); });
      for (const [idx, why] of p.excluded) if (!inheritedExclusions.has(idx)) inheritedExclusions.set(idx, why);
    });
    visiting.delete(name);
    (body.grants ?? []).forEach((g, i) => {
      const allow = typeof g === 'string' ? g : g.allow;
      const when = typeof g === 'string' || g.when === undefined ? [] : Array.isArray(g.when) ? g.when : [g.when];
      const holding: Holding = when.length === 0 ? true : [Object.freeze([...when])];
      const idxs = expandGrant(allow, resources, permIndex);
      if (typeof idxs === 'string') return report({ src: located.src, path: [...located.path, 'grants', i] }, undefined, idxs);
      for (const idx of idxs) perms[idx] = mergeHolding(perms[idx], holding);
    });
    // a parent's `except` still explains a denial unless this role grants the permission itself
    const excluded = new Map<number, Exclusion>([...inheritedExclusions].filter(([idx]) => perms[idx] === undefined));
    const ex = body.except;
    for (const r of ex?.resources ?? []) if (!resources.has(r)) report(located, 'except', `unknown resource "${r}"`);
    const knownTags = new Set([...resources.values()].flatMap((r) => r.value.tags ?? []));
    for (const t of ex?.tags ?? []) if (!knownTags.has(t)) report(located, 'except', `tag "${t}" is on no resource`);
    if (ex) {
      permissions.forEach((p, idx) => {
        if (perms[idx] === undefined) return;
        const tag = p.tags.find((t) => ex.tags?.includes(t));
        const why: Exclusion | undefined = ex.resources?.includes(p.resource) ? { by: 'resource', name: p.resource, role: name }
          : tag !== undefined ? { by: 'tag', name: tag, role: name } : undefined;
        if (why) { perms[idx] = undefined; excluded.set(idx, Object.freeze(why)); }
      });
    }
    const role: CompiledRole = Object.freeze({
      name,
      builtin: body.builtin === true,
      audience: body.audience ?? 'any',
      login: body.login !== false,
      perms: Object.freeze(perms),
      excluded,
      source: `${located.src.file}:${located.src.locate(located.path).line}`,
    });
    compiled.set(name, role);
    return role;
  };
  for (const name of roleBodies.keys()) compileRole(name);

  const uses = (idx: number, conditions: ReadonlySet<Condition>) => [...compiled.values()].some((r) => {
    const h = r.perms[idx];
    return h !== undefined && h !== true && h.some((alt) => alt.some((c) => conditions.has(c)));
  });
  const factsNeeded = permissions.map((_, idx) => uses(idx, FACT_CONDITIONS));
  const groupsNeeded = permissions.map((_, idx) => uses(idx, GROUP_CONDITION));

  const groupRoles = new Map<string, readonly string[]>();
  for (const [g, l] of groups) {
    (l.value.roles ?? []).forEach((r) => { if (!roleBodies.has(r)) report(l, 'roles', `unknown role "${r}"`); });
    groupRoles.set(g, Object.freeze([...(l.value.roles ?? [])]));
  }
  const defaultRoles = { internal: [] as string[], partner: [] as string[] };
  for (const d of docs) {
    for (const kind of ['internal', 'partner'] as const) {
      const list = d.body.default_roles?.[kind];
      if (!list) continue;
      if (defaultRoles[kind].length) d.src.error(['default_roles', kind], `default_roles.${kind} is set in more than one file`);
      list.forEach((r) => { if (!roleBodies.has(r)) d.src.error(['default_roles', kind], `unknown role "${r}"`); });
      defaultRoles[kind] = list;
    }
  }
  const override = opts.defaultRoles;
  for (const kind of ['internal', 'partner'] as const) {
    const list = override?.value[kind];
    if (!override || !list) continue;
    list.forEach((r) => { if (!roleBodies.has(r)) override.src.error(['default_roles', kind], `unknown role "${r}"`); });
    defaultRoles[kind] = [...list];
  }

  const routeSpecs: { spec: RouteSpec; src: YamlSource; i: number }[] = [];
  for (const d of docs) (d.body.routes ?? []).forEach((spec, i) => routeSpecs.push({ spec, src: d.src, i }));
  const routes = compileRoutes(routeSpecs.map((r) => r.spec), {
    methods: opts.methods,
    upstreams: opts.upstreams,
    permission: (res, action) => permIndex.get(`${res}:${action}`),
    hasResource: (res) => resources.has(res),
    report: (i, key, msg) => { const r = routeSpecs[i]!; r.src.error(['routes', r.i, key], msg); },
    source: (i) => { const r = routeSpecs[i]!; return `${r.src.file}:${r.src.locate(['routes', r.i]).line}`; },
  });

  const version = docs.map((d) => d.body.version).find((v) => v !== undefined) ?? opts.hash.slice(0, 12);
  return Object.freeze({
    version, hash: opts.hash, files: opts.files, permissions, permIndex, roles: compiled, groupRoles,
    defaultRoles, routes, factsNeeded: Object.freeze(factsNeeded), groupsNeeded: Object.freeze(groupsNeeded), usesRecordConditions: factsNeeded.some(Boolean),
  });
}

/** Collect one top-level map across files; a name defined twice is an error at both places. */
function mergeSection<K extends 'resources' | 'roles' | 'groups'>(docs: readonly PolicyDocument[], section: K): Map<string, Located<NonNullable<PolicyDocument['body'][K]>[string]>> {
  const out = new Map<string, Located<NonNullable<PolicyDocument['body'][K]>[string]>>();
  for (const d of docs) {
    for (const [name, value] of Object.entries(d.body[section] ?? {})) {
      const prev = out.get(name);
      if (prev) {
        d.src.error([section, name], `${section.slice(0, -1)} "${name}" is already defined at ${prev.src.file}:${prev.src.locate(prev.path).line}`);
        continue;
      }
      out.set(name, { value: value as NonNullable<PolicyDocument['body'][K]>[string], src: d.src, path: [section, name] });
    }
  }
  return out;
}

/** "deals:list,read" | "*:read" | "*:*" -> permission indexes, or an error message. */
function expandGrant(allow: string, resources: ReadonlyMap<string, Located<ResourceBody>>, permIndex: ReadonlyMap<string, number>): number[] | string {
  const [res, actionList] = allow.split(':') as [string, string];
  const targets = res === '*' ? [...resources.keys()] : [res];
  if (res !== '*' && !resources.has(res)) return `unknown resource "${res}" in grant "${allow}"`;
  const out: number[] = [];
  for (const action of actionList.split(',')) {
    let found = false;
    for (const r of targets) {
      const actions = action === '*' ? resources.get(r)!.value.actions : [action];
      for (const a of actions) {
        const idx = permIndex.get(`${r}:${a}`);
        if (idx !== undefined) { out.push(idx); found = true; }
      }
    }
    if (!found && action !== '*') return `unknown action "${action}" for ${res === '*' ? 'every resource' : `resource "${res}"`} in grant "${allow}"`;
  }
  return out;
}

/** Two ways of holding one permission, together: unconditional wins, else either alternative. */
export function mergeHolding(a: Holding | undefined, b: Holding): Holding {
  if (a === undefined) return b;
  if (a === true || b === true) return true;
  return Object.freeze([...a, ...b]);
}
