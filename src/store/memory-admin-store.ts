import { isDeepStrictEqual } from 'node:util';
import type { RecordFacts } from '../policy/index.js';
import type {
  AdminMember, AdminMemberPatch, AdminStore, AdminWrite, AuditEntry, Commit, CommitResult, CustomRole, DefaultRolesOverride,
  Expectation, MemberQuery, PolicyOverlay, StoredResponse,
} from './admin-types.js';
import { checkMemberPatch, checkRelationsPatch } from './ids.js';
import type { MemoryAssignmentStore } from './memory-store.js';

interface Bookkeeping { rev: number; represents: readonly string[]; invite: AdminMember['invite']; created_ms: number; updated_ms: number }

/**
 * The admin store of the zero-setup default: it writes straight into the
 * MemoryAssignmentStore the gateway reads, so a change is enforced by the next
 * request. Same contract as RedisAdminStore (test/store/admin-store.test.ts),
 * minus durability: everything lives as long as the process.
 */
export class MemoryAdminStore implements AdminStore {
  readonly kind = 'memory';
  private storeVersion = 0;
  /** Admin fields the gateway never reads, per member id. */
  private readonly books = new Map<string, Bookkeeping>();
  private readonly roles = new Map<string, CustomRole>();
  private defaultRoles: DefaultRolesOverride | null = null;
  private settingsRev = 0;
  private readonly audit: AuditEntry[] = [];
  private auditSeq = 0;
  private readonly idempotent = new Map<string, { response: StoredResponse; until: number }>();
  private readonly now: () => number;

  constructor(private readonly store: MemoryAssignmentStore, private readonly opts: { auditMaxEntries: number; now?: () => number }) {
    this.now = opts.now ?? Date.now;
  }

  async version(): Promise<number> { return this.storeVersion; }

  async getMember(id: string): Promise<AdminMember | null> { return this.member(id); }

  async listMembers(q: MemberQuery = {}): Promise<AdminMember[]> {
    return this.store.listMembers()
      .filter((m) => (q.role === undefined || m.roles.includes(q.role)) && (q.status === undefined || m.status === q.status))
      .map((m) => this.member(m.id)!)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async getRelations(ref: string): Promise<RecordFacts | null> { return this.store.getRelations(ref); }

  async getOverlay(): Promise<PolicyOverlay> { return this.store.getPolicyOverlay(); }

  async listAudit(opts: { limit: number; before?: string | undefined }): Promise<AuditEntry[]> {
    const before = opts.before === undefined ? Infinity : Number(opts.before);
    const out: AuditEntry[] = [];
    for (let i = this.audit.length - 1; i >= 0 && out.length < opts.limit; i--) {
      if (Number(this.audit[i]!.id) < before) out.push(this.audit[i]!);
    }
    return out;
  }

  async getIdempotent(key: string): Promise<StoredResponse | null> {
    const e = this.idempotent.get(key);
    if (e === undefined) return null;
    if (e.until <= this.now()) { this.idempotent.delete(key); return null; }
    return e.response;
  }

  async commit(c: Commit): Promise<CommitResult> {
    const key = c.idempotency?.key;
    const kept = key === undefined ? null : await this.getIdempotent(key);
    if (kept) return { ok: false, replay: kept };
    for (const e of c.expect) if (!this.holds(e)) return { ok: false, conflict: e };
    // validate every write before applying any: all or nothing
    for (const w of c.writes) {
      if (w.k === 'member') checkMemberPatch(w.id, w.patch);
      if (w.k === 'relations') checkRelationsPatch(w.ref, w.patch);
    }
    const now = this.now();
    let changed = false;
    let overlayChanged = false;
    for (const w of c.writes) {
      const [did, overlay] = this.apply(w, now);
      changed ||= did;
      overlayChanged ||= did && overlay;
    }
    if (changed) this.storeVersion++;
    for (const a of c.audit) this.audit.push(Object.freeze({ ...a, id: String(++this.auditSeq), at_ms: now }));
    if (this.audit.length > this.opts.auditMaxEntries) this.audit.splice(0, this.audit.length - this.opts.auditMaxEntries);
    if (c.idempotency) this.idempotent.set(c.idempotency.key, { response: c.idempotency.response, until: now + c.idempotency.ttl_ms });
    if (overlayChanged) this.publishOverlay();
    return { ok: true, version: this.storeVersion };
  }

  async close(): Promise<void> { /* nothing to release */ }

  private member(id: string): AdminMember | null {
    const m = this.store.getMember(id);
    if (!m) return null;
    const b = this.books.get(id);
    return Object.freeze({
      ...m, email: m.email, rev: b?.rev ?? 1, represents: b?.represents ?? [], invite: b?.invite,
      created_ms: b?.created_ms ?? 0, updated_ms: b?.updated_ms ?? 0,
    });
  }

  private holds(e: Expectation): boolean {
    switch (e.k) {
      case 'member': return (this.member(e.id)?.rev ?? 0) === e.rev;
      case 'role': return (this.roles.get(e.name)?.rev ?? 0) === e.rev;
      case 'settings': return this.settingsRev === e.rev;
      case 'version': return this.storeVersion === e.version;
    }
  }

  /** [whether anything changed, whether it is part of the policy overlay] */
  private apply(w: AdminWrite, now: number): [boolean, boolean] {
    switch (w.k) {
      case 'member': return [this.applyMember(w.id, w.patch, now), false];
      case 'relations': {
        const old = this.store.getRelations(w.ref);
        const next: RecordFacts = {
          assignees: w.patch.assignees ?? old?.assignees ?? [],
          collaborators: w.patch.collaborators ?? old?.collaborators ?? [],
          partner: w.patch.partner === undefined ? old?.partner : w.patch.partner || undefined,
        };
        if (old && isDeepStrictEqual({ ...old }, { ...next })) return [false, false];
        this.store.setRelations(w.ref, next);
        return [true, false];
      }
      case 'role': {
        const old = this.roles.get(w.name);
        if (old && isDeepStrictEqual(old.body, w.body)) return [false, true];
        this.roles.set(w.name, Object.freeze({
          name: w.name, body: structuredClone(w.body), rev: (old?.rev ?? 0) + 1,
          created_ms: old?.created_ms ?? now, updated_ms: now, updated_by: w.by,
        }));
        return [true, true];
      }
      case 'role_delete': return [this.roles.delete(w.name), true];
      case 'default_roles': {
        if (isDeepStrictEqual(this.defaultRoles, w.value)) return [false, true];
        this.defaultRoles = w.value === null ? null : Object.freeze({ ...w.value });
        this.settingsRev++;
        return [true, true];
      }
    }
  }

  private applyMember(id: string, p: AdminMemberPatch, now: number): boolean {
    const old = this.member(id);
    const text = (v: string | undefined, prev: string | undefined) => (v === undefined ? prev : v === '' ? undefined : v);
    const next = {
      id,
      status: p.status ?? old?.status ?? 'active',
      roles: p.roles ?? old?.roles ?? [],
      groups: p.groups ?? old?.groups ?? [],
      org: text(p.org, old?.org),
      kind: text(p.kind, old?.kind),
      email: text(p.email, old?.email),
    };
    const represents = p.represents ?? old?.represents ?? [];
    const invite = p.invite === undefined ? old?.invite : p.invite ?? undefined;
    if (old && isDeepStrictEqual(
      [next.status, next.roles, next.groups, next.org, next.kind, next.email, represents, invite],
      [old.status, old.roles, old.groups, old.org, old.kind, old.email, old.represents, old.invite],
    )) return false;
    this.store.setMember(next);
    this.books.set(id, {
      rev: (old?.rev ?? 0) + 1, represents: Object.freeze([...represents]), invite: invite && Object.freeze({ ...invite }),
      created_ms: old ? old.created_ms : now, updated_ms: now,
    });
    return true;
  }

  private publishOverlay(): void {
    this.store.setPolicyOverlay(Object.freeze({
      roles: Object.freeze([...this.roles.values()].sort((a, b) => (a.name < b.name ? -1 : 1))),
      defaultRoles: this.defaultRoles,
      settingsRev: this.settingsRev,
    }));
  }
}
