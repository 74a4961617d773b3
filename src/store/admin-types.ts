import type { Audience, Condition, RecordFacts } from '../policy/index.js';
import type { MemberPatch, RelationsPatch, StoredMember } from './types.js';

/**
 * What the admin API keeps in the store beside the assignments the gateway
 * reads: member bookkeeping (revision, invitation, groups represented),
 * custom roles and default-role overrides (the policy overlay), an audit log
 * and idempotency records. Two implementations with one contract
 * (test/store/admin-store.test.ts): MemoryAdminStore (the zero-setup default,
 * writing into the MemoryAssignmentStore the gateway reads) and RedisAdminStore
 * (every commit one script call: atomic, versioned, published to every instance).
 */

/** An outstanding invitation of a pending member. */
export interface Invite {
  readonly expires_ms: number;
  /** When it was (re)sent, by whom, and how many times in all. */
  readonly sent_ms: number;
  readonly by: string;
  readonly sends: number;
}

export interface AdminMember extends StoredMember {
  /** Bumped by every change to this member; 1 after creation. The API's ETag. */
  readonly rev: number;
  /** Groups this member is the representative of (PartnerStack "group representative"). */
  readonly represents: readonly string[];
  readonly invite?: Invite | undefined;
}

/** A member write: MemberPatch plus the admin-only fields. `invite: null` clears the invitation. */
export interface AdminMemberPatch extends MemberPatch {
  represents?: readonly string[];
  invite?: Invite | null;
}

export type GrantBody = string | { allow: string; when?: Condition | Condition[] };

/** A custom role: the same body as a role in policy YAML (never `builtin`). */
export interface CustomRoleBody {
  description?: string;
  audience?: Audience;
  login?: boolean;
  inherits?: string[];
  grants?: GrantBody[];
  except?: { tags?: string[]; resources?: string[] };
}

export interface CustomRole {
  readonly name: string;
  readonly body: CustomRoleBody;
  /** Bumped by every edit; 1 after creation. The API's ETag. */
  readonly rev: number;
  readonly created_ms: number;
  readonly updated_ms: number;
  readonly updated_by: string;
}

export interface DefaultRolesOverride {
  readonly internal?: readonly string[] | undefined;
  readonly partner?: readonly string[] | undefined;
}

/** Everything admin-managed that the compiled policy depends on. */
export interface PolicyOverlay {
  /** Sorted by name. */
  readonly roles: readonly CustomRole[];
  /** Replaces the YAML `default_roles` for the audiences it names; null: YAML as is. */
  readonly defaultRoles: DefaultRolesOverride | null;
  /** Bumped by every default-roles change; 0 when never set. */
  readonly settingsRev: number;
}

export interface AuditEntry {
  /** Stream id (Redis) or a sequence number (memory): sorts by time; the `before` cursor. */
  readonly id: string;
  readonly at_ms: number;
  /** Principal id of the caller. */
  readonly actor: string;
  /** e.g. member.invite, member.roles, member.remove, role.create, role.update, role.delete, relations.set, default_roles.set */
  readonly action: string;
  /** e.g. member:u-1, role:deal-desk, relations:deals/d1, settings:default_roles */
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly request_id: string;
}
export type AuditInput = Omit<AuditEntry, 'id' | 'at_ms'>;

export type AdminWrite =
  /** Creates the member when missing (a new member is active unless the patch says otherwise). */
  | { readonly k: 'member'; readonly id: string; readonly patch: AdminMemberPatch }
  | { readonly k: 'relations'; readonly ref: string; readonly patch: RelationsPatch }
  /** Creates or replaces a custom role. */
  | { readonly k: 'role'; readonly name: string; readonly body: CustomRoleBody; readonly by: string }
  | { readonly k: 'role_delete'; readonly name: string }
  | { readonly k: 'default_roles'; readonly value: DefaultRolesOverride | null };

/** What must still be true for a commit to apply; checked atomically with the writes. */
export type Expectation =
  /** rev 0: the member must not exist. */
  | { readonly k: 'member'; readonly id: string; readonly rev: number }
  /** rev 0: the custom role must not exist. */
  | { readonly k: 'role'; readonly name: string; readonly rev: number }
  | { readonly k: 'settings'; readonly rev: number }
  /** Nothing at all was written since the store was at this version (for checks over many records, such as "the last owner"). */
  | { readonly k: 'version'; readonly version: number };

/** A response kept under an Idempotency-Key: a retry with the same key gets it back instead of a second change. */
export interface StoredResponse {
  readonly status: number;
  readonly body: string;
  /** Digest of method, path and body of the request that produced it: the same key with another request is refused. */
  readonly fingerprint: string;
}

export interface Commit {
  readonly expect: readonly Expectation[];
  readonly writes: readonly AdminWrite[];
  /** One entry per logical change; appended in the same atomic step. */
  readonly audit: readonly AuditInput[];
  readonly idempotency?: { readonly key: string; readonly response: StoredResponse; readonly ttl_ms: number } | undefined;
}

export type CommitResult =
  | { readonly ok: true; readonly version: number }
  /** The first expectation that did not hold; nothing was written. */
  | { readonly ok: false; readonly conflict: Expectation }
  /** The idempotency key was used by a commit that landed first; nothing was written. */
  | { readonly ok: false; readonly replay: StoredResponse };

export interface MemberQuery { readonly role?: string | undefined; readonly status?: string | undefined }

export interface AdminStore {
  readonly kind: string;
  /** Store version: bumped by every commit that changed something. */
  version(): Promise<number>;
  getMember(id: string): Promise<AdminMember | null>;
  /** Members (optionally by role and/or status, through the store's indexes), sorted by id. */
  listMembers(q?: MemberQuery): Promise<AdminMember[]>;
  getRelations(ref: string): Promise<RecordFacts | null>;
  getOverlay(): Promise<PolicyOverlay>;
  /** Newest first; `before` is an entry id (exclusive). */
  listAudit(opts: { limit: number; before?: string | undefined }): Promise<AuditEntry[]>;
  getIdempotent(key: string): Promise<StoredResponse | null>;
  /** Checks every expectation, then applies every write, appends the audit entries and keeps the idempotent response, all or nothing. */
  commit(c: Commit): Promise<CommitResult>;
  close(): Promise<void>;
}
