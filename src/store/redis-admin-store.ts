import type { RedisConfig } from '../config/index.js';
import type { RecordFacts } from '../policy/index.js';
import type {
  AdminMember, AdminStore, AdminWrite, AuditEntry, Commit, CommitResult, Expectation, MemberQuery, PolicyOverlay, StoredResponse,
} from './admin-types.js';
import { checkId, checkMemberPatch, checkRelationsPatch, InvalidAssignmentError, parseRef } from './ids.js';
import { canonicalJson, CorruptRecordError, decodeAudit, encodeAudit, encodeInvite } from './redis-codec.js';
import type { RedisClient } from './redis-connection.js';
import { redisKeys, type KeyModel } from './redis-keys.js';
import type { ApplyOp, ScriptCommit } from './redis-script.js';
import { RedisAssignmentStore, storeUnavailable } from './redis-store.js';
import type { StoreHooks } from './types.js';
import { AssignmentWriter, connectRedis } from './writer.js';

export interface RedisAdminStoreOptions {
  /** The audit stream's bound (`admin.audit_max_entries`); Redis trims approximately (MAXLEN ~). */
  readonly auditMaxEntries: number;
}

// admin reads are not gateway request-path reads: they stay out of the store metrics
const NO_HOOKS: StoreHooks = { cache() {}, error() {}, duration() {}, invalidation() {} };

/** Redis stream ids, `<ms>-<seq>`: the only cursor XREVRANGE accepts. */
const STREAM_ID = /^\d+-\d+$/;

/**
 * The admin store on Redis. Reads reuse the gateway's reader and the CLI's
 * writer; every commit is one call of the apply script, which checks the
 * expectations, applies the writes, appends the audit entries and keeps the
 * idempotent response atomically, and publishes the change to every instance.
 * A read or commit Redis cannot answer is GatewayError('store_unavailable');
 * an invalid id or patch is InvalidAssignmentError, before Redis is touched.
 */
export class RedisAdminStore implements AdminStore {
  readonly kind = 'redis';
  private readonly writer: AssignmentWriter;
  private readonly reads: RedisAssignmentStore;

  constructor(private readonly client: RedisClient, private readonly keys: KeyModel, private readonly opts: RedisAdminStoreOptions) {
    this.writer = new AssignmentWriter(client, keys);
    this.reads = new RedisAssignmentStore(client, keys, NO_HOOKS);
  }

  /** Connects and waits (at most connect_timeout_ms) until Redis answers. */
  static async open(cfg: RedisConfig, opts: RedisAdminStoreOptions): Promise<RedisAdminStore> {
    return new RedisAdminStore(await connectRedis(cfg), redisKeys(cfg.prefix), opts);
  }

  version(): Promise<number> { return this.guard('read (version)', () => this.writer.version()); }

  getMember(id: string): Promise<AdminMember | null> { return this.guard('read (member)', () => this.writer.getMember(id)); }

  listMembers(q: MemberQuery = {}): Promise<AdminMember[]> { return this.guard('read (members)', () => this.writer.listMembers(q)); }

  getRelations(ref: string): Promise<RecordFacts | null> { return this.reads.getRelations(ref); }

  getOverlay(): Promise<PolicyOverlay> { return this.reads.getPolicyOverlay(); }

  /** Newest first; `before` is exclusive. A cursor that is not a stream id names no entry: nothing before it. */
  listAudit(opts: { limit: number; before?: string | undefined }): Promise<AuditEntry[]> {
    if (opts.limit <= 0 || (opts.before !== undefined && !STREAM_ID.test(opts.before))) return Promise.resolve([]);
    const end = opts.before === undefined ? '+' : `(${opts.before}`;
    return this.guard('read (audit)', async () =>
      (await this.client.xrevrange(this.keys.audit, end, '-', 'COUNT', opts.limit)).map(([id, flat]) => decodeAudit(id, flat)));
  }

  getIdempotent(key: string): Promise<StoredResponse | null> {
    return this.guard('read (idempotency)', async () => {
      const text = await this.client.get(this.keys.idempotency(key));
      return text === null ? null : decodeResponse(text);
    });
  }

  async commit(c: Commit): Promise<CommitResult> {
    const ops = c.writes.map(toOp);
    const script: ScriptCommit = {
      expect: c.expect.map(toScriptExpectation),
      audit: c.audit.map(encodeAudit),
      audit_max: String(this.opts.auditMaxEntries),
      ...(c.idempotency ? { idem: { key: c.idempotency.key, response: JSON.stringify(c.idempotency.response), ttl_ms: String(c.idempotency.ttl_ms) } } : {}),
    };
    return this.guard('commit', async (): Promise<CommitResult> => {
      const res = await this.writer.apply(ops, script);
      switch (res.k) {
        case 'ok': return { ok: true, version: res.version };
        case 'conflict': return { ok: false, conflict: c.expect[res.index]! };
        case 'replay': return { ok: false, replay: decodeResponse(res.response) };
      }
    });
  }

  close(): Promise<void> { return this.writer.close(); }

  private async guard<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof InvalidAssignmentError) throw err;
      throw storeUnavailable(what, err);
    }
  }
}

/** An admin write as a script op; validates it first (InvalidAssignmentError). */
function toOp(w: AdminWrite): ApplyOp {
  switch (w.k) {
    case 'member': {
      const { represents, invite, ...patch } = w.patch;
      checkMemberPatch(w.id, patch);
      for (const g of represents ?? []) checkId('represented group', g);
      return {
        k: 'member', id: w.id, ...patch,
        ...(represents !== undefined ? { represents } : {}),
        ...(invite !== undefined ? { invite: invite === null ? null : encodeInvite(invite) } : {}),
      };
    }
    case 'relations': {
      checkRelationsPatch(w.ref, w.patch);
      const { resource, id } = parseRef(w.ref);
      return { k: 'relations', resource, rid: id, ...w.patch };
    }
    case 'role':
      checkId('role', w.name);
      return { k: 'role', name: w.name, body: canonicalJson(w.body), by: w.by };
    case 'role_delete':
      return { k: 'role_delete', name: w.name };
    case 'default_roles':
      return { k: 'default_roles', value: w.value === null ? null : canonicalJson(w.value) };
  }
}

function toScriptExpectation(e: Expectation): ScriptCommit['expect'][number] {
  switch (e.k) {
    case 'member': return { k: 'member', name: e.id, n: e.rev };
    case 'role': return { k: 'role', name: e.name, n: e.rev };
    case 'settings': return { k: 'settings', n: e.rev };
    case 'version': return { k: 'version', n: e.version };
  }
}

function decodeResponse(text: string): StoredResponse {
  const r = JSON.parse(text) as Partial<StoredResponse>;
  if (typeof r.status !== 'number' || typeof r.body !== 'string' || typeof r.fingerprint !== 'string') throw new CorruptRecordError('stored idempotent response is malformed');
  return { status: r.status, body: r.body, fingerprint: r.fingerprint };
}
