import type { RouteTable } from '../routes/index.js';
import type { CONDITIONS } from './schema.js';

export type Condition = (typeof CONDITIONS)[number];
export type Audience = 'internal' | 'partner' | 'any';
export type MemberStatus = 'pending' | 'active' | 'removed';

/** How a role holds one permission: `true` unconditionally, else alternatives whose conditions must all hold. */
export type Holding = true | readonly (readonly Condition[])[];

export interface CompiledRole {
  readonly name: string;
  readonly builtin: boolean;
  readonly audience: Audience;
  readonly login: boolean;
  /** Indexed by permission index. */
  readonly perms: readonly (Holding | undefined)[];
  /** Permission indexes a grant covered but `except` removed (for the `excluded_by_tag` reason), with what removed each. */
  readonly excluded: ReadonlyMap<number, Exclusion>;
  readonly source: string;
}

/** The `except` entry that removed a permission: a tag or resource, and the role (this one or an ancestor) whose `except` names it. */
export interface Exclusion { readonly by: 'tag' | 'resource'; readonly name: string; readonly role: string }

export interface Permission { readonly resource: string; readonly action: string; readonly tags: readonly string[] }

export interface CompiledPolicy {
  readonly version: string;
  readonly hash: string;
  readonly files: readonly string[];
  readonly permissions: readonly Permission[];
  readonly permIndex: ReadonlyMap<string, number>;
  readonly roles: ReadonlyMap<string, CompiledRole>;
  readonly groupRoles: ReadonlyMap<string, readonly string[]>;
  readonly defaultRoles: Readonly<Record<'internal' | 'partner', readonly string[]>>;
  readonly routes: RouteTable;
  /** Whether any role anywhere uses a record/partner condition: lets the request path skip store reads. */
  readonly usesRecordConditions: boolean;
  /** Per permission: whether some role's grant has a condition that reads store facts, so other requests skip the store. */
  readonly factsNeeded: readonly boolean[];
  /** Per permission: whether some grant uses `group`, the only condition that reads a partner's groups. */
  readonly groupsNeeded: readonly boolean[];
}

/** The principal as assembled from verified claims and the store. Plain data so CLI, tests and admin share decide(). */
export interface Principal {
  readonly id: string;
  readonly status: MemberStatus | 'unknown';
  readonly org: string | undefined;
  readonly kind: string | undefined;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
}

export interface RecordFacts {
  readonly assignees: readonly string[];
  readonly collaborators: readonly string[];
  readonly partner?: string | undefined;
}

/** What a request is about, with every param already resolved. */
export interface Target {
  readonly perm: number;
  readonly org: string | undefined;
  readonly user: string | undefined;
  readonly record: RecordFacts | undefined;
  /** Groups of the partner the request is about (route org param or the record's partner). */
  readonly partnerGroups: readonly string[] | undefined;
  /**
   * Set on list routes: record conditions cannot be judged without a record, so
   * alternatives that need one are collected here and the response is filtered.
   */
  readonly listFilter?: Condition[][] | undefined;
}
