import type { MemberStatus } from '../policy/index.js';
import { KINDS, STATUSES } from './ids.js';
import type { StoredMember } from './types.js';

/** A stored member hash that cannot be trusted; the read fails closed rather than guess. */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';
}

/** HGETALL of a member hash -> record (null when the hash does not exist). Lists are comma-joined. */
export function decodeMember(id: string, h: Record<string, string>): StoredMember | null {
  if (h.status === undefined) return null;
  if (!(STATUSES as readonly string[]).includes(h.status)) throw new CorruptRecordError(`member ${id}: unknown status "${h.status}"`);
  if (h.kind !== undefined && !(KINDS as readonly string[]).includes(h.kind)) throw new CorruptRecordError(`member ${id}: unknown kind "${h.kind}"`);
  return Object.freeze({
    id,
    status: h.status as MemberStatus,
    roles: Object.freeze(splitList(h.roles)),
    groups: Object.freeze(splitList(h.groups)),
    org: h.org,
    kind: h.kind,
    email: h.email,
    created_ms: Number(h.created ?? 0),
    updated_ms: Number(h.updated ?? 0),
  });
}

export function splitList(s: string | undefined): string[] {
  return s ? s.split(',').filter(Boolean) : [];
}
