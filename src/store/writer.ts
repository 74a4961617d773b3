import type { RedisConfig } from '../config/index.js';
import type { RecordFacts } from '../policy/index.js';
import { checkId, checkMemberPatch, checkRelationsPatch, InvalidAssignmentError, parseRef, STATUSES } from './ids.js';
import { changesFromOutcomes, planImport, type StoreSnapshot } from './import-plan.js';
import type { AdminMember, MemberQuery } from './admin-types.js';
import { decodeAdminMember, decodeMember } from './redis-codec.js';
import { createRedisClient, describeRedis, waitReady, type RedisClient } from './redis-connection.js';
import { redisKeys, type KeyModel } from './redis-keys.js';
import { applyScript, type ApplyCall, type ApplyOp, type ApplyOutcome } from './redis-script.js';
import { execResults, quit } from './redis-store.js';
import type { ImportReport, MemberPatch, RelationsPatch, StoreSeed, StoredMember, WriteResult } from './types.js';

/** A client for a command-line style caller: connected (at most connect_timeout_ms) or an error naming where. */
export async function connectRedis(cfg: RedisConfig): Promise<RedisClient> {
  const client = createRedisClient(cfg);
  // waitReady reports the failure; without a listener ioredis prints every retry to stderr
  client.on('error', () => {});
  try {
    await waitReady(client, cfg.connect_timeout_ms);
  } catch (err) {
    client.disconnect();
    throw new Error(`cannot reach Redis (${describeRedis(cfg)}): ${(err as Error).message}`);
  }
  return client;
}

/**
 * The write side of the Redis store (the CLI; RedisAdminStore builds on it).
 * Every write is one call of the apply script: atomic, version bumped, and an
 * invalidation published to every gateway instance in the same step.
 */
export class AssignmentWriter {
  /** The apply script on this client, for callers that send their own ops (RedisAdminStore). */
  readonly apply: ApplyCall;

  constructor(private readonly client: RedisClient, readonly keys: KeyModel) {
    this.apply = applyScript(client, keys);
  }

  /** Connects and waits (at most connect_timeout_ms) until Redis answers. */
  static async open(cfg: RedisConfig): Promise<AssignmentWriter> {
    return new AssignmentWriter(await connectRedis(cfg), redisKeys(cfg.prefix));
  }

  /** Creates or updates a member; fields left out keep their value. A new member is active unless told otherwise. */
  async setMember(id: string, patch: MemberPatch): Promise<WriteResult> {
    checkMemberPatch(id, patch);
    return this.one({ k: 'member', id, ...patch });
  }

  /** Marks a member removed (kept, not deleted, so it is denied as member_removed). */
  async removeMember(id: string): Promise<WriteResult> {
    checkId('member id', id);
    return this.one({ k: 'member', id, status: 'removed', must_exist: true });
  }

  async setRelations(ref: string, patch: RelationsPatch): Promise<WriteResult> {
    checkRelationsPatch(ref, patch);
    const { resource, id } = parseRef(ref);
    return this.one({ k: 'relations', resource, rid: id, ...patch });
  }

  async setPartnerGroups(partner: string, groups: readonly string[]): Promise<WriteResult> {
    checkId('partner', partner);
    for (const g of groups) checkId('group', g);
    return this.one({ k: 'partner', id: partner, groups: [...new Set(groups)] });
  }

  /** Makes the store match a (validated, see loadSeed) seed in one atomic step; a dry run only reports. */
  async importSeed(seed: StoreSeed, opts: { dryRun?: boolean } = {}): Promise<ImportReport> {
    const plan = planImport(await this.snapshot(), seed);
    if (opts.dryRun) return report(true, plan.changes, await this.version());
    const { version, outcomes } = await this.applyOps(plan.ops);
    return report(false, changesFromOutcomes(plan, outcomes), version);
  }

  async getMember(id: string): Promise<AdminMember | null> {
    checkId('member id', id);
    return decodeAdminMember(id, await this.client.hgetall(this.keys.member(id)));
  }

  /** Members, optionally only those holding `role` and/or with `status`, sorted by id. */
  async listMembers(filter: MemberQuery = {}): Promise<AdminMember[]> {
    const sets: string[] = [];
    if (filter.role !== undefined) { checkId('role', filter.role); sets.push(this.keys.byRole(filter.role)); }
    if (filter.status !== undefined) {
      if (!(STATUSES as readonly string[]).includes(filter.status)) throw new InvalidAssignmentError(`status must be one of ${STATUSES.join(', ')}, got "${filter.status}"`);
      sets.push(this.keys.byStatus(filter.status));
    }
    const ids = (sets.length === 0 ? await this.client.smembers(this.keys.members) : await this.client.sinter(...sets)).sort();
    return (await this.readMembers(ids)).filter((m): m is AdminMember => m !== null);
  }

  /** Everything stored, for an import's diff. */
  async snapshot(): Promise<StoreSnapshot> {
    const k = this.keys;
    const [memberIds, refs, partnerIds] = execResults(await this.client.multi().smembers(k.members).smembers(k.relations).smembers(k.partners).exec()) as string[][];
    const members = new Map<string, StoredMember>();
    const relations = new Map<string, RecordFacts>();
    const partners = new Map<string, readonly string[]>();
    const m = this.client.multi();
    for (const id of memberIds!) m.hgetall(k.member(id));
    for (const ref of refs!) m.smembers(k.relation(ref, 'assignees')).smembers(k.relation(ref, 'collaborators')).get(k.relation(ref, 'partner'));
    for (const p of partnerIds!) m.smembers(k.partnerGroups(p));
    const res = execResults(await m.exec());
    let i = 0;
    for (const id of memberIds!) { const rec = decodeMember(id, res[i++] as Record<string, string>); if (rec) members.set(id, rec); }
    for (const ref of refs!) {
      const assignees = res[i++] as string[], collaborators = res[i++] as string[], partner = res[i++] as string | null;
      relations.set(ref, { assignees, collaborators, partner: partner ?? undefined });
    }
    for (const p of partnerIds!) partners.set(p, res[i++] as string[]);
    return { members, relations, partners };
  }

  async version(): Promise<number> { return Number(await this.client.get(this.keys.version) ?? 0); }

  async close(): Promise<void> { await quit(this.client); }

  private async readMembers(ids: readonly string[]): Promise<(AdminMember | null)[]> {
    if (ids.length === 0) return [];
    const m = this.client.multi();
    for (const id of ids) m.hgetall(this.keys.member(id));
    return execResults(await m.exec()).map((h, i) => decodeAdminMember(ids[i]!, h as Record<string, string>));
  }

  private async one(op: ApplyOp): Promise<WriteResult> {
    const { version, outcomes } = await this.applyOps([op]);
    const outcome = outcomes[0];
    if (outcome === 'missing') throw new Error(`member "${(op as { id: string }).id}" does not exist`);
    return { outcome: outcome === 'removed' ? 'changed' : outcome ?? 'unchanged', version };
  }

  /** Ops without a commit envelope always apply (no expectations, no idempotency key). */
  private async applyOps(ops: readonly ApplyOp[]): Promise<{ version: number; outcomes: readonly ApplyOutcome[] }> {
    const res = await this.apply(ops);
    if (res.k !== 'ok') throw new Error(`apply script answered ${res.k} to a plain write`);
    return res;
  }
}

function report(dryRun: boolean, changes: ImportReport['changes'], version: number): ImportReport {
  const count = (c: string) => changes.filter((x) => x.change === c).length;
  return { dryRun, changes, added: count('added'), changed: count('changed'), removed: count('removed'), version };
}
