import { conditionHolds } from './decide.js';
import type { FactSource } from './resolve-target.js';
import type { Condition, Principal, RecordFacts } from './types.js';

export type RecordRelation = 'assigned' | 'collaborator';

/** Stores that keep relations in both directions answer "which records of this resource is the principal assigned to" in one read. */
export interface RecordSetSource extends FactSource {
  getPrincipalRecords?(principal: string, resource: string, relation: RecordRelation): ReadonlySet<string> | Promise<ReadonlySet<string>>;
}

/**
 * The per-record test for a filtered list: a record is visible when every
 * condition of one deferred alternative holds for it. With a two-way store the
 * principal's record sets are read once; otherwise each record's relations are.
 */
export async function buildRecordFilter(principal: Principal, resource: string, alternatives: readonly (readonly Condition[])[], facts: RecordSetSource): Promise<(id: string) => Promise<boolean> | boolean> {
  const needsPartner = alternatives.some((a) => a.includes('group') || a.includes('own_org'));
  if (!needsPartner && facts.getPrincipalRecords) {
    const sets: Partial<Record<RecordRelation, ReadonlySet<string>>> = {};
    for (const rel of ['assigned', 'collaborator'] as const) {
      if (alternatives.some((a) => a.includes(rel))) sets[rel] = await facts.getPrincipalRecords(principal.id, resource, rel);
    }
    return (id) => alternatives.some((a) => a.every((c) => sets[c as RecordRelation]?.has(id) === true));
  }
  return async (id) => {
    const record: RecordFacts | undefined = (await facts.getRelations(`${resource}/${id}`)) ?? undefined;
    if (!record) return false; // a record the store knows nothing about satisfies no record condition
    const partnerGroups = alternatives.some((a) => a.includes('group')) && record.partner !== undefined ? (await facts.getPartnerGroups(record.partner)) ?? undefined : undefined;
    const target = { perm: -1, org: undefined, user: undefined, record, partnerGroups };
    return alternatives.some((a) => a.every((c) => conditionHolds(c, principal, target)));
  };
}
