import { GatewayError } from '../errors.js';
import type { Principal, MemberStatus } from './types.js';

/** A claim value that travels upstream as a header: printable ASCII, no edge spaces, <= 256 chars. */
export const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

export interface MemberFacts {
  readonly status: MemberStatus;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly org?: string | undefined;
  readonly kind?: string | undefined;
}

export interface PrincipalClaimNames { readonly org: string; readonly kind: string; readonly groups: string }

/**
 * The principal as the gateway decides on it: identity from the token; status,
 * roles and groups from the store; org and kind from the token's claims when
 * present, else the store; the token's groups claim added to the store's.
 * Throws GatewayError('invalid_claim') for a claim no header could carry.
 */
export function assemblePrincipal(id: string, claims: Readonly<Record<string, unknown>>, member: MemberFacts | null, names: PrincipalClaimNames): Principal {
  const stored = member?.groups ?? [];
  const fromClaim = claimGroups(claims, names.groups);
  return {
    id,
    status: member?.status ?? 'unknown',
    org: claimString(claims, names.org) ?? member?.org,
    kind: claimString(claims, names.kind) ?? member?.kind,
    roles: member?.roles ?? [],
    groups: fromClaim === undefined || fromClaim.length === 0 ? stored : stored.length === 0 ? fromClaim : [...stored, ...fromClaim],
  };
}

export function claimString(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !HEADER_SAFE.test(v)) throw new GatewayError('invalid_claim', `claim "${name}" is not a header-safe string`);
  return v;
}

export function claimGroups(claims: Readonly<Record<string, unknown>>, name: string): readonly string[] | undefined {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((g) => typeof g === 'string' && HEADER_SAFE.test(g))) throw new GatewayError('invalid_claim', `claim "${name}" is not a list of group names`);
  return v as string[];
}
