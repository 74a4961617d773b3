/**
 * A semantic diff of two compiled policies: who gains or loses which right,
 * not which lines moved. Roles are compared by their compiled permission
 * tables, so a change made through `inherits`, `except`, a tag moved between
 * resources or a `*` grant meeting a new action shows up like a direct one.
 * Permissions are matched by name (`resource:action`), never by index.
 */
import { ALL_METHODS, judgeAccess, routeParams } from './explain.js';
import type { CompiledRoute } from '../routes/index.js';
import type { CompiledPolicy, CompiledRole, Condition, Exclusion, Holding, Principal } from './types.js';

/** A right in comparable form: `always`, or the minimal set of alternatives (each a sorted condition list). */
export type Grant = 'always' | Condition[][];

interface Delta { gain: boolean; loss: boolean }

export interface RightChange extends Delta {
  permission: string;
  change: 'gained' | 'lost' | 'broadened' | 'narrowed' | 'changed';
  before: Grant | null;
  after: Grant | null;
  /** The new policy's `except` that removed it (a loss only `except` explains). */
  excludedBy?: Exclusion;
  /** The old policy's `except` that no longer removes it. */
  wasExcludedBy?: Exclusion;
}

export interface AttributeChange extends Delta { field: 'audience' | 'login'; before: string | boolean; after: string | boolean }

export interface RoleChange {
  role: string;
  change: 'added' | 'removed' | 'changed';
  /** file:line in the new policy (the old one for a removed role). */
  source: string;
  attributes: AttributeChange[];
  rights: RightChange[];
}

/** A group's roles, or a kind's default roles. */
export interface MappingChange extends Delta { kind: 'group' | 'default_roles'; name: string; added: string[]; removed: string[]; existed: boolean; exists: boolean }

export interface RouteView {
  id: string;
  template: string;
  /** method -> `resource:action`, or `public`. */
  methods: Record<string, string>;
  params: { record?: string; org?: string; user?: string };
  upstream: string;
  public: boolean;
  websocket: boolean;
  list: boolean;
  max_body_bytes: number;
  source: string;
}

export interface RouteChange extends Delta { id: string; change: 'added' | 'removed' | 'changed'; fields: string[]; before?: RouteView; after?: RouteView }

/** What a member may do with a permission, with no record, org or user named: `always`, conditional alternatives, or nothing. */
export interface MemberRight { grant: Grant | null; detail: string }
export interface MemberChange {
  id: string;
  rights: (Delta & { permission: string; before: MemberRight; after: MemberRight })[];
  /** Only for routes whose mapping changed: the member's access through them. */
  routes: (Delta & { route: string; method: string; before: MemberRight; after: MemberRight })[];
}

export interface PolicyDiff {
  roles: RoleChange[];
  mappings: MappingChange[];
  routes: RouteChange[];
  /** null when no members were given (no store). */
  members: MemberChange[] | null;
  summary: { changes: number; gains: number; losses: number };
}

export function diffPolicies(before: CompiledPolicy, after: CompiledPolicy, members?: readonly Principal[]): PolicyDiff {
  const roles = diffRoles(before, after);
  const mappings = diffMappings(before, after);
  const routes = diffRoutes(before, after);
  const memberChanges = members ? diffMembers(before, after, members, routes) : null;
  const deltas: Delta[] = [
    ...roles.flatMap((r) => [...r.attributes, ...r.rights, ...(r.change !== 'changed' && r.rights.length === 0 ? [{ gain: r.change === 'added', loss: r.change === 'removed' }] : [])]),
    ...mappings, ...routes, ...(memberChanges ?? []).flatMap((m) => [...m.rights, ...m.routes]),
  ];
  const changes = roles.length + mappings.length + routes.length + (memberChanges?.length ?? 0);
  return {
    roles, mappings, routes, members: memberChanges,
    summary: { changes, gains: deltas.filter((d) => d.gain).length, losses: deltas.filter((d) => d.loss).length },
  };
}

// ---------------------------------------------------------------------------
// Grants as sets of alternatives

export function normalizeGrant(h: Holding | undefined): Grant | null {
  if (h === undefined) return null;
  if (h === true) return 'always';
  return minimal(h.map((a) => [...new Set(a)].sort()));
}

/** Drop duplicate alternatives and those implied by a smaller one (`[a, b]` is redundant beside `[a]`). */
function minimal(alts: Condition[][]): Grant {
  const unique = [...new Map(alts.map((a) => [a.join(' '), a])).values()];
  if (unique.some((a) => a.length === 0)) return 'always';
  return unique.filter((a) => !unique.some((b) => b !== a && b.length < a.length && isSubset(b, a))).sort((x, y) => x.join(' ').localeCompare(y.join(' ')));
}

function isSubset(small: readonly Condition[], big: readonly Condition[]): boolean {
  return small.every((c) => big.includes(c));
}

/** An alternative is covered when some alternative of `g` needs no more conditions (so holds whenever it does). */
function covered(alt: readonly Condition[], g: Grant | null): boolean {
  if (g === null) return false;
  if (g === 'always') return true;
  return g.some((b) => isSubset(b, alt));
}

const alternatives = (g: Grant | null): Condition[][] => (g === null ? [] : g === 'always' ? [[]] : g);

/** Gain: some situation the new grant allows the old did not; loss: the reverse. */
export function compareGrants(before: Grant | null, after: Grant | null): Delta & { change: RightChange['change'] } | null {
  const gain = alternatives(after).some((a) => !covered(a, before));
  const loss = alternatives(before).some((a) => !covered(a, after));
  if (!gain && !loss) return null;
  const change = before === null ? 'gained' : after === null ? 'lost' : gain && loss ? 'changed' : gain ? 'broadened' : 'narrowed';
  return { gain, loss, change };
}

// ---------------------------------------------------------------------------
// Roles, groups, default roles

function permissionNames(a: CompiledPolicy, b: CompiledPolicy): string[] {
  return [...new Set([...a.permIndex.keys(), ...b.permIndex.keys()])];
}

function holdingOf(p: CompiledPolicy, role: CompiledRole | undefined, perm: string): Holding | undefined {
  const idx = p.permIndex.get(perm);
  return role === undefined || idx === undefined ? undefined : role.perms[idx];
}

function exclusionOf(p: CompiledPolicy, role: CompiledRole | undefined, perm: string): Exclusion | undefined {
  const idx = p.permIndex.get(perm);
  return role === undefined || idx === undefined ? undefined : role.excluded.get(idx);
}

function diffRoles(before: CompiledPolicy, after: CompiledPolicy): RoleChange[] {
  const perms = permissionNames(before, after);
  const out: RoleChange[] = [];
  for (const name of [...new Set([...before.roles.keys(), ...after.roles.keys()])].sort()) {
    const a = before.roles.get(name);
    const b = after.roles.get(name);
    const rights: RightChange[] = [];
    for (const perm of perms) {
      const was = normalizeGrant(holdingOf(before, a, perm));
      const now = normalizeGrant(holdingOf(after, b, perm));
      const d = compareGrants(was, now);
      if (!d) continue;
      const r: RightChange = { permission: perm, ...d, before: was, after: now };
      const ex = exclusionOf(after, b, perm);
      if (d.loss && ex) r.excludedBy = ex;
      const wasEx = exclusionOf(before, a, perm);
      if (d.gain && wasEx) r.wasExcludedBy = wasEx;
      rights.push(r);
    }
    const attributes: AttributeChange[] = [];
    if (a && b) {
      if (a.audience !== b.audience) {
        attributes.push({ field: 'audience', before: a.audience, after: b.audience, gain: a.audience !== 'any', loss: b.audience !== 'any' });
      }
      if (a.login !== b.login) attributes.push({ field: 'login', before: a.login, after: b.login, gain: b.login, loss: a.login });
    }
    if (!a || !b || rights.length || attributes.length) {
      out.push({ role: name, change: !a ? 'added' : !b ? 'removed' : 'changed', source: (b ?? a)!.source, attributes, rights });
    }
  }
  return out;
}

function diffMappings(before: CompiledPolicy, after: CompiledPolicy): MappingChange[] {
  const out: MappingChange[] = [];
  const compare = (kind: MappingChange['kind'], name: string, was: readonly string[] | undefined, now: readonly string[] | undefined) => {
    const added = (now ?? []).filter((r) => !(was ?? []).includes(r));
    const removed = (was ?? []).filter((r) => !(now ?? []).includes(r));
    if (added.length || removed.length || (was === undefined) !== (now === undefined)) {
      out.push({ kind, name, added, removed, existed: was !== undefined, exists: now !== undefined, gain: added.length > 0, loss: removed.length > 0 });
    }
  };
  for (const g of [...new Set([...before.groupRoles.keys(), ...after.groupRoles.keys()])].sort()) compare('group', g, before.groupRoles.get(g), after.groupRoles.get(g));
  for (const k of ['internal', 'partner'] as const) compare('default_roles', k, before.defaultRoles[k], after.defaultRoles[k]);
  return out;
}

// ---------------------------------------------------------------------------
// Routes

/** Methods a route answers: protected routes list them; public ones are found by matching a sample path of the template. */
function routeMethods(policy: CompiledPolicy, route: CompiledRoute): Record<string, string> {
  const out: Record<string, string> = {};
  if (!route.public) {
    for (const [m, [action]] of route.actions) out[m] = `${route.resource}:${action}`;
    return out;
  }
  const parts = route.template.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const segments: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '**') break;
    // a control character is in no canonical path, so no static route can take the parameter's place
    segments.push(p.startsWith(':') ? '\u0001' : p);
  }
  for (const m of ALL_METHODS) if (policy.routes.match(m, segments)?.route === route) out[m] = 'public';
  return out;
}

export function routeView(policy: CompiledPolicy, route: CompiledRoute): RouteView {
  const names = routeParams(route.template);
  const params: RouteView['params'] = {};
  if (route.recordParam >= 0) params.record = names[route.recordParam]!;
  if (route.orgParam >= 0) params.org = names[route.orgParam]!;
  if (route.userParam >= 0) params.user = names[route.userParam]!;
  return {
    id: route.id, template: route.template, methods: routeMethods(policy, route), params, upstream: route.upstream, public: route.public,
    websocket: route.websocket, list: route.list !== null, max_body_bytes: route.maxBodyBytes, source: route.source,
  };
}

const ROUTE_FIELDS = ['template', 'methods', 'params', 'upstream', 'public', 'websocket', 'list', 'max_body_bytes'] as const;

function diffRoutes(before: CompiledPolicy, after: CompiledPolicy): RouteChange[] {
  const was = new Map(before.routes.routes.map((r) => [r.id, routeView(before, r)]));
  const now = new Map(after.routes.routes.map((r) => [r.id, routeView(after, r)]));
  const out: RouteChange[] = [];
  for (const id of [...new Set([...was.keys(), ...now.keys()])]) {
    const a = was.get(id);
    const b = now.get(id);
    if (!a) { out.push({ id, change: 'added', fields: [], after: b!, gain: true, loss: false }); continue; }
    if (!b) { out.push({ id, change: 'removed', fields: [], before: a, gain: false, loss: true }); continue; }
    const fields = ROUTE_FIELDS.filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]));
    if (fields.length === 0) continue;
    // a method newly answered, or answered with another right, may let someone in; one no longer answered, or remapped, may shut someone out
    const gain = Object.entries(b.methods).some(([m, p]) => a.methods[m] !== p) || (b.public && !a.public) || paramsAdded(a.params, b.params) || (b.websocket && !a.websocket);
    const loss = Object.entries(a.methods).some(([m, p]) => b.methods[m] !== p) || (a.public && !b.public) || paramsAdded(b.params, a.params) || (a.websocket && !b.websocket);
    out.push({ id, change: 'changed', fields: [...fields], before: a, after: b, gain, loss });
  }
  return out;
}

/** A condition param named now that was not (or named differently) lets its condition hold where it could not. */
function paramsAdded(a: RouteView['params'], b: RouteView['params']): boolean {
  return (['record', 'org', 'user'] as const).some((k) => b[k] !== undefined && b[k] !== a[k]);
}

// ---------------------------------------------------------------------------
// Members

function memberRight(policy: CompiledPolicy, p: Principal, perm: string | undefined): MemberRight {
  if (perm === 'public') return { grant: 'always', detail: 'public route' };
  const idx = perm === undefined ? undefined : policy.permIndex.get(perm);
  if (idx === undefined) return { grant: null, detail: perm === undefined ? 'no route' : `${perm} not in policy` };
  const v = judgeAccess(policy, p, idx);
  if (v.access === 'allowed') return { grant: 'always', detail: `allowed by ${v.by!.role}` };
  if (v.access === 'conditional') {
    const g = minimal(v.conditions!.flatMap((c) => c.when.map((a) => [...a].sort())));
    return { grant: g, detail: `conditional: ${v.conditions!.map((c) => `${c.role} when ${c.when.map((a) => a.join(' and ')).join(' or ')}`).join('; ')}` };
  }
  return { grant: null, detail: `denied: ${v.reason}` };
}

function diffMembers(before: CompiledPolicy, after: CompiledPolicy, members: readonly Principal[], routes: readonly RouteChange[]): MemberChange[] {
  const perms = permissionNames(before, after);
  const out: MemberChange[] = [];
  for (const p of members) {
    const m: MemberChange = { id: p.id, rights: [], routes: [] };
    for (const perm of perms) {
      const was = memberRight(before, p, perm);
      const now = memberRight(after, p, perm);
      const d = compareGrants(was.grant, now.grant);
      if (d) m.rights.push({ permission: perm, before: was, after: now, gain: d.gain, loss: d.loss });
    }
    for (const r of routes) {
      const mirrorsGet = (v: RouteView | undefined) => v === undefined || v.methods.HEAD === v.methods.GET;
      for (const method of [...new Set([...Object.keys(r.before?.methods ?? {}), ...Object.keys(r.after?.methods ?? {})])]) {
        // HEAD is authorized as the GET: listing it again says nothing new
        if (method === 'HEAD' && mirrorsGet(r.before) && mirrorsGet(r.after)) continue;
        const was = memberRight(before, p, r.before?.methods[method]);
        const now = memberRight(after, p, r.after?.methods[method]);
        const d = compareGrants(was.grant, now.grant);
        if (d) m.routes.push({ route: r.id, method, before: was, after: now, gain: d.gain, loss: d.loss });
      }
    }
    if (m.rights.length || m.routes.length) out.push(m);
  }
  return out;
}
