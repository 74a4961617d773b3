/**
 * Every Redis key rolegate uses, in one place (docs/redis-store.md documents them;
 * the write script in redis-script.ts builds the same names from `base`).
 *
 * All keys start with `{<prefix>}`: the braces are a Redis Cluster hash tag, so
 * every key lands in one slot and a write touching a member, its indexes and the
 * version counter can run as one script there too. The same names are used
 * standalone and with Sentinel, so data moves between the forms unchanged.
 */
export interface KeyModel {
  /** `{prefix}`: what every key starts with. */
  readonly base: string;
  /** Pub/sub channel for invalidations (a channel, not a key: no hash tag). */
  readonly channel: string;
  /** HASH status, roles, groups, org, kind, email, created, updated; admin: rev, represents, inv_exp, inv_sent, inv_by, inv_sends. */
  member(id: string): string;
  /** SET of every member id. */
  readonly members: string;
  /** SET of member ids with this status. */
  byStatus(status: string): string;
  /** SET of member ids holding this role. */
  byRole(role: string): string;
  /** SET of every `resource/id` with relations. */
  readonly relations: string;
  /** SET (assignees, collaborators) or STRING (partner) of one record. */
  relation(ref: string, part: 'assignees' | 'collaborators' | 'partner'): string;
  /** SET of record ids of `resource` the user is assigned to / collaborates on: the reverse direction. */
  userRecords(user: string, rel: 'assigned' | 'collaborates', resource: string): string;
  /** SET of every partner id with groups. */
  readonly partners: string;
  /** SET of a partner's groups. */
  partnerGroups(partner: string): string;
  /** HASH custom role name -> JSON {rev, created_ms, updated_ms, updated_by, body}. */
  readonly customRoles: string;
  /** HASH default_roles (JSON override; absent: YAML as is), rev. */
  readonly settings: string;
  /** STREAM of admin audit entries, capped (MAXLEN ~). */
  readonly audit: string;
  /** STRING (with a TTL): the stored response of an Idempotency-Key. */
  idempotency(key: string): string;
  /** STRING counter, incremented by every write that changes something. */
  readonly version: string;
}

export function redisKeys(prefix: string): KeyModel {
  // `{}` is not a hash tag (Redis would hash the whole key), so an empty prefix gets a fixed tag
  const base = `{${prefix || 'rolegate'}}`;
  return {
    base,
    channel: `${prefix}invalidate`,
    member: (id) => `${base}member:${id}`,
    members: `${base}members`,
    byStatus: (s) => `${base}idx:status:${s}`,
    byRole: (r) => `${base}idx:role:${r}`,
    relations: `${base}relations`,
    relation: (ref, part) => `${base}rel:${ref}:${part}`,
    userRecords: (user, rel, resource) => `${base}user:${user}:${rel}:${resource}`,
    partners: `${base}partners`,
    partnerGroups: (p) => `${base}partner:${p}:groups`,
    customRoles: `${base}roles`,
    settings: `${base}settings`,
    audit: `${base}audit`,
    idempotency: (key) => `${base}idem:${key}`,
    version: `${base}version`,
  };
}

/** Names of cache entries, also the `keys` an invalidation message carries. */
export const cacheKey = {
  member: (id: string) => `member:${id}`,
  relations: (ref: string) => `relations:${ref}`,
  partner: (p: string) => `partner:${p}`,
};

/** Invalidation keys (not cache entries) of the policy overlay: custom roles, default-role override. */
export const OVERLAY_KEYS: readonly string[] = ['roles', 'settings'];
