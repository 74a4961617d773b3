import type { RecordFacts } from '../policy/index.js';
import { parseRef } from './ids.js';
import type { ApplyOp, ApplyOutcome } from './redis-script.js';
import type { ImportChange, MemberRecord, StoreSeed } from './types.js';

/** Everything the store holds, as read before an import. */
export interface StoreSnapshot {
  members: ReadonlyMap<string, MemberRecord>;
  relations: ReadonlyMap<string, RecordFacts>;
  partners: ReadonlyMap<string, readonly string[]>;
}

interface Subject { kind: ImportChange['kind']; id: string; prune: boolean }

export interface ImportPlan {
  /** Every entry of the file as a full replace, plus a prune op for each stored entry the file lacks. */
  ops: ApplyOp[];
  /** ops[i] is about subjects[i]. */
  subjects: Subject[];
  /** What applying the ops to `current` would change (the dry-run report). */
  changes: ImportChange[];
}

/**
 * An import makes the store match the file. Members the file no longer lists
 * are marked removed, not deleted: deleting would turn them into unknown
 * principals, who may get the audience's default roles. Relations and partner
 * groups the file lacks are deleted.
 * The comparison here mirrors the write script's, so a dry run reports what the
 * real run will; the real run reports the script's own outcomes.
 */
export function planImport(current: StoreSnapshot, seed: StoreSeed): ImportPlan {
  const plan: ImportPlan = { ops: [], subjects: [], changes: [] };
  const add = (op: ApplyOp, s: Subject, change: ImportChange['change'] | null) => {
    plan.ops.push(op);
    plan.subjects.push(s);
    if (change) plan.changes.push({ kind: s.kind, id: s.id, change });
  };

  for (const [id, m] of Object.entries(seed.members)) {
    const op: ApplyOp = { k: 'member', id, replace: true, status: m.status, roles: m.roles, groups: m.groups, org: m.org, kind: m.kind, email: m.email };
    const cur = current.members.get(id);
    add(op, { kind: 'member', id, prune: false }, !cur ? 'added' : sameMember(cur, m) ? null : 'changed');
  }
  for (const [id, cur] of current.members) {
    if (id in seed.members) continue;
    add({ k: 'member', id, status: 'removed' }, { kind: 'member', id, prune: true }, cur.status === 'removed' ? null : 'removed');
  }

  for (const [ref, r] of Object.entries(seed.relations)) {
    const { resource, id } = parseRef(ref);
    const op: ApplyOp = { k: 'relations', resource, rid: id, replace: true, assignees: r.assignees, collaborators: r.collaborators, partner: r.partner };
    const cur = current.relations.get(ref);
    add(op, { kind: 'relations', id: ref, prune: false }, !cur ? 'added' : sameRelations(cur, r) ? null : 'changed');
  }
  for (const ref of current.relations.keys()) {
    if (ref in seed.relations) continue;
    const { resource, id } = parseRef(ref);
    add({ k: 'relations_delete', resource, rid: id }, { kind: 'relations', id: ref, prune: true }, 'removed');
  }

  for (const [id, p] of Object.entries(seed.partners)) {
    const cur = current.partners.get(id);
    add({ k: 'partner', id, groups: p.groups }, { kind: 'partner', id, prune: false }, !cur ? 'added' : sameSet(cur, p.groups) ? null : 'changed');
  }
  for (const id of current.partners.keys()) {
    if (id in seed.partners) continue;
    add({ k: 'partner_delete', id }, { kind: 'partner', id, prune: true }, 'removed');
  }
  plan.changes.sort(byKindId);
  return plan;
}

/** The script's per-op outcomes as import changes. */
export function changesFromOutcomes(plan: ImportPlan, outcomes: readonly ApplyOutcome[]): ImportChange[] {
  const changes: ImportChange[] = [];
  plan.subjects.forEach((s, i) => {
    const o = outcomes[i];
    if (o === 'added' || o === 'changed' || o === 'removed') changes.push({ kind: s.kind, id: s.id, change: s.prune ? 'removed' : o });
  });
  return changes.sort(byKindId);
}

const KIND_ORDER = { member: 0, relations: 1, partner: 2 };
function byKindId(a: ImportChange, b: ImportChange): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function sameMember(a: MemberRecord, b: Omit<MemberRecord, 'id'>): boolean {
  // lists compare in order: the script stores them joined, so order is part of the value
  return a.status === b.status && a.roles.join(',') === b.roles.join(',') && a.groups.join(',') === b.groups.join(',')
    && (a.org ?? '') === (b.org ?? '') && (a.kind ?? '') === (b.kind ?? '') && (a.email ?? '') === (b.email ?? '');
}

function sameRelations(a: RecordFacts, b: RecordFacts): boolean {
  return sameSet(a.assignees, b.assignees) && sameSet(a.collaborators, b.collaborators) && (a.partner ?? '') === (b.partner ?? '');
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const s = new Set(a);
  return s.size === new Set(b).size && b.every((x) => s.has(x));
}
