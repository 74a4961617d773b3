import type { RecordFacts } from '../policy/index.js';
import type { AssignmentStore, MemberRecord, StoreSeed } from './types.js';

/** The zero-setup default: assignments held in this process, answered synchronously. */
export class MemoryAssignmentStore implements AssignmentStore {
  readonly kind = 'memory';
  private readonly members = new Map<string, MemberRecord>();
  private readonly relations = new Map<string, RecordFacts>();
  private readonly partners = new Map<string, readonly string[]>();

  constructor(seed?: StoreSeed) {
    if (!seed) return;
    for (const [id, m] of Object.entries(seed.members)) this.setMember({ ...m, id });
    for (const [ref, r] of Object.entries(seed.relations)) this.setRelations(ref, r);
    for (const [p, v] of Object.entries(seed.partners)) this.partners.set(p, Object.freeze([...v.groups]));
  }

  getMember(id: string): MemberRecord | null { return this.members.get(id) ?? null; }
  getRelations(ref: string): RecordFacts | null { return this.relations.get(ref) ?? null; }
  getPartnerGroups(partner: string): readonly string[] | null { return this.partners.get(partner) ?? null; }
  healthy(): boolean { return true; }
  async close(): Promise<void> { /* nothing to release */ }

  setMember(m: MemberRecord): void {
    this.members.set(m.id, Object.freeze({ ...m, roles: Object.freeze([...m.roles]), groups: Object.freeze([...m.groups]) }));
  }

  setRelations(ref: string, r: RecordFacts): void {
    this.relations.set(ref, Object.freeze({ assignees: Object.freeze([...r.assignees]), collaborators: Object.freeze([...r.collaborators]), partner: r.partner }));
  }

  listMembers(): MemberRecord[] { return [...this.members.values()]; }
}
