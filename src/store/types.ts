import type { MemberStatus, RecordFacts, RecordRelation } from '../policy/index.js';
import type { PolicyOverlay } from './admin-types.js';

export interface MemberRecord {
  readonly id: string;
  readonly status: MemberStatus;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly org?: string | undefined;
  readonly kind?: string | undefined;
  readonly email?: string | undefined;
}

/** A member as the Redis store keeps it: the record plus when it was created and last changed (Unix ms). */
export interface StoredMember extends MemberRecord {
  readonly created_ms: number;
  readonly updated_ms: number;
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
  /** Optional (stores that keep the reverse direction): ids of `resource` records the principal has `relation` to, in one read; list filtering uses it. */
  getPrincipalRecords?(principal: string, resource: string, relation: RecordRelation): MaybePromise<ReadonlySet<string>>;
  /** Custom roles and default-role overrides kept by the admin API (absent: the store keeps none). Read off the request path. */
  getPolicyOverlay?(): Promise<PolicyOverlay>;
  /** Calls `changed` whenever the overlay may have changed, on any instance, and after a reconnect (changes may have been missed). */
  watchPolicyOverlay?(changed: () => void): void;
  /** true when reads can be served (for /readyz). */
  healthy(): boolean;
  close(): Promise<void>;
}

export interface StoreSeed {
  members: Record<string, Omit<MemberRecord, 'id'>>;
  relations: Record<string, RecordFacts>;
  partners: Record<string, { groups: readonly string[] }>;
}

/** The three kinds of read the gateway makes; a bounded metric label. */
export type StoreOp = 'member' | 'relations' | 'partner';
export type CacheResult = 'hit' | 'miss' | 'stale';

/** What the store reports to metrics (GatewayMetrics.storeHooks() implements it). */
export interface StoreHooks {
  cache(result: CacheResult): void;
  error(op: StoreOp | 'subscribe'): void;
  duration(op: StoreOp, seconds: number): void;
  /** One invalidation applied; lag = now - the write time it carries. */
  invalidation(lagSeconds: number): void;
}

export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A partial member write: fields left undefined keep their stored value ('' clears org, kind, email). */
export interface MemberPatch {
  status?: MemberStatus;
  roles?: readonly string[];
  groups?: readonly string[];
  org?: string;
  kind?: 'internal' | 'partner';
  email?: string;
}

/** A partial relations write: lists given replace the stored list; partner '' clears it. */
export interface RelationsPatch {
  assignees?: readonly string[];
  collaborators?: readonly string[];
  partner?: string;
}

export type WriteOutcome = 'added' | 'changed' | 'unchanged';
export interface WriteResult { readonly outcome: WriteOutcome; readonly version: number }

export interface ImportChange { readonly kind: 'member' | 'relations' | 'partner'; readonly id: string; readonly change: 'added' | 'changed' | 'removed' }
export interface ImportReport {
  readonly dryRun: boolean;
  readonly changes: readonly ImportChange[];
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  /** Store version after the import (before it, on a dry run). */
  readonly version: number;
}
