import type { RecordFacts, RecordRelation } from '../policy/index.js';
import type { PolicyOverlay } from './admin-types.js';
import type { AssignmentStore, MemberRecord, StoreSeed } from './types.js';

const EMPTY: ReadonlySet<string> = new Set();
export const EMPTY_OVERLAY: PolicyOverlay = Object.freeze({ roles: Object.freeze([]), defaultRoles: null, settingsRev: 0 });

/** The zero-setup default: assignments held in this process, answered synchronously. */
export class MemoryAssignmentStore implements AssignmentStore {
  readonly kind = 'memory';
  private readonly members = new Map<string, MemberRecord>();
  private readonly relations = new Map<string, RecordFacts>();
  private readonly partners = new Map<string, readonly string[]>();
  /** `principal\0resource\0relation` -> record ids: the reverse direction of `relations`, so a list filter is one read. */
  private readonly byPrincipal = new Map<string, Set<string>>();
  private overlay: PolicyOverlay = EMPTY_OVERLAY;
  private readonly overlayWatchers: (() => void)[] = [];

  constructor(seed?: StoreSeed) {
    if (!seed) return;
    for (const [id, m] of Object.entries(seed.members)) this.setMember({ ...m, id });
    for (const [ref, r] of Object.entries(seed.relations)) this.setRelations(ref, r);
    for (const [p, v] of Object.entries(seed.partners)) this.partners.set(p, Object.freeze([...v.groups]));
  }

  getMember(id: string): MemberRecord | null { return this.members.get(id) ?? null; }
  getRelations(ref: string): RecordFacts | null { return this.relations.get(ref) ?? null; }
  getPartnerGroups(partner: string): readonly string[] | null { return this.partners.get(partner) ?? null; }
  async getPolicyOverlay(): Promise<PolicyOverlay> { return this.overlay; }
  watchPolicyOverlay(changed: () => void): void { this.overlayWatchers.push(changed); }
  healthy(): boolean { return true; }
  async close(): Promise<void> { /* nothing to release */ }

  setMember(m: MemberRecord): void {
    this.members.set(m.id, Object.freeze({ ...m, roles: Object.freeze([...m.roles]), groups: Object.freeze([...m.groups]) }));
  }

  getPrincipalRecords(principal: string, resource: string, relation: RecordRelation): ReadonlySet<string> {
    return this.byPrincipal.get(`${principal}\0${resource}\0${relation}`) ?? EMPTY;
  }

  setRelations(ref: string, r: RecordFacts): void {
    const old = this.relations.get(ref);
    const [resource, id] = [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)];
    const index = (facts: RecordFacts, add: boolean) => {
      for (const [relation, list] of [['assigned', facts.assignees], ['collaborator', facts.collaborators]] as const) {
        for (const p of list) {
          const key = `${p}\0${resource}\0${relation}`;
          let set = this.byPrincipal.get(key);
          if (add) { if (!set) this.byPrincipal.set(key, (set = new Set())); set.add(id); } else set?.delete(id);
        }
      }
    };
    if (old) index(old, false);
    index(r, true);
    this.relations.set(ref, Object.freeze({ assignees: Object.freeze([...r.assignees]), collaborators: Object.freeze([...r.collaborators]), partner: r.partner }));
  }

  listMembers(): MemberRecord[] { return [...this.members.values()]; }

  /** Replaces the admin overlay and tells the watchers (this process is every instance there is). */
  setPolicyOverlay(overlay: PolicyOverlay): void {
    this.overlay = overlay;
    for (const w of this.overlayWatchers) w();
  }
}
