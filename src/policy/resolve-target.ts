import type { RouteMatch } from '../routes/index.js';
import type { CompiledPolicy, RecordFacts, Target } from './types.js';

type MaybePromise<T> = T | Promise<T>;

/** Where record relations and partner groups come from: the store at run time, fixtures in `rolegate test`. */
export interface FactSource {
  getRelations(ref: string): MaybePromise<RecordFacts | null>;
  getPartnerGroups(partner: string): MaybePromise<readonly string[] | null>;
}

export interface ResolvedTarget extends Target { readonly action: string }

/**
 * The decision target of a matched route: params resolved to org/user/record,
 * store facts read only when some role can use them. Synchronous unless a
 * store read is actually needed.
 */
export function resolveTarget(policy: CompiledPolicy, match: RouteMatch, method: string, facts: FactSource): MaybePromise<ResolvedTarget> {
  const { route, values } = match;
  const [action, perm] = route.actions.get(method)!;
  const org = route.orgParam >= 0 ? values[route.orgParam] : undefined;
  const user = route.userParam >= 0 ? values[route.userParam] : undefined;
  const listFilter = route.list ? [] : undefined;
  const recordId = route.recordParam >= 0 && policy.factsNeeded[perm] ? values[route.recordParam] : undefined;
  const groups = policy.groupsNeeded[perm]!;
  if (recordId === undefined && (!groups || org === undefined)) {
    return { action, perm, org, user, record: undefined, partnerGroups: undefined, listFilter };
  }
  // chain the two reads without a Promise when the store answers synchronously (memory, warm cache)
  const withRecord = (record: RecordFacts | undefined): MaybePromise<ResolvedTarget> => {
    const partner = org ?? record?.partner;
    const done = (pg: readonly string[] | null | undefined): ResolvedTarget => ({ action, perm, org, user, record, partnerGroups: pg ?? undefined, listFilter });
    if (!groups || partner === undefined) return done(undefined);
    const pg = facts.getPartnerGroups(partner);
    return pg instanceof Promise ? pg.then(done) : done(pg);
  };
  if (recordId === undefined) return withRecord(undefined);
  const rec = facts.getRelations(`${route.resource}/${recordId}`);
  return rec instanceof Promise ? rec.then((r) => withRecord(r ?? undefined)) : withRecord(rec ?? undefined);
}
