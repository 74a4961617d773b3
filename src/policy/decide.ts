import type { Reason } from '../errors.js';
import type { CompiledPolicy, CompiledRole, Condition, Holding, Principal, Target } from './types.js';

/** 'allow'; 'filter' (list routes: allowed, response filtered by target.listFilter); or the reason for the denial. */
export type Decision = 'allow' | 'filter' | Reason;

/** How the principal came to have a role: named on the member, through a group, or the default for its kind. */
export type RoleVia = 'direct' | 'group' | 'default';

/**
 * What one role did for the request. `conditions_failed` means no alternative
 * held now; on a list route some may have been deferred to the per-record filter
 * (their conditions were reported as `per_record`).
 */
export type RoleOutcome = 'unknown_role' | 'audience' | 'login' | 'excluded' | 'not_granted' | 'allow' | 'conditions_failed';

/**
 * Watches decide() work, for `rolegate explain` and the admin API. Events come
 * in order: role(), its condition()s, then outcome(). decide() stops at the
 * first role that allows, so later roles produce no events.
 */
export interface DecideTracer {
  /** `from`: the group for `group`, the principal kind for `default`. */
  role(name: string, via: RoleVia, from: string | undefined): void;
  /** A condition of the role's alternative number `alternative` (index into its holding) was judged, or deferred to the list filter. */
  condition(alternative: number, condition: Condition, result: 'held' | 'failed' | 'per_record'): void;
  outcome(result: RoleOutcome): void;
}

/**
 * Deny unless some applicable role of the principal holds the permission with
 * every condition of one of its alternatives true. Several roles: union, the
 * most permissive wins. Plain data in, a string out: no allocation on allow.
 */
export function decide(policy: CompiledPolicy, principal: Principal, target: Target, trace?: DecideTracer): Decision {
  if (principal.status === 'pending') return 'member_pending';
  if (principal.status === 'removed') return 'member_removed';
  const acc = { seen: 0, wrongAudience: 0, noLogin: 0, failed: false, excluded: false };
  let verdict: Decision | null = null;

  // hot path: with no tracer every `if (trace)` is one predictable branch, and nothing is allocated
  for (let i = 0; i < principal.roles.length && verdict === null; i++) {
    if (trace) trace.role(principal.roles[i]!, 'direct', undefined);
    verdict = consider(policy.roles.get(principal.roles[i]!), principal, target, acc, trace);
  }
  let groupRoleCount = 0;
  for (let g = 0; g < principal.groups.length && verdict === null; g++) {
    const names = policy.groupRoles.get(principal.groups[g]!);
    if (!names) continue;
    groupRoleCount += names.length;
    for (let i = 0; i < names.length && verdict === null; i++) {
      if (trace) trace.role(names[i]!, 'group', principal.groups[g]);
      verdict = consider(policy.roles.get(names[i]!), principal, target, acc, trace);
    }
  }
  if (verdict !== null) return verdict;

  if (principal.roles.length === 0 && groupRoleCount === 0) {
    // no role at all: the audience's default roles, if the policy has them
    const defaults = principal.kind === 'partner' || principal.kind === 'internal' ? policy.defaultRoles[principal.kind] : [];
    for (let i = 0; i < defaults.length && verdict === null; i++) {
      if (trace) trace.role(defaults[i]!, 'default', principal.kind);
      verdict = consider(policy.roles.get(defaults[i]!), principal, target, acc, trace);
    }
    if (verdict !== null) return verdict;
    if (defaults.length === 0) return principal.status === 'unknown' ? 'not_a_member' : 'no_role';
  }
  if (target.listFilter !== undefined && target.listFilter.length > 0) return 'filter';
  if (acc.seen === 0) return principal.status === 'unknown' ? 'not_a_member' : 'no_role';
  if (acc.failed) return 'condition_failed';
  if (acc.excluded) return 'excluded_by_tag';
  if (acc.wrongAudience === acc.seen) return 'audience_mismatch';
  if (acc.noLogin + acc.wrongAudience === acc.seen) return 'login_disabled';
  return 'not_granted';
}

interface Accumulator { seen: number; wrongAudience: number; noLogin: number; failed: boolean; excluded: boolean }

function consider(role: CompiledRole | undefined, principal: Principal, target: Target, acc: Accumulator, trace: DecideTracer | undefined): Decision | null {
  if (role === undefined) { if (trace) trace.outcome('unknown_role'); return null; } // a deleted role grants nothing
  acc.seen++;
  if (role.audience !== 'any' && role.audience !== principal.kind) { acc.wrongAudience++; if (trace) trace.outcome('audience'); return null; }
  if (!role.login) { acc.noLogin++; if (trace) trace.outcome('login'); return null; }
  const h = role.perms[target.perm];
  if (h === undefined) {
    const excluded = role.excluded.has(target.perm);
    if (excluded) acc.excluded = true;
    if (trace) trace.outcome(excluded ? 'excluded' : 'not_granted');
    return null;
  }
  if (h === true || holds(h, principal, target, trace)) { if (trace) trace.outcome('allow'); return 'allow'; }
  if (target.listFilter === undefined || target.listFilter.length === 0) acc.failed = true;
  if (trace) trace.outcome('conditions_failed');
  return null;
}

function holds(alternatives: Exclude<Holding, true>, principal: Principal, target: Target, trace: DecideTracer | undefined): boolean {
  const filter = target.listFilter;
  for (let a = 0; a < alternatives.length; a++) {
    const conditions = alternatives[a]!;
    let ok = true;
    let deferred: Condition[] | undefined;
    for (let i = 0; i < conditions.length && ok; i++) {
      const c = conditions[i]!;
      if (filter !== undefined && isPerRecord(c, target)) {
        (deferred ??= []).push(c);
        if (trace) trace.condition(a, c, 'per_record');
      } else {
        ok = conditionHolds(c, principal, target);
        if (trace) trace.condition(a, c, ok ? 'held' : 'failed');
      }
    }
    if (ok && deferred === undefined) return true;
    if (ok && deferred !== undefined) filter!.push(deferred);
  }
  return false;
}

/** On a list route these conditions are judged per listed record, not per request. */
function isPerRecord(c: Condition, t: Target): boolean {
  return c === 'assigned' || c === 'collaborator' || ((c === 'group' || c === 'own_org') && t.org === undefined);
}

export function conditionHolds(c: Condition, p: Principal, t: Target): boolean {
  switch (c) {
    case 'own_org': {
      // the organisation the request is about: the route's org param and the record's partner must both be the principal's
      const rec = t.record?.partner;
      if (p.org === undefined || (t.org === undefined && rec === undefined)) return false;
      return (t.org === undefined || t.org === p.org) && (rec === undefined || rec === p.org);
    }
    case 'self': return t.user !== undefined && t.user === p.id;
    case 'assigned': return t.record !== undefined && t.record.assignees.includes(p.id);
    case 'collaborator': return t.record !== undefined && t.record.collaborators.includes(p.id);
    case 'group': return t.partnerGroups !== undefined && t.partnerGroups.some((g) => p.groups.includes(g));
  }
}
