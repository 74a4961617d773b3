import { GatewayError } from '../errors.js';
import {
  accessOf, decide, firstUncovered, flattenGrants, heldPermissions, isOwnerRole, roleMatrix, describeRejection,
  type CompiledRole, type Holding, type Principal,
} from '../policy/index.js';
import {
  checkId, parseRef,
  type AdminMember, type AdminMemberPatch, type AdminStore, type AdminWrite, type AuditInput, type CustomRole, type CustomRoleBody,
  type DefaultRolesOverride, type Expectation, type PolicyOverlay, type RelationsPatch,
} from '../store/index.js';
import type { PolicyView, PolicyViews } from './policy-views.js';
import { validBody } from './schemas.js';

/** Who is calling: the principal as the gateway would see it, its token's claims, and the request id for the audit log. */
export interface Caller {
  readonly principal: Principal;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly requestId: string;
}

/** What an operation answers. The body is plain data; the server serialises it. */
export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly etag?: string | undefined;
  /** Answered from an Idempotency-Key record, not by a new change. */
  readonly replay?: boolean;
}

/** Keeps a reply under an Idempotency-Key, in the same commit as the change. */
export interface IdempotencyRequest { readonly key: string; readonly fingerprint: string; readonly ttlMs: number }

export interface AdminServiceOptions {
  readonly store: AdminStore;
  readonly views: PolicyViews;
  /** Claim holding the caller's email, for accepting an invitation. */
  readonly emailClaim: string;
  readonly inviteTtlS: number;
  readonly now?: () => number;
}

/** A change ready to commit, with the reply it will produce. `ifMatch`: the client's own precondition (412, not a retry, when it fails). */
interface Plan {
  readonly expect: Expectation[];
  readonly writes: AdminWrite[];
  readonly audit: AuditInput[];
  readonly reply: Reply;
  readonly ifMatch?: Expectation | undefined;
}

type MemberChange = AdminMemberPatch;
const ADMIN_RESOURCES = ['members', 'roles', 'relations', 'policy'] as const;
/** Attempts of read-check-commit before a busy store is reported as write_conflict. */
const ATTEMPTS = 4;

/**
 * Every admin operation: authorize with the policy engine, refuse escalation,
 * plan the writes, commit them atomically with their audit entries. Reads are
 * taken fresh from the store; each commit carries the revisions it read, so a
 * concurrent change makes it retry (or 412 when the client named a revision).
 */
export class AdminService {
  private readonly store: AdminStore;
  private readonly views: PolicyViews;
  private readonly now: () => number;

  constructor(private readonly opts: AdminServiceOptions) {
    this.store = opts.store;
    this.views = opts.views;
    this.now = opts.now ?? Date.now;
  }

  // ---- who am I --------------------------------------------------------------------------

  async me(caller: Caller): Promise<Reply> {
    const view = await this.views.current();
    this.requireActive(caller, view);
    const held = heldPermissions(view.policy, caller.principal);
    const can: Record<string, string> = {};
    view.policy.permissions.forEach((p, i) => {
      if ((ADMIN_RESOURCES as readonly string[]).includes(p.resource)) can[`${p.resource}:${p.action}`] = accessOf(held[i]);
    });
    const { id, status, roles, groups, org, kind } = caller.principal;
    return { status: 200, body: { id, status, roles, groups, org: org ?? null, kind: kind ?? null, can } };
  }

  async accept(caller: Caller, idem?: IdempotencyRequest): Promise<Reply> {
    return this.run(idem, async () => {
      const m = await this.store.getMember(caller.principal.id);
      if (!m || m.status !== 'pending' || !m.invite) throw new GatewayError('no_invitation', `no pending invitation for "${caller.principal.id}"`);
      const email = caller.claims[this.opts.emailClaim];
      if (typeof email !== 'string' || m.email === undefined || email.toLowerCase() !== m.email.toLowerCase()) {
        throw new GatewayError('invite_email_mismatch', `the token's "${this.opts.emailClaim}" claim does not match the invited address`);
      }
      if (m.invite.expires_ms <= this.now()) throw new GatewayError('invite_expired', `the invitation expired at ${new Date(m.invite.expires_ms).toISOString()}; ask for it to be resent`);
      return this.memberPlan(caller, m, { status: 'active', invite: null }, 'member.accept', 200);
    });
  }

  // ---- members -----------------------------------------------------------------------------

  async listMembers(caller: Caller, q: MemberListQuery): Promise<Reply> {
    const view = await this.views.current();
    this.authorize(view, caller, 'members', 'list', { org: q.org });
    const all = await this.store.listMembers({ role: q.role, status: q.status });
    const needle = q.q?.toLowerCase();
    const matching = all.filter((m) =>
      (q.kind === undefined || m.kind === q.kind) && (q.org === undefined || m.org === q.org)
      && (q.group === undefined || m.groups.includes(q.group))
      && (needle === undefined || m.id.toLowerCase().includes(needle) || (m.email ?? '').toLowerCase().includes(needle)));
    const start = q.cursor === undefined ? 0 : matching.findIndex((m) => m.id > q.cursor!);
    const page = start === -1 ? [] : matching.slice(start, start + q.limit);
    const more = start !== -1 && start + q.limit < matching.length;
    return { status: 200, body: { items: page.map((m) => this.memberView(m)), total: matching.length, next_cursor: more ? page[page.length - 1]!.id : null } };
  }

  async getMember(caller: Caller, id: string): Promise<Reply> {
    const view = await this.views.current();
    const m = await this.mustMember(id);
    this.authorize(view, caller, 'members', 'read', { org: m.org, user: m.id });
    return { status: 200, body: this.memberView(m), etag: etag(m.rev) };
  }

  async invite(caller: Caller, raw: unknown, idem?: IdempotencyRequest): Promise<Reply> {
    const body = validBody<InviteBody>('invite', raw);
    const id = body.id ?? body.email.toLowerCase();
    checkId('member id', id);
    return this.run(idem, async (view) => {
      this.authorize(view, caller, 'members', 'invite', { org: body.org, user: id });
      const kind = body.kind ?? (caller.principal.kind === 'partner' ? 'partner' : 'internal');
      this.checkGrantable(view, caller, body.roles, '/roles');
      this.checkGrantable(view, caller, groupRoles(view, body.groups ?? []), '/groups');
      this.checkDefaults(view, caller, body.roles, kind);
      const existing = await this.store.getMember(id);
      if (existing && existing.status !== 'removed') throw new GatewayError('member_exists', `member "${id}" exists (${existing.status})`, { member: id });
      const now = this.now();
      const change: MemberChange = {
        status: 'pending', roles: body.roles, groups: body.groups ?? [], represents: body.represents ?? [],
        org: body.org ?? '', kind, email: body.email,
        invite: { expires_ms: now + (body.expires_in_s ?? this.opts.inviteTtlS) * 1000, sent_ms: now, by: caller.principal.id, sends: 1 },
      };
      return this.memberPlan(caller, existing, change, 'member.invite', 201, id);
    });
  }

  async resend(caller: Caller, id: string, idem?: IdempotencyRequest): Promise<Reply> {
    return this.run(idem, async (view) => {
      const m = await this.mustMember(id);
      this.authorize(view, caller, 'members', 'invite', { org: m.org, user: m.id });
      if (m.status !== 'pending') throw new GatewayError('not_pending', `member "${id}" is ${m.status}, not invited`, { member: id });
      const now = this.now();
      // a pending member that was imported (no invitation yet) gets its first one
      const ttl = m.invite ? m.invite.expires_ms - m.invite.sent_ms : 0;
      return this.memberPlan(caller, m, { invite: { expires_ms: now + (ttl > 0 ? ttl : this.opts.inviteTtlS * 1000), sent_ms: now, by: caller.principal.id, sends: (m.invite?.sends ?? 0) + 1 } }, 'member.resend', 200);
    });
  }

  async patchMember(caller: Caller, id: string, raw: unknown, ifMatch: number | undefined, idem?: IdempotencyRequest): Promise<Reply> {
    const body = validBody<MemberChange>('memberPatch', raw);
    return this.run(idem, async (view) => {
      const m = await this.mustMember(id, ifMatch);
      const plan = await this.changeMembers(view, caller, [[m, body]], body.roles !== undefined ? 'member.roles' : 'member.update');
      return { ...plan, reply: { status: 200, body: plan.reply.body, etag: etag(m.rev + 1) }, ifMatch: ifMatch === undefined ? undefined : plan.expect[0] };
    });
  }

  async removeMember(caller: Caller, id: string, ifMatch: number | undefined, idem?: IdempotencyRequest): Promise<Reply> {
    return this.run(idem, async (view) => {
      const m = await this.mustMember(id, ifMatch);
      const plan = await this.changeMembers(view, caller, [[m, { status: 'removed', invite: null }]], 'member.remove');
      return { ...plan, ifMatch: ifMatch === undefined ? undefined : plan.expect[0] };
    });
  }

  async bulk(caller: Caller, raw: unknown, idem?: IdempotencyRequest): Promise<Reply> {
    const body = validBody<{ action: 'set_roles' | 'add_roles' | 'remove_roles' | 'remove'; ids: string[]; roles?: string[] }>('bulk', raw);
    return this.run(idem, async (view) => {
      // all reads in flight at once: one round trip to Redis for the batch (ioredis pipelines them), not one per id
      const found = await Promise.all(body.ids.map((id) => this.store.getMember(id)));
      const members = found.map((m, i) => {
        if (!m) throw new GatewayError('not_found', `/ids/${i}: no member "${body.ids[i]}"; nothing was changed`, { field: `/ids/${i}`, member: body.ids[i]! });
        return m;
      });
      const roles = body.roles ?? [];
      const changes = members.map((m): [AdminMember, MemberChange] => {
        switch (body.action) {
          case 'set_roles': return [m, { roles }];
          case 'add_roles': return [m, { roles: [...new Set([...m.roles, ...roles])] }];
          case 'remove_roles': return [m, { roles: m.roles.filter((r) => !roles.includes(r)) }];
          case 'remove': return [m, { status: 'removed', invite: null }];
        }
      });
      return this.changeMembers(view, caller, changes, body.action === 'remove' ? 'member.remove' : 'member.roles', true);
    });
  }

  // ---- roles ---------------------------------------------------------------------------------

  async listResources(caller: Caller): Promise<Reply> {
    const view = await this.views.current();
    this.authorize(view, caller, 'roles', 'read', {});
    const out = new Map<string, { resource: string; actions: string[]; tags: readonly string[] }>();
    for (const p of view.policy.permissions) {
      const r = out.get(p.resource);
      if (r) r.actions.push(p.action); else out.set(p.resource, { resource: p.resource, actions: [p.action], tags: p.tags });
    }
    return { status: 200, body: [...out.values()] };
  }

  async listRoles(caller: Caller): Promise<Reply> {
    const view = await this.views.current();
    this.authorize(view, caller, 'roles', 'list', {});
    const counts = new Map<string, number>();
    for (const m of await this.store.listMembers()) {
      if (m.status !== 'removed') for (const r of m.roles) counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    const custom = new Map(view.overlay.roles.map((r) => [r.name, r]));
    const rows: Record<string, unknown>[] = [...view.policy.roles.values()].map((role) => ({ ...this.roleSummary(view, role, custom.get(role.name)), members: counts.get(role.name) ?? 0 }));
    // a custom role the current YAML no longer compiles is still listed, so it can be fixed or deleted
    for (const r of view.rejected) {
      const c = custom.get(r.role);
      if (c) rows.push({ name: c.name, source: 'custom', builtin: false, description: c.body.description ?? '', audience: c.body.audience ?? 'any', rev: c.rev, problems: describeRejection(r), members: counts.get(c.name) ?? 0 });
    }
    return { status: 200, body: rows };
  }

  async getRole(caller: Caller, name: string): Promise<Reply> {
    const view = await this.views.current();
    this.authorize(view, caller, 'roles', 'read', {});
    const role = view.policy.roles.get(name);
    const custom = view.overlay.roles.find((r) => r.name === name);
    if (!role) {
      const rejected = view.rejected.find((r) => r.role === name);
      if (custom && rejected) return { status: 200, body: { ...custom, source: 'custom', problems: describeRejection(rejected), matrix: [] }, etag: etag(custom.rev) };
      throw new GatewayError('not_found', `no role "${name}"`, { role: name });
    }
    const members = (await this.store.listMembers({ role: name })).filter((m) => m.status !== 'removed').length;
    return {
      status: 200,
      body: { ...this.roleSummary(view, role, custom), members, body: custom?.body ?? this.yamlBody(view, name), matrix: roleMatrix(view.policy, role) },
      etag: custom ? etag(custom.rev) : undefined,
    };
  }

  async createRole(caller: Caller, raw: unknown, idem?: IdempotencyRequest): Promise<Reply> {
    const { name, ...body } = validBody<CustomRoleBody & { name: string }>('roleCreate', raw);
    return this.run(idem, async (view) => {
      this.authorize(view, caller, 'roles', 'create', {});
      return this.putRolePlan(view, caller, name, body, undefined, 'role.create');
    });
  }

  async cloneRole(caller: Caller, source: string, raw: unknown, idem?: IdempotencyRequest): Promise<Reply> {
    const { name, description } = validBody<{ name: string; description?: string }>('clone', raw);
    return this.run(idem, async (view) => {
      this.authorize(view, caller, 'roles', 'create', {});
      const from = view.policy.roles.get(source);
      if (!from) throw new GatewayError('not_found', `no role "${source}" to clone`, { role: source });
      const body: CustomRoleBody = {
        description: description ?? `Copy of ${source}`,
        ...(from.audience !== 'any' ? { audience: from.audience } : {}),
        ...(from.login ? {} : { login: false }),
        grants: flattenGrants(view.policy, from),
      };
      return this.putRolePlan(view, caller, name, body, undefined, 'role.clone');
    });
  }

  async updateRole(caller: Caller, name: string, raw: unknown, ifMatch: number | undefined, idem?: IdempotencyRequest): Promise<Reply> {
    const body = validBody<CustomRoleBody>('roleUpdate', raw);
    return this.run(idem, async (view) => {
      this.authorize(view, caller, 'roles', 'update', {});
      const current = this.mustCustomRole(view, name, ifMatch);
      const plan = this.putRolePlan(view, caller, name, body, current, 'role.update');
      return { ...plan, ifMatch: plan.expect[0] };
    });
  }

  async deleteRole(caller: Caller, name: string, ifMatch: number | undefined, idem?: IdempotencyRequest): Promise<Reply> {
    return this.run(idem, async (view) => {
      this.authorize(view, caller, 'roles', 'delete', {});
      const current = this.mustCustomRole(view, name, ifMatch);
      const compiled = view.policy.roles.get(name);
      if (compiled) this.checkCovered(view, caller, compiled);
      const dependents = view.overlay.roles.filter((r) => r.body.inherits?.includes(name)).map((r) => r.name);
      const defaults = Object.entries(view.overlay.defaultRoles ?? {}).filter(([, list]) => list?.includes(name)).map(([k]) => `default_roles.${k}`);
      const groups = [...view.policy.groupRoles].filter(([, roles]) => roles.includes(name)).map(([g]) => `group ${g}`);
      if (dependents.length || defaults.length || groups.length) {
        throw new GatewayError('role_in_use', `role "${name}" is used by ${[...dependents.map((d) => `role ${d}`), ...defaults, ...groups].join(', ')}`, { role: name });
      }
      // take the role off its members in the same commit: those left with none get no_role at the gateway
      const holders = (await this.store.listMembers({ role: name })).filter((m) => m.roles.includes(name));
      const members = holders.map((m): [AdminMember, MemberChange] => [m, { roles: m.roles.filter((r) => r !== name) }]);
      const plan = members.length ? await this.changeMembers(view, caller, members, 'member.roles', false, true) : emptyPlan();
      plan.expect.unshift({ k: 'role', name, rev: current.rev });
      plan.writes.push({ k: 'role_delete', name });
      plan.audit.push(this.audit(caller, 'role.delete', `role:${name}`, current.body, null));
      return { ...plan, ifMatch: plan.expect[0], reply: { status: 200, body: { deleted: name, members: holders.map((m) => m.id) } } };
    });
  }

  // ---- default roles -------------------------------------------------------------------------

  async getDefaultRoles(caller: Caller): Promise<Reply> {
    const view = await this.views.current();
    this.authorize(view, caller, 'policy', 'read', {});
    return { status: 200, body: this.defaultRolesView(view), etag: etag(view.overlay.settingsRev) };
  }

  async setDefaultRoles(caller: Caller, raw: unknown, ifMatch: number | undefined, idem?: IdempotencyRequest): Promise<Reply> {
    const body = validBody<{ internal?: string[] | null; partner?: string[] | null }>('defaultRoles', raw);
    return this.run(idem, async (view) => {
      this.authorize(view, caller, 'policy', 'update', {});
      if (ifMatch === undefined) throw new GatewayError('precondition_required', `send If-Match: "${view.overlay.settingsRev}" (the current revision, from GET)`);
      if (ifMatch !== view.overlay.settingsRev) throw new GatewayError('version_mismatch', `the default roles are at revision ${view.overlay.settingsRev}, not ${ifMatch}`);
      const next: { internal?: readonly string[] | undefined; partner?: readonly string[] | undefined } = { ...view.overlay.defaultRoles };
      for (const kind of ['internal', 'partner'] as const) {
        const list = body[kind];
        if (list === undefined) continue;
        if (list === null) delete next[kind];
        else { this.checkGrantable(view, caller, list, `/${kind}`); next[kind] = list; }
      }
      const value: DefaultRolesOverride | null = next.internal === undefined && next.partner === undefined ? null : next;
      const candidate = this.views.candidate({ ...view.overlay, defaultRoles: value });
      const bad = candidate.rejected.find((r) => r.role === 'default_roles');
      if (bad) throw new GatewayError('invalid_body', describeRejection(bad), { field: '/' });
      const expect: Expectation = { k: 'settings', rev: view.overlay.settingsRev };
      return {
        expect: [expect], ifMatch: expect,
        writes: [{ k: 'default_roles', value }],
        audit: [this.audit(caller, 'default_roles.set', 'settings:default_roles', view.overlay.defaultRoles, value)],
        reply: { status: 200, body: this.defaultRolesView(candidate), etag: etag(view.overlay.settingsRev + 1) },
      };
    });
  }

  // ---- relations -----------------------------------------------------------------------------

  async getRelations(caller: Caller, ref: string): Promise<Reply> {
    parseRef(ref);
    const view = await this.views.current();
    const facts = await this.store.getRelations(ref);
    this.authorize(view, caller, 'relations', 'read', { record: facts ?? undefined });
    if (!facts) throw new GatewayError('not_found', `no relations stored for "${ref}"`);
    return { status: 200, body: { assignees: facts.assignees, collaborators: facts.collaborators, partner: facts.partner ?? null } };
  }

  async setRelations(caller: Caller, ref: string, raw: unknown, idem?: IdempotencyRequest): Promise<Reply> {
    parseRef(ref);
    const patch = validBody<RelationsPatch>('relations', raw);
    return this.run(idem, async (view) => {
      const before = await this.store.getRelations(ref);
      const after = {
        assignees: patch.assignees ?? before?.assignees ?? [], collaborators: patch.collaborators ?? before?.collaborators ?? [],
        partner: (patch.partner === undefined ? before?.partner : patch.partner) || null,
      };
      // both sides: a partner-scoped admin may neither take another org's record nor hand its own to another org
      this.authorize(view, caller, 'relations', 'update', { record: before ?? undefined });
      this.authorize(view, caller, 'relations', 'update', { record: { ...after, partner: after.partner ?? undefined } });
      return {
        expect: [{ k: 'version', version: await this.store.version() }],
        writes: [{ k: 'relations', ref, patch }],
        audit: [this.audit(caller, 'relations.set', `relations:${ref}`, before, after)],
        reply: { status: 200, body: after },
      };
    });
  }

  // ---- audit -----------------------------------------------------------------------------------

  async listAudit(caller: Caller, limit: number, before: string | undefined): Promise<Reply> {
    const view = await this.views.current();
    this.authorize(view, caller, 'policy', 'read', {});
    const items = await this.store.listAudit({ limit, before });
    return { status: 200, body: { items, next_cursor: items.length === limit ? items[items.length - 1]!.id : null } };
  }

  // ---- the common machinery ------------------------------------------------------------------

  /**
   * Plan and commit, retrying when the store moved under the plan. A plan's
   * `ifMatch` failing is the client's stale revision: 412 at once.
   */
  private async run(idem: IdempotencyRequest | undefined, plan: (view: PolicyView) => Promise<Plan> | Plan): Promise<Reply> {
    // a retry of a change that landed is answered as it was, before any check could now refuse it
    const kept = idem && await this.store.getIdempotent(idem.key);
    if (kept) return replayed(kept, idem);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const view = await this.views.current();
      const p = await plan(view);
      const body = JSON.stringify(p.reply.body);
      const result = await this.store.commit({
        expect: p.expect, writes: p.writes, audit: p.audit,
        idempotency: idem && { key: idem.key, ttl_ms: idem.ttlMs, response: { status: p.reply.status, body, fingerprint: idem.fingerprint } },
      });
      if (result.ok) return p.reply;
      if ('replay' in result) return replayed(result.replay, idem);
      if (p.ifMatch && sameExpectation(result.conflict, p.ifMatch)) throw new GatewayError('version_mismatch', `${describeExpectation(p.ifMatch)} changed since it was read; reload and retry`);
    }
    throw new GatewayError('write_conflict', `the store kept changing during ${ATTEMPTS} attempts`);
  }

  /**
   * The checks every member change goes through, then one plan for all of
   * them: authorization per member, no self change, no change to a member who
   * holds a role the caller could not grant, no role granted beyond the
   * caller's own, and never the last active owner.
   */
  private async changeMembers(view: PolicyView, caller: Caller, changes: readonly [AdminMember, MemberChange][], action: string, bulk = false, roleDeletion = false): Promise<Plan> {
    const storeVersion = await this.store.version();
    const plan = emptyPlan();
    const after: Record<string, unknown>[] = [];
    for (const [i, [m, change]] of changes.entries()) {
      const where = bulk ? `/ids/${i}` : undefined;
      const tag = (msg: string) => (where ? `${where} (${m.id}): ${msg}; nothing was changed` : msg);
      try {
        const removing = change.status === 'removed';
        if (!roleDeletion) {
          // groups can carry roles and org/kind decide conditions and defaults: all of them are "one's own roles" here
          const selfChanged = (['roles', 'groups', 'org', 'kind', 'status'] as const).filter((k) => change[k] !== undefined);
          if (m.id === caller.principal.id && selfChanged.length > 0) {
            throw new GatewayError('self_change', removing ? 'you may not remove yourself' : `you may not change your own ${selfChanged.join(', ')}`);
          }
          const { roles, status, invite, ...rest } = change;
          const target = { org: m.org, user: m.id };
          if (roles !== undefined) this.authorize(view, caller, 'members', 'assign', target);
          if (removing) this.authorize(view, caller, 'members', 'remove', target);
          if (Object.keys(rest).length > 0 || (status !== undefined && !removing) || (invite !== undefined && !removing)) this.authorize(view, caller, 'members', 'update', target);
          // moving a member to another org needs the right there too (a partner admin may not hand a teammate to another partner)
          if (change.org) this.authorize(view, caller, 'members', 'update', { org: change.org, user: m.id });
          for (const r of [...m.roles, ...groupRoles(view, m.groups)]) {
            const role = view.policy.roles.get(r);
            const lacking = role && firstUncovered(view.policy, heldPermissions(view.policy, caller.principal), role);
            if (lacking) throw new GatewayError('member_exceeds_caller', `member "${m.id}" holds role "${r}" with ${lacking.resource}:${lacking.action}, which you do not hold`, { member: m.id, role: r });
          }
          if (change.roles) this.checkGrantable(view, caller, change.roles.filter((r) => !m.roles.includes(r)), '/roles');
          if (change.groups) this.checkGrantable(view, caller, groupRoles(view, change.groups.filter((g) => !m.groups.includes(g))), '/groups');
          if (change.roles !== undefined || change.kind !== undefined) this.checkDefaults(view, caller, change.roles ?? m.roles, change.kind === undefined ? m.kind : change.kind || undefined);
        }
      } catch (err) {
        if (err instanceof GatewayError && where) throw new GatewayError(err.reason, tag(err.message), { ...err.fields, field: where, member: m.id });
        throw err;
      }
      const p = this.memberPlan(caller, m, change, action, 200);
      plan.expect.push(...p.expect);
      plan.writes.push(...p.writes);
      plan.audit.push(...p.audit);
      after.push(p.reply.body as Record<string, unknown>);
    }
    await this.keepAnOwner(view, changes, storeVersion, plan);
    const body = bulk ? { changed: changes.length, members: after } : after[0];
    return { ...plan, reply: { status: 200, body } };
  }

  /** Refuses a change that leaves no active member with an owner role; the store version pins the count it was judged on. */
  private async keepAnOwner(view: PolicyView, changes: readonly [AdminMember, MemberChange][], storeVersion: number, plan: Plan): Promise<void> {
    const owners = new Set([...view.policy.roles.values()].filter((r) => isOwnerRole(view.policy, r)).map((r) => r.name));
    if (owners.size === 0) return;
    const isOwner = (status: string, roles: readonly string[]) => status === 'active' && roles.some((r) => owners.has(r));
    const losing = changes.filter(([m, c]) => isOwner(m.status, m.roles) && !isOwner(c.status ?? m.status, c.roles ?? m.roles));
    if (losing.length === 0) return;
    const changed = new Map(changes.map(([m, c]) => [m.id, c]));
    const remaining = (await this.store.listMembers({ status: 'active' })).filter((m) => {
      const c = changed.get(m.id);
      return c ? isOwner(c.status ?? m.status, c.roles ?? m.roles) : isOwner(m.status, m.roles);
    });
    if (remaining.length === 0) {
      throw new GatewayError('last_owner', `"${losing[0]![0].id}" is the last active member with an owner role (${[...owners].join(', ')})`, { member: losing[0]![0].id });
    }
    plan.expect.push({ k: 'version', version: storeVersion });
  }

  /** One member write with its expectation, audit entry and the member as it will read afterwards. */
  private memberPlan(caller: Caller, m: AdminMember | null, change: MemberChange, action: string, status: number, id = m!.id): Plan {
    const now = this.now();
    const after = applyChange(id, m, change, now);
    const before = m && pick(m, Object.keys(change) as (keyof AdminMember)[]);
    return {
      expect: [{ k: 'member', id, rev: m?.rev ?? 0 }],
      writes: [{ k: 'member', id, patch: change }],
      audit: [this.audit(caller, action, `member:${id}`, before, change)],
      reply: { status, body: this.memberView(after), etag: etag(after.rev) },
    };
  }

  private putRolePlan(view: PolicyView, caller: Caller, name: string, body: CustomRoleBody, current: CustomRole | undefined, action: string): Plan {
    if (!current && (view.policy.roles.has(name) || view.overlay.roles.some((r) => r.name === name))) {
      throw new GatewayError('role_exists', `a role named "${name}" exists`, { role: name });
    }
    const now = this.now();
    const next: CustomRole = { name, body, rev: (current?.rev ?? 0) + 1, created_ms: current?.created_ms ?? now, updated_ms: now, updated_by: caller.principal.id };
    const overlay: PolicyOverlay = { ...view.overlay, roles: [...view.overlay.roles.filter((r) => r.name !== name), next].sort((a, b) => (a.name < b.name ? -1 : 1)) };
    const candidate = this.views.candidate(overlay);
    const rejected = candidate.rejected.find((r) => r.role === name);
    if (rejected) throw new GatewayError('invalid_role', describeRejection(rejected).replaceAll(`roles.${name}.`, ''), { role: name });
    const compiled = candidate.policy.roles.get(name)!;
    this.checkCovered(view, caller, compiled);
    const old = current && view.policy.roles.get(name);
    if (old) this.checkCovered(view, caller, old);
    return {
      expect: [{ k: 'role', name, rev: current?.rev ?? 0 }],
      writes: [{ k: 'role', name, body, by: caller.principal.id }],
      audit: [this.audit(caller, action, `role:${name}`, current?.body ?? null, body)],
      reply: { status: current ? 200 : 201, body: { ...this.roleSummary(candidate, compiled, next), body, matrix: roleMatrix(candidate.policy, compiled) }, etag: etag(next.rev) },
    };
  }

  /** Deny unless the policy allows this admin action to the caller (a pending or removed caller is refused here too). */
  private authorize(view: PolicyView, caller: Caller, resource: string, action: string, t: { org?: string | undefined; user?: string | undefined; record?: { assignees: readonly string[]; collaborators: readonly string[]; partner?: string | undefined } | undefined }): void {
    const perm = view.policy.permIndex.get(`${resource}:${action}`);
    if (perm === undefined) throw new GatewayError('not_granted', `the policy declares no ${resource}:${action} permission`, { resource, action });
    const d = decide(view.policy, caller.principal, { perm, org: t.org, user: t.user, record: t.record, partnerGroups: undefined });
    if (d !== 'allow') throw new GatewayError(d === 'filter' ? 'not_granted' : d, undefined, { resource, action });
  }

  private requireActive(caller: Caller, view: PolicyView): void {
    const s = caller.principal.status;
    if (s === 'pending') throw new GatewayError('member_pending');
    if (s === 'removed') throw new GatewayError('member_removed');
    if (s === 'unknown' && heldPermissions(view.policy, caller.principal).every((h) => h === undefined)) throw new GatewayError('not_a_member');
  }

  /** Each role must exist and be covered by what the caller holds. */
  private checkGrantable(view: PolicyView, caller: Caller, roles: readonly string[], field: string): void {
    roles.forEach((r, i) => {
      const role = view.policy.roles.get(r);
      if (!role) throw new GatewayError('invalid_body', `${field}/${i}: unknown role "${r}"`, { field: `${field}/${i}` });
      this.checkCovered(view, caller, role);
    });
  }

  /** A member left with no role gets its audience's default roles: the caller must be able to grant those too. */
  private checkDefaults(view: PolicyView, caller: Caller, roles: readonly string[], kind: string | undefined): void {
    if (roles.length > 0 || (kind !== 'internal' && kind !== 'partner')) return;
    for (const r of view.policy.defaultRoles[kind]) {
      const role = view.policy.roles.get(r);
      if (role) this.checkCovered(view, caller, role);
    }
  }

  private checkCovered(view: PolicyView, caller: Caller, role: CompiledRole): void {
    const lacking = firstUncovered(view.policy, heldPermissions(view.policy, caller.principal), role);
    if (lacking) {
      throw new GatewayError('role_exceeds_caller', `role "${role.name}" has ${lacking.resource}:${lacking.action}${describeHolding(role.perms[view.policy.permIndex.get(`${lacking.resource}:${lacking.action}`)!])}, which you do not hold`, { role: role.name, permission: `${lacking.resource}:${lacking.action}` });
    }
  }

  private async mustMember(id: string, ifMatch?: number): Promise<AdminMember> {
    checkId('member id', id);
    const m = await this.store.getMember(id);
    if (!m) throw new GatewayError('not_found', `no member "${id}"`, { member: id });
    if (ifMatch !== undefined && ifMatch !== m.rev) throw new GatewayError('version_mismatch', `member "${id}" is at revision ${m.rev}, not ${ifMatch}`, { member: id });
    return m;
  }

  private mustCustomRole(view: PolicyView, name: string, ifMatch: number | undefined): CustomRole {
    const current = view.overlay.roles.find((r) => r.name === name);
    if (!current) {
      if (view.policy.roles.has(name)) throw new GatewayError('builtin_role', `role "${name}" is defined in ${view.policy.roles.get(name)!.source}; change it there`, { role: name });
      throw new GatewayError('not_found', `no role "${name}"`, { role: name });
    }
    if (ifMatch === undefined) throw new GatewayError('precondition_required', `send If-Match: "${current.rev}" (the role's revision, from GET)`, { role: name });
    if (ifMatch !== current.rev) throw new GatewayError('version_mismatch', `role "${name}" is at revision ${current.rev}, not ${ifMatch}`, { role: name });
    return current;
  }

  private roleSummary(view: PolicyView, role: CompiledRole, custom: CustomRole | undefined) {
    return {
      name: role.name,
      source: custom ? 'custom' : 'yaml',
      builtin: role.builtin,
      description: custom?.body.description ?? this.yamlBody(view, role.name)?.description ?? '',
      audience: role.audience,
      login: role.login,
      owner: isOwnerRole(view.policy, role),
      ...(custom ? { rev: custom.rev, updated_ms: custom.updated_ms, updated_by: custom.updated_by } : { defined_at: role.source }),
    };
  }

  private yamlBody(view: PolicyView, name: string): (CustomRoleBody & { builtin?: boolean }) | undefined {
    for (const d of view.sources.docs) { const b = d.body.roles?.[name]; if (b) return b as CustomRoleBody; }
    return undefined;
  }

  private defaultRolesView(view: PolicyView) {
    const o = view.overlay.defaultRoles;
    return {
      internal: view.policy.defaultRoles.internal, partner: view.policy.defaultRoles.partner,
      source: { internal: o?.internal ? 'admin' : 'yaml', partner: o?.partner ? 'admin' : 'yaml' },
      rev: view.overlay.settingsRev,
    };
  }

  private memberView(m: AdminMember) {
    return {
      id: m.id, status: m.status, roles: m.roles, groups: m.groups, represents: m.represents,
      org: m.org ?? null, kind: m.kind ?? null, email: m.email ?? null,
      invite: m.invite ? { ...m.invite, expired: m.invite.expires_ms <= this.now() } : null,
      rev: m.rev, created_ms: m.created_ms, updated_ms: m.updated_ms,
    };
  }

  private audit(caller: Caller, action: string, target: string, before: unknown, after: unknown): AuditInput {
    return { actor: caller.principal.id, action, target, before: before ?? null, after: after ?? null, request_id: caller.requestId };
  }
}

export interface MemberListQuery {
  role?: string | undefined; status?: string | undefined; kind?: string | undefined; org?: string | undefined;
  group?: string | undefined; q?: string | undefined; limit: number; cursor?: string | undefined;
}

interface InviteBody {
  email: string; roles: string[]; id?: string; groups?: string[]; represents?: string[];
  org?: string; kind?: 'internal' | 'partner'; expires_in_s?: number;
}

/** The member as the store will hold it after `change` (the same merge the stores do: undefined keeps, '' clears). */
function applyChange(id: string, m: AdminMember | null, c: MemberChange, now: number): AdminMember {
  const text = (v: string | undefined, prev: string | undefined) => (v === undefined ? prev : v === '' ? undefined : v);
  return {
    id,
    status: c.status ?? m?.status ?? 'active',
    roles: c.roles ?? m?.roles ?? [],
    groups: c.groups ?? m?.groups ?? [],
    represents: c.represents ?? m?.represents ?? [],
    org: text(c.org, m?.org),
    kind: text(c.kind, m?.kind),
    email: text(c.email, m?.email),
    invite: c.invite === undefined ? m?.invite : c.invite ?? undefined,
    rev: (m?.rev ?? 0) + 1,
    created_ms: m?.created_ms ?? now,
    updated_ms: now,
  };
}

/** The roles these groups grant (policy `groups:`), each once. */
function groupRoles(view: PolicyView, groups: readonly string[]): string[] {
  return [...new Set(groups.flatMap((g) => view.policy.groupRoles.get(g) ?? []))];
}

function emptyPlan(): Plan { return { expect: [], writes: [], audit: [], reply: { status: 200, body: null } }; }

function etag(rev: number): string { return `"${rev}"`; }

function pick<T extends object>(o: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) out[k] = o[k];
  return out;
}

function sameExpectation(a: Expectation, b: Expectation): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describeExpectation(e: Expectation): string {
  switch (e.k) {
    case 'member': return `member "${e.id}"`;
    case 'role': return `role "${e.name}"`;
    case 'settings': return 'the default roles';
    case 'version': return 'the store';
  }
}

function describeHolding(h: Holding | undefined): string {
  return h === undefined || h === true ? '' : ` (when ${h.map((alt) => alt.join(' and ')).join(' or ')})`;
}

function replayed(r: { status: number; body: string; fingerprint: string }, idem: IdempotencyRequest | undefined): Reply {
  if (idem && r.fingerprint !== idem.fingerprint) throw new GatewayError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
  return { status: r.status, body: JSON.parse(r.body) as unknown, replay: true };
}
