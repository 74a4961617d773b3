import type { MemberPatch, RelationsPatch } from './types.js';

/**
 * What an id may look like, shared by the seed schema, the writer and the CLI.
 * No ',' (lists are stored comma-joined) and no '/' (it separates resource and id).
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,199}$';
export const REF_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9][A-Za-z0-9_.@:-]{0,199}$';
export const EMAIL_PATTERN = '^[^\\s@]+@[^\\s@]+$';
export const STATUSES = ['pending', 'active', 'removed'] as const;
export const KINDS = ['internal', 'partner'] as const;

const ID = new RegExp(ID_PATTERN);
const REF = new RegExp(REF_PATTERN);
const EMAIL = new RegExp(EMAIL_PATTERN);

/** A write the store refuses before touching Redis. */
export class InvalidAssignmentError extends Error {
  override readonly name = 'InvalidAssignmentError';
}

export function checkId(what: string, id: string): void {
  if (!ID.test(id)) throw new InvalidAssignmentError(`${what} "${id}" is not a valid id (letters, digits, _ . @ : -; at most 200 characters)`);
}

function checkIds(what: string, ids: readonly string[] | undefined): void {
  if (!ids) return;
  for (const id of ids) checkId(what, id);
  if (new Set(ids).size !== ids.length) throw new InvalidAssignmentError(`${what} list has duplicates`);
}

export function checkMemberPatch(id: string, p: MemberPatch): void {
  checkId('member id', id);
  if (p.status !== undefined && !STATUSES.includes(p.status)) throw new InvalidAssignmentError(`status must be one of ${STATUSES.join(', ')}, got "${p.status}"`);
  if (p.kind !== undefined && (p.kind as string) !== '' && !KINDS.includes(p.kind)) throw new InvalidAssignmentError(`kind must be one of ${KINDS.join(', ')}, got "${p.kind}"`);
  checkIds('role', p.roles);
  checkIds('group', p.groups);
  if (p.org) checkId('org', p.org);
  if (p.email && (p.email.length > 320 || !EMAIL.test(p.email))) throw new InvalidAssignmentError(`email "${p.email}" is not an address`);
}

/** Splits `resource/id`; throws on anything else. */
export function parseRef(ref: string): { resource: string; id: string } {
  if (!REF.test(ref)) throw new InvalidAssignmentError(`"${ref}" is not RESOURCE/ID (e.g. deals/d1)`);
  const slash = ref.indexOf('/');
  return { resource: ref.slice(0, slash), id: ref.slice(slash + 1) };
}

export function checkRelationsPatch(ref: string, p: RelationsPatch): void {
  parseRef(ref);
  checkIds('assignee', p.assignees);
  checkIds('collaborator', p.collaborators);
  if (p.partner) checkId('partner', p.partner);
}
