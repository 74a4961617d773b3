/**
 * Why a request is allowed or denied, and who may do what: `rolegate explain`,
 * `who-can`, `access`, `diff` and (later) the admin API. Nothing here decides:
 * every answer comes from decide() run with a tracer, on the same compiled
 * policy and the same canonicalize -> match -> resolve steps as the gateway.
 * This file only records what decide() did and says it in words.
 */
import type { ClaimNames } from '../config/index.js';
import { GatewayError, isGatewayError, REASONS } from '../errors.js';
import { canonicalPath, hasMethodOverrideParam, type CanonicalOptions, type CompiledRoute } from '../routes/index.js';
import { conditionHolds, decide, type Decision, type DecideTracer, type RoleOutcome, type RoleVia } from './decide.js';
import { resolveTarget, type FactSource } from './resolve-target.js';
import { assemblePrincipal as assembleGatewayPrincipal, claimGroups, claimString, type MemberFacts } from './principal.js';
export type { MemberFacts } from './principal.js';
import type { Audience, CompiledPolicy, Condition, Exclusion, Principal, RecordFacts, Target } from './types.js';

export const ALL_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const DEFAULT_CANONICAL: CanonicalOptions = { emptySegments: 'reject', allowSemicolon: false, maxPathBytes: 4096 };

export interface ExplainOptions {
  /** The config's http.methods (default: all seven). */
  methods?: readonly string[];
  canonical?: CanonicalOptions;
  /** Whether an upstream ignores a `_method` query parameter (config `ignores_method_override`). */
  ignoresMethodOverride?: (upstream: string) => boolean;
}

export type ConditionResult = 'held' | 'failed' | 'per_record' | 'not_evaluated';
export interface ConditionTrace { condition: Condition; result: ConditionResult; why: string }
export interface AlternativeTrace { result: ConditionResult; conditions: ConditionTrace[] }

/** One role decide() looked at, in the order it looked. */
export interface RoleTrace {
  role: string;
  via: RoleVia;
  /** The group (via group) or the principal kind (via default). */
  from?: string;
  source?: string;
  audience?: Audience;
  login?: boolean;
  outcome: RoleOutcome;
  /** How the role holds the permission: always, or alternatives each of whose conditions must all hold. Absent: it does not hold it. */
  grant?: 'always' | AlternativeTrace[];
  excludedBy?: Exclusion;
  why: string;
}

export interface PrincipalView {
  id: string;
  status: Principal['status'];
  kind: string | null;
  org: string | null;
  roles: readonly string[];
  groups: readonly string[];
  /** Where each field came from (token claim or store), when the caller assembled it with assemblePrincipal. */
  sources?: PrincipalSources;
}

export interface Explanation {
  request: { method: string; path: string };
  /** The path as forwarded and matched; absent when the target was refused (the reason says why). */
  canonical?: { path: string; query: string };
  route?: { id: string; template: string; source: string; public: boolean; resource: string; action?: string; upstream: string; params: Record<string, string> };
  principal: PrincipalView;
  target?: {
    org?: string; user?: string; partner?: string;
    record?: { ref: string; read: boolean; known: boolean; assignees: readonly string[]; collaborators: readonly string[]; partner?: string };
    partnerGroups?: readonly string[] | null;
  };
  roles: RoleTrace[];
  /** The principal's groups that map to no role in this policy. */
  unmappedGroups: string[];
  /** On list routes: the alternatives each listed record must meet. */
  listFilter?: Condition[][];
  decision: 'allow' | 'deny';
  reason: Decision;
  status: number;
  message: string;
}

/**
 * The full decision trace of one request for one principal. `facts` answers
 * record relations and partner groups (the store, or fixtures). Never throws
 * for a request the gateway would refuse: the refusal is the answer.
 */
export async function explainRequest(policy: CompiledPolicy, principal: Principal, method: string, path: string, facts: FactSource, opts: ExplainOptions = {}): Promise<Explanation> {
  const ex: Explanation = {
    request: { method, path }, principal: principalView(principal), roles: [],
    unmappedGroups: principal.groups.filter((g) => !policy.groupRoles.has(g)),
    decision: 'deny', reason: 'internal', status: 500, message: '',
  };
  try {
    if (!(opts.methods ?? ALL_METHODS).includes(method)) return finish(ex, 'method_not_allowed');
    const canonical = canonicalPath(path, opts.canonical ?? DEFAULT_CANONICAL);
    ex.canonical = { path: canonical.path, query: canonical.query };
    const match = policy.routes.match(method, canonical.segments);
    if (!match) return finish(ex, 'no_route');
    const route = match.route;
    ex.route = routeView(route, match.values, method);
    if (canonical.query.length > 1 && hasMethodOverrideParam(canonical.query) && !opts.ignoresMethodOverride?.(route.upstream)) {
      return finish(ex, 'method_override');
    }
    if (route.public) return finish(ex, 'allow', 'public route: forwarded without a token');
    const target = await resolveTarget(policy, match, method, facts);
    const recordRef = route.recordParam >= 0 ? `${route.resource}/${match.values[route.recordParam]}` : undefined;
    ex.target = targetView(policy, target, recordRef);
    const rec = new Recorder();
    const decision = decide(policy, principal, target, rec);
    ex.roles = rec.traces(policy, principal, target, { recordRef, partner: ex.target.partner });
    if (decision === 'filter') ex.listFilter = target.listFilter!.map((a) => [...a]);
    return finish(ex, decision);
  } catch (e) {
    if (isGatewayError(e)) return finish(ex, e.reason, e.message);
    throw e;
  }
}

/** A request refused before a principal exists (a claim the gateway would reject): the trace holds only the reason. */
export function explainRefusal(method: string, path: string, id: string, err: GatewayError): Explanation {
  const ex: Explanation = {
    request: { method, path }, principal: { id, status: 'unknown', kind: null, org: null, roles: [], groups: [] },
    roles: [], unmappedGroups: [], decision: 'deny', reason: err.reason, status: 0, message: '',
  };
  return finish(ex, err.reason, err.message);
}

function finish(ex: Explanation, reason: Decision, detail?: string): Explanation {
  ex.reason = reason;
  ex.decision = reason === 'allow' || reason === 'filter' ? 'allow' : 'deny';
  ex.status = ex.decision === 'allow' ? 200 : REASONS[reason as keyof typeof REASONS].status;
  ex.message = reason === 'allow' ? detail ?? 'allowed'
    : reason === 'filter' ? 'allowed; the list response keeps only the records that meet one of the list filter alternatives'
      : detail !== undefined && detail !== REASONS[reason].message ? `${REASONS[reason].message} (${detail})` : REASONS[reason].message;
  return ex;
}

// ---------------------------------------------------------------------------
// What decide() did, recorded

interface RoleEvents { role: string; via: RoleVia; from: string | undefined; conditions: { alternative: number; condition: Condition; result: 'held' | 'failed' | 'per_record' }[]; outcome: RoleOutcome }

class Recorder implements DecideTracer {
  readonly events: RoleEvents[] = [];
  role(name: string, via: RoleVia, from: string | undefined): void {
    this.events.push({ role: name, via, from, conditions: [], outcome: 'not_granted' });
  }
  condition(alternative: number, condition: Condition, result: 'held' | 'failed' | 'per_record'): void {
    this.events[this.events.length - 1]!.conditions.push({ alternative, condition, result });
  }
  outcome(result: RoleOutcome): void { this.events[this.events.length - 1]!.outcome = result; }

  traces(policy: CompiledPolicy, principal: Principal, target: Target, ctx: WhyContext): RoleTrace[] {
    return this.events.map((e) => {
      const role = policy.roles.get(e.role);
      const t: RoleTrace = { role: e.role, via: e.via, ...(e.from !== undefined ? { from: e.from } : {}), outcome: e.outcome, why: '' };
      if (role) Object.assign(t, { source: role.source, audience: role.audience, login: role.login });
      const h = role?.perms[target.perm];
      if (h === true) t.grant = 'always';
      else if (h !== undefined) t.grant = h.map((alt, a) => alternativeTrace(alt, a, e, principal, target, ctx));
      if (e.outcome === 'excluded') t.excludedBy = role!.excluded.get(target.perm);
      t.why = roleWhy(t, policy, principal, target);
      return t;
    });
  }
}

function alternativeTrace(alt: readonly Condition[], a: number, e: RoleEvents, p: Principal, t: Target, ctx: WhyContext): AlternativeTrace {
  let failedBefore = false;
  const conditions = alt.map((c): ConditionTrace => {
    const ev = e.conditions.find((x) => x.alternative === a && x.condition === c);
    const result: ConditionResult = ev?.result ?? 'not_evaluated';
    const why = result === 'per_record' ? 'judged per listed record: the list response keeps only the records where it holds'
      : result === 'not_evaluated' ? (failedBefore ? 'not evaluated: an earlier condition of this alternative failed' : 'not evaluated: the decision was already made')
        : conditionWhy(c, p, t, ctx);
    if (result === 'failed') failedBefore = true;
    return { condition: c, result, why };
  });
  const results = conditions.map((c) => c.result);
  const result: ConditionResult = results.includes('failed') ? 'failed'
    : results.every((r) => r === 'not_evaluated') ? 'not_evaluated'
      : results.includes('per_record') ? 'per_record' : 'held';
  return { result, conditions };
}

function roleWhy(t: RoleTrace, policy: CompiledPolicy, p: Principal, target: Target): string {
  const perm = policy.permissions[target.perm]!;
  const name = `${perm.resource}:${perm.action}`;
  switch (t.outcome) {
    case 'unknown_role': return `role "${t.role}" is not defined in this policy: it grants nothing`;
    case 'audience': return `audience ${t.audience}: the role does not apply to ${p.kind === undefined ? 'a principal with no kind' : `kind ${p.kind}`}`;
    case 'login': return 'login: false: members with only this role may not sign in';
    case 'excluded': {
      const x = t.excludedBy!;
      return `a grant covers ${name} but except ${x.by} "${x.name}"${x.role !== t.role ? ` (inherited from ${x.role})` : ''} removes it`;
    }
    case 'not_granted': return `no grant of this role covers ${name}`;
    case 'allow': {
      if (t.grant === 'always') return `granted unconditionally`;
      const held = (t.grant ?? []).find((a) => a.result === 'held');
      return `granted: ${held ? held.conditions.map((c) => c.condition).join(' and ') : 'an alternative'} held`;
    }
    case 'conditions_failed': {
      const deferred = Array.isArray(t.grant) && t.grant.some((a) => a.result === 'per_record');
      return deferred ? 'deferred to the per-record list filter' : 'the role holds it only when conditions hold, and none of its alternatives does';
    }
  }
}

interface WhyContext { recordRef: string | undefined; partner: string | undefined }

/** The facts behind one condition's value, in words; the value itself is conditionHolds(). */
export function conditionWhy(c: Condition, p: Principal, t: Target, ctx: WhyContext): string {
  const ok = conditionHolds(c, p, t);
  switch (c) {
    case 'own_org': {
      const about = [t.org !== undefined ? `org ${t.org}` : '', t.record?.partner !== undefined ? `record partner ${t.record.partner}` : ''].filter(Boolean);
      if (about.length === 0) return 'the request names no org (no org parameter, no record with a partner)';
      if (p.org === undefined) return `the principal has no org (request: ${about.join(', ')})`;
      return ok ? `${about.join(' and ')}: the principal's org` : `${about.join(' and ')}: not (only) the principal's org ${p.org}`;
    }
    case 'self':
      if (t.user === undefined) return 'the request names no user (the route has no user parameter)';
      return ok ? `user ${t.user} is the principal` : `user ${t.user} is not the principal ${p.id}`;
    case 'assigned':
    case 'collaborator': {
      const list = c === 'assigned' ? 'assignees' : 'collaborators';
      if (t.record === undefined) return ctx.recordRef === undefined ? 'the request names no record' : `record ${ctx.recordRef} is unknown to the store`;
      const who = c === 'assigned' ? t.record.assignees : t.record.collaborators;
      return ok ? `${p.id} is one of the ${list} of ${ctx.recordRef ?? 'the record'}`
        : `${p.id} is not one of the ${list} of ${ctx.recordRef ?? 'the record'} (${who.length ? who.join(', ') : 'none'})`;
    }
    case 'group': {
      if (t.partnerGroups === undefined) {
        return ctx.partner === undefined ? 'no partner: the request names no org and no record with a partner' : `partner ${ctx.partner} is unknown to the store`;
      }
      const partner = ctx.partner === undefined ? 'the partner' : `partner ${ctx.partner}`;
      const common = t.partnerGroups.filter((g) => p.groups.includes(g));
      return ok ? `${partner} is in the principal's group ${common.join(', ')}`
        : `${partner}'s groups (${t.partnerGroups.join(', ') || 'none'}) share none with the principal's (${p.groups.join(', ') || 'none'})`;
    }
  }
}

function principalView(p: Principal): PrincipalView {
  return { id: p.id, status: p.status, kind: p.kind ?? null, org: p.org ?? null, roles: [...p.roles], groups: [...p.groups] };
}

function routeView(route: CompiledRoute, values: readonly string[], method: string): NonNullable<Explanation['route']> {
  const names = routeParams(route.template);
  const params: Record<string, string> = {};
  names.forEach((n, i) => { params[n] = values[i]!; });
  const action = route.actions.get(method)?.[0];
  return {
    id: route.id, template: route.template, source: route.source, public: route.public, resource: route.resource,
    ...(action !== undefined ? { action } : {}), upstream: route.upstream, params,
  };
}

/** Parameter names of a route template, in order (`/a/:x/b/:y` -> [x, y]). */
export function routeParams(template: string): string[] {
  return template.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
}

function targetView(policy: CompiledPolicy, t: Target, recordRef: string | undefined): NonNullable<Explanation['target']> {
  const v: NonNullable<Explanation['target']> = {};
  if (t.org !== undefined) v.org = t.org;
  if (t.user !== undefined) v.user = t.user;
  if (recordRef !== undefined) {
    const read = policy.usesRecordConditions;
    v.record = { ref: recordRef, read, known: t.record !== undefined, assignees: t.record?.assignees ?? [], collaborators: t.record?.collaborators ?? [] };
    if (t.record?.partner !== undefined) v.record.partner = t.record.partner;
  }
  const partner = t.org ?? t.record?.partner;
  if (partner !== undefined) {
    v.partner = partner;
    v.partnerGroups = t.partnerGroups ?? null;
  }
  return v;
}

// ---------------------------------------------------------------------------
// The principal, as the gateway assembles it

export interface PrincipalSources { status: string; org: string; kind: string; roles: string; groups: string }

/**
 * The gateway's principal (see principal.ts), plus where each field came from.
 * Throws GatewayError('invalid_claim') where the gateway would.
 */
export function explainPrincipal(id: string, claims: Readonly<Record<string, unknown>>, member: MemberFacts | null, names: Pick<ClaimNames, 'org' | 'kind' | 'groups'>): { principal: Principal; sources: PrincipalSources } {
  const principal = assembleGatewayPrincipal(id, claims, member, names);
  const org = claimString(claims, names.org);
  const kind = claimString(claims, names.kind);
  const fromClaim = claimGroups(claims, names.groups) ?? [];
  const stored = member?.groups ?? [];
  const fromStore = member ? 'store' : 'not in store';
  const field = (claim: string | undefined, name: string, storeValue: string | undefined) =>
    claim !== undefined ? `claim ${name}` : storeValue !== undefined ? 'store' : `none (no claim ${name}, not in store)`;
  return {
    principal,
    sources: {
      status: fromStore,
      org: field(org, names.org, member?.org),
      kind: field(kind, names.kind, member?.kind),
      roles: fromStore,
      groups: fromClaim.length && stored.length ? `store + claim ${names.groups}` : fromClaim.length ? `claim ${names.groups}` : fromStore,
    },
  };
}

// ---------------------------------------------------------------------------
// Access questions without a request: who-can, access, diff

/**
 * What an access question fixes about the target. Inputs left out stay open:
 * a condition that needs one makes the answer `conditional` instead of denied.
 */
export interface AccessQuery {
  org?: string;
  user?: string;
  /** `resource/id`; `record` is its relations, or undefined when the store does not know it. */
  recordRef?: string;
  record?: RecordFacts;
  /** Groups of the partner the question is about (`org`, else the record's partner); undefined when unknown. */
  partnerGroups?: readonly string[];
}

export type Access = 'allowed' | 'conditional' | 'denied';
export interface RoleRef { role: string; via: RoleVia; from?: string }
export interface AccessVerdict {
  access: Access;
  /** decide()'s answer for the question as asked (inputs left out count as absent). */
  reason: Decision;
  /** allowed: the role that allows, and the alternative that held. */
  by?: RoleRef & { when: 'always' | Condition[] };
  /** conditional: per role, the alternatives that hold once the open inputs are right. */
  conditions?: (RoleRef & { when: Condition[][] })[];
  excludedBy?: Exclusion & { via: string };
}

/** May `principal` do permission `perm` (index), for the target the query describes? */
export function judgeAccess(policy: CompiledPolicy, principal: Principal, perm: number, q: AccessQuery = {}): AccessVerdict {
  const target: Target = { perm, org: q.org, user: q.user, record: q.record, partnerGroups: q.partnerGroups, listFilter: undefined };
  const rec = new Recorder();
  const reason = decide(policy, principal, target, rec);
  const ref = (e: RoleEvents): RoleRef => ({ role: e.role, via: e.via, ...(e.from !== undefined ? { from: e.from } : {}) });
  if (reason === 'allow') {
    const e = rec.events.find((x) => x.outcome === 'allow')!;
    const h = policy.roles.get(e.role)!.perms[perm]!;
    const when = h === true ? 'always' as const : [...(h.find((alt) => alt.every((c) => conditionHolds(c, principal, target))) ?? [])];
    return { access: 'allowed', reason, by: { ...ref(e), when } };
  }
  if (reason === 'condition_failed') {
    const open = (c: Condition) => c === 'self' ? q.user === undefined
      : c === 'own_org' || c === 'group' ? q.org === undefined && q.recordRef === undefined
        : q.recordRef === undefined;
    const conditions = rec.events.filter((e) => e.outcome === 'conditions_failed').flatMap((e) => {
      const h = policy.roles.get(e.role)!.perms[perm] as readonly (readonly Condition[])[];
      const when = h.filter((alt) => alt.every((c) => open(c) || conditionHolds(c, principal, target))).map((alt) => [...alt]);
      return when.length ? [{ ...ref(e), when }] : [];
    });
    if (conditions.length) return { access: 'conditional', reason, conditions };
  }
  if (reason === 'excluded_by_tag') {
    const e = rec.events.find((x) => x.outcome === 'excluded')!;
    return { access: 'denied', reason, excludedBy: { ...policy.roles.get(e.role)!.excluded.get(perm)!, via: e.role } };
  }
  return { access: 'denied', reason };
}

/** Every role that holds `perm` (or would, but for `except`), and how a principal comes to have it. */
export function rolesHolding(policy: CompiledPolicy, perm: number): { role: string; source: string; audience: Audience; login: boolean; grant: 'always' | Condition[][] | null; excludedBy?: Exclusion; groups: string[]; defaultFor: string[] }[] {
  const out = [];
  for (const role of policy.roles.values()) {
    const h = role.perms[perm];
    const excludedBy = role.excluded.get(perm);
    if (h === undefined && excludedBy === undefined) continue;
    out.push({
      role: role.name, source: role.source, audience: role.audience, login: role.login,
      grant: h === undefined ? null : h === true ? 'always' as const : h.map((a) => [...a]),
      ...(excludedBy ? { excludedBy } : {}),
      groups: [...policy.groupRoles].filter(([, roles]) => roles.includes(role.name)).map(([g]) => g),
      defaultFor: (['internal', 'partner'] as const).filter((k) => policy.defaultRoles[k].includes(role.name)),
    });
  }
  return out;
}
