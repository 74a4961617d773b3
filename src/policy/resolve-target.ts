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
  if (!policy.factsNeeded[perm] || (route.recordParam < 0 && org === undefined)) {
    return { action, perm, org, user, record: undefined, partnerGroups: undefined, listFilter: route.list ? [] : undefined };
  }
  return withFacts(route.resource, route.recordParam >= 0 ? values[route.recordParam] : undefined, action, perm, org, user, route.list !== null, facts);
}

async function withFacts(resource: string, recordId: string | undefined, action: string, perm: number, org: string | undefined, user: string | undefined, listing: boolean, facts: FactSource): Promise<ResolvedTarget> {
  const record = recordId !== undefined ? (await facts.getRelations(`${resource}/${recordId}`)) ?? undefined : undefined;
  const partner = org ?? record?.partner;
  const partnerGroups = partner !== undefined ? (await facts.getPartnerGroups(partner)) ?? undefined : undefined;
  return { action, perm, org, user, record, partnerGroups, listFilter: listing ? [] : undefined };
}
