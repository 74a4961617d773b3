import { GatewayError } from '../errors.js';
import type { RecordFacts, RecordRelation } from '../policy/index.js';
import type { PolicyOverlay } from './admin-types.js';
import type { RedisClient } from './redis-connection.js';
import { decodeMember, decodeOverlay } from './redis-codec.js';
import type { KeyModel } from './redis-keys.js';
import type { AssignmentStore, StoreHooks, StoreOp, StoredMember } from './types.js';

/**
 * Assignments read from Redis: every read is one round trip (a MULTI where it
 * needs several keys, so it sees one consistent version). Always async; the
 * cache in front (cached-store.ts) is what answers warm reads synchronously.
 * Any failure becomes GatewayError('store_unavailable'): fail closed.
 */
export class RedisAssignmentStore implements AssignmentStore {
  readonly kind = 'redis';

  constructor(private readonly client: RedisClient, private readonly keys: KeyModel, private readonly hooks: StoreHooks) {}

  getMember(id: string): Promise<StoredMember | null> {
    return this.run('member', async () => decodeMember(id, await this.client.hgetall(this.keys.member(id))));
  }

  getRelations(ref: string): Promise<RecordFacts | null> {
    return this.run('relations', async () => {
      const k = this.keys;
      const [known, assignees, collaborators, partner] = execResults(await this.client.multi()
        .sismember(k.relations, ref).smembers(k.relation(ref, 'assignees')).smembers(k.relation(ref, 'collaborators')).get(k.relation(ref, 'partner'))
        .exec());
      if (known !== 1) return null;
      return Object.freeze({
        assignees: Object.freeze((assignees as string[]).sort()),
        collaborators: Object.freeze((collaborators as string[]).sort()),
        partner: (partner as string | null) ?? undefined,
      });
    });
  }

  getPartnerGroups(partner: string): Promise<readonly string[] | null> {
    return this.run('partner', async () => {
      const [known, groups] = execResults(await this.client.multi().sismember(this.keys.partners, partner).smembers(this.keys.partnerGroups(partner)).exec());
      return known === 1 ? Object.freeze((groups as string[]).sort()) : null;
    });
  }

  /** Ids of `resource` records the principal is assigned to / collaborates on: one SMEMBERS of the reverse index. */
  getPrincipalRecords(principal: string, resource: string, relation: RecordRelation): Promise<ReadonlySet<string>> {
    const key = this.keys.userRecords(principal, relation === 'assigned' ? 'assigned' : 'collaborates', resource);
    return this.run('relations', async () => new Set(await this.client.smembers(key)));
  }

  /** Ids of `resource` records the user is assigned to or collaborates on: one command, thanks to the reverse index. */
  visibleRecords(user: string, resource: string): Promise<string[]> {
    return this.run('relations', async () => (await this.client.sunion(
      this.keys.userRecords(user, 'assigned', resource), this.keys.userRecords(user, 'collaborates', resource))).sort());
  }

  /** Custom roles and default-role override in one MULTI. Off the request path: not in the read metrics. */
  async getPolicyOverlay(): Promise<PolicyOverlay> {
    try {
      const [roles, settings] = execResults(await this.client.multi().hgetall(this.keys.customRoles).hgetall(this.keys.settings).exec());
      return decodeOverlay(roles as Record<string, string>, settings as Record<string, string>);
    } catch (err) {
      throw storeUnavailable('read (policy overlay)', err);
    }
  }

  healthy(): boolean { return this.client.status === 'ready'; }

  async close(): Promise<void> { await quit(this.client); }

  private async run<T>(op: StoreOp, read: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await read();
    } catch (err) {
      this.hooks.error(op);
      throw storeUnavailable(`read (${op})`, err);
    } finally {
      this.hooks.duration(op, (performance.now() - start) / 1000);
    }
  }
}

/** The one error a failed store read or write becomes: the caller fails closed. */
export function storeUnavailable(what: string, err: unknown): GatewayError {
  return new GatewayError('store_unavailable', `store ${what} failed: ${(err as Error)?.message}`, undefined, { cause: err });
}

/** MULTI results as values; a null (aborted transaction) or any per-command error throws. */
export function execResults(res: [Error | null, unknown][] | null): unknown[] {
  if (!res) throw new Error('transaction aborted');
  return res.map(([err, v]) => { if (err) throw err; return v; });
}

/** QUIT when connected (lets Redis finish what it has), else just drop the socket. */
export async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try { await client.quit(); return; } catch { /* fall through to disconnect */ }
  }
  client.disconnect();
}
