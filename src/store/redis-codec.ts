import type { MemberStatus } from '../policy/index.js';
import type { AdminMember, AuditEntry, AuditInput, CustomRole, DefaultRolesOverride, Invite, PolicyOverlay } from './admin-types.js';
import { KINDS, STATUSES } from './ids.js';
import type { InviteFields } from './redis-script.js';
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

/**
 * A member hash with the admin bookkeeping. A member written before revisions
 * existed (no `rev` field) reads as rev 1: it exists, and rev 0 means "does not"
 * (the write script counts it the same way).
 */
export function decodeAdminMember(id: string, h: Record<string, string>): AdminMember | null {
  const m = decodeMember(id, h);
  if (m === null) return null;
  const invite: Invite | undefined = h.inv_exp === undefined ? undefined : Object.freeze({
    expires_ms: Number(h.inv_exp), sent_ms: Number(h.inv_sent ?? 0), by: h.inv_by ?? '', sends: Number(h.inv_sends ?? 0),
  });
  return Object.freeze({ ...m, rev: Number(h.rev ?? 1), represents: Object.freeze(splitList(h.represents)), invite });
}

export function encodeInvite(i: Invite): InviteFields {
  return { inv_exp: String(i.expires_ms), inv_sent: String(i.sent_ms), inv_by: i.by, inv_sends: String(i.sends) };
}

/** HGETALL of the roles and settings hashes -> the overlay (roles sorted by name). */
export function decodeOverlay(roles: Record<string, string>, settings: Record<string, string>): PolicyOverlay {
  const list = Object.keys(roles).sort().map((name): CustomRole => {
    const r = parseStored<Omit<CustomRole, 'name'>>(`custom role ${name}`, roles[name]!);
    return Object.freeze({ name, body: r.body, rev: r.rev, created_ms: r.created_ms, updated_ms: r.updated_ms, updated_by: r.updated_by });
  });
  const defaults = settings.default_roles === undefined ? null : parseStored<DefaultRolesOverride>('default roles', settings.default_roles);
  return Object.freeze({ roles: Object.freeze(list), defaultRoles: defaults, settingsRev: Number(settings.rev ?? 0) });
}

/** An audit entry as the stream keeps it: flat field/value strings, before/after as JSON. */
export function encodeAudit(a: AuditInput): string[] {
  return ['actor', a.actor, 'action', a.action, 'target', a.target, 'before', JSON.stringify(a.before ?? null),
    'after', JSON.stringify(a.after ?? null), 'request_id', a.request_id];
}

export function decodeAudit(id: string, flat: readonly string[]): AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return Object.freeze({
    id, at_ms: Number(f.at), actor: f.actor ?? '', action: f.action ?? '', target: f.target ?? '',
    before: parseStored(`audit ${id}`, f.before ?? 'null'), after: parseStored(`audit ${id}`, f.after ?? 'null'), request_id: f.request_id ?? '',
  });
}

/**
 * JSON with object keys sorted at every level, so equal values are equal text:
 * the write script recognises an unchanged role body or override by comparing strings.
 */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

function parseStored<T>(what: string, text: string): T {
  try { return JSON.parse(text) as T; } catch { throw new CorruptRecordError(`${what}: stored value is not JSON`); }
}
