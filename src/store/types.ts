import type { MemberStatus, RecordFacts } from '../policy/index.js';

export interface MemberRecord {
  readonly id: string;
  readonly status: MemberStatus;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly org?: string | undefined;
  readonly kind?: string | undefined;
  readonly email?: string | undefined;
}

export type MaybePromise<T> = T | Promise<T>;

/**
 * Who is a member, with which roles and groups, and how records relate to
 * principals. Reads may answer synchronously (memory, warm cache) so the request
 * path awaits only on a miss. A read that cannot be answered throws
 * GatewayError('store_unavailable'): the gateway fails closed.
 */
export interface AssignmentStore {
  readonly kind: string;
  getMember(id: string): MaybePromise<MemberRecord | null>;
  getRelations(ref: string): MaybePromise<RecordFacts | null>;
  getPartnerGroups(partner: string): MaybePromise<readonly string[] | null>;
  /** true when reads can be served (for /readyz). */
  healthy(): boolean;
  close(): Promise<void>;
}

export interface StoreSeed {
  members: Record<string, Omit<MemberRecord, 'id'>>;
  relations: Record<string, RecordFacts>;
  partners: Record<string, { groups: readonly string[] }>;
}
