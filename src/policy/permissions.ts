import type { GrantBody } from '../store/index.js';
import { mergeHolding } from './compile-policy.js';
import type { CompiledPolicy, CompiledRole, Condition, Exclusion, Holding, Permission, Principal } from './types.js';

/**
 * Permission sets as data, for the admin API: what a principal holds in all
 * (to refuse escalation), a role's matrix, a role flattened to grants (clone).
 * Only consideredRoles is on the request path (the identity header lists them).
 */

/** The roles decide() considers for a principal, in its order: direct, through groups, else the audience defaults. */
export function consideredRoles(policy: CompiledPolicy, p: Principal): string[] {
  // an array, not a Set: the result is bounded by the policy's roles (a handful per principal), and this runs per request
  const out: string[] = [];
  const add = (r: string): void => { if (!out.includes(r)) out.push(r); };
  p.roles.forEach(add);
  for (const g of p.groups) policy.groupRoles.get(g)?.forEach(add);
  if (out.length === 0 && (p.kind === 'internal' || p.kind === 'partner')) policy.defaultRoles[p.kind].forEach(add);
  return out;
}

/** Everything an active principal holds: the union of the roles that apply to it (audience, login), per permission index. */
export function heldPermissions(policy: CompiledPolicy, p: Principal): (Holding | undefined)[] {
  const held: (Holding | undefined)[] = new Array(policy.permissions.length);
  if (p.status !== 'active' && p.status !== 'unknown') return held;
  for (const name of consideredRoles(policy, p)) {
    const role = policy.roles.get(name);
    if (!role || !role.login || (role.audience !== 'any' && role.audience !== p.kind)) continue;
    role.perms.forEach((h, i) => { if (h !== undefined) held[i] = mergeHolding(held[i], h); });
  }
  return held;
}

/** Whether `have` is at least as permissive as `need`: unconditional beats all; else every needed alternative has one of ours with a subset of its conditions. */
export function covers(have: Holding | undefined, need: Holding | undefined): boolean {
  if (need === undefined || have === true) return true;
  if (have === undefined || need === true) return false;
  return need.every((n) => have.some((h) => h.every((c) => n.includes(c))));
}

/** The first permission of `role` that `held` does not cover, or undefined when it covers them all. */
export function firstUncovered(policy: CompiledPolicy, held: readonly (Holding | undefined)[], role: CompiledRole): Permission | undefined {
  const i = role.perms.findIndex((h, idx) => h !== undefined && !covers(held[idx], h));
  return i === -1 ? undefined : policy.permissions[i];
}

/** A role holding every permission of the policy unconditionally: losing the last member with one would lock everyone out. */
export function isOwnerRole(policy: CompiledPolicy, role: CompiledRole | undefined): boolean {
  if (!role || !role.login || role.perms.length === 0) return false;
  for (let i = 0; i < policy.permissions.length; i++) if (role.perms[i] !== true) return false;
  return true;
}

export type Access = 'yes' | 'conditional' | 'no';

export function accessOf(h: Holding | undefined): Access {
  return h === undefined ? 'no' : h === true ? 'yes' : 'conditional';
}

export interface MatrixCell { readonly action: string; readonly access: Access; readonly when?: readonly (readonly Condition[])[]; readonly excluded_by?: Exclusion }
export interface MatrixRow { readonly resource: string; readonly tags: readonly string[]; readonly actions: readonly MatrixCell[] }

/** A role's permissions as resources x actions, in policy order. */
export function roleMatrix(policy: CompiledPolicy, role: CompiledRole): MatrixRow[] {
  const rows = new Map<string, { resource: string; tags: readonly string[]; actions: MatrixCell[] }>();
  policy.permissions.forEach((perm, i) => {
    let row = rows.get(perm.resource);
    if (!row) rows.set(perm.resource, (row = { resource: perm.resource, tags: perm.tags, actions: [] }));
    const h = role.perms[i];
    const excluded = role.excluded.get(i);
    row.actions.push({
      action: perm.action, access: accessOf(h),
      ...(h !== undefined && h !== true ? { when: h } : {}),
      ...(h === undefined && excluded ? { excluded_by: excluded } : {}),
    });
  });
  return [...rows.values()];
}

/** A role's effective permissions (inherits and except applied) as flat grants: what a clone starts from. */
export function flattenGrants(policy: CompiledPolicy, role: CompiledRole): GrantBody[] {
  // group actions of one resource that are held the same way: "deals:list,read"
  const groups = new Map<string, { resource: string; actions: string[]; when: readonly Condition[] | undefined }>();
  policy.permissions.forEach((perm, i) => {
    const h = role.perms[i];
    if (h === undefined) return;
    for (const when of h === true ? [undefined] : h) {
      const key = `${perm.resource}\0${when?.join(',') ?? ''}`;
      const g = groups.get(key);
      if (g) g.actions.push(perm.action);
      else groups.set(key, { resource: perm.resource, actions: [perm.action], when });
    }
  });
  return [...groups.values()].map((g) => {
    const allow = `${g.resource}:${g.actions.join(',')}`;
    return g.when === undefined ? allow : { allow, when: g.when.length === 1 ? g.when[0]! : [...g.when] };
  });
}
