/**
 * The admin API client (docs/admin-api.md): the console's only backend. The
 * bearer token lives in sessionStorage (gone with the tab, never in a cookie,
 * so no other site can ride on it).
 */

export type Access = 'yes' | 'conditional' | 'no';
export type Audience = 'internal' | 'partner' | 'any';
export type MemberStatus = 'pending' | 'active' | 'removed';

export interface Me {
  id: string;
  status: MemberStatus;
  roles: string[];
  groups: string[];
  can: Record<string, Access>;
}

export interface Invite { expires_ms: number; sent_ms: number; by: string; sends: number; expired: boolean }

export interface Member {
  id: string;
  status: MemberStatus;
  roles: string[];
  groups: string[];
  represents: string[];
  org: string | null;
  kind: string;
  email: string | null;
  invite?: Invite | null;
  rev: number;
  created_ms: number;
  updated_ms: number;
}

export interface MemberPage { items: Member[]; total: number; next_cursor: string | null }

export interface InviteBody {
  email: string;
  roles: string[];
  id?: string;
  groups?: string[];
  org?: string;
  kind?: string;
}

export type BulkAction = 'set_roles' | 'add_roles' | 'remove_roles' | 'remove';

export interface ResourceInfo { resource: string; actions: string[]; tags: string[] }

export interface RoleSummary {
  name: string;
  source: 'yaml' | 'custom';
  builtin: boolean;
  description?: string;
  audience?: Audience;
  members: number;
  rev?: number;
  /** A custom role the current YAML no longer compiles: why (it is out of force until fixed or deleted). */
  problems?: string;
}

export type GrantBody = string | { allow: string; when?: string | string[] };

export interface RoleBody {
  description?: string;
  audience?: Audience;
  login?: boolean;
  inherits?: string[];
  grants?: GrantBody[];
  except?: { tags?: string[]; resources?: string[] };
}

export interface MatrixCell {
  action: string;
  access: Access;
  /** Alternatives; every condition of one alternative must hold. */
  when?: string[][];
  excluded_by?: { by: string; name: string; role: string };
}

export interface MatrixRow { resource: string; tags: string[]; actions: MatrixCell[] }

/** GET /v1/roles/{name}: the summary (without the member count) plus body and matrix. */
export interface RoleDetail extends Omit<RoleSummary, 'members'> { members?: number; body: RoleBody; matrix: MatrixRow[] }

export interface DefaultRoles {
  internal: string[];
  partner: string[];
  source: { internal: 'yaml' | 'admin'; partner: 'yaml' | 'admin' };
  rev: number;
}

export interface AuditEntry {
  id: string;
  at_ms: number;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  request_id: string;
}

export interface AuditPage { items: AuditEntry[]; next_cursor: string | null }

/** An error answer of the API: `{error, reason, message, field?}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'rolegate.admin.token';

export const session = {
  token(): string | null { return sessionStorage.getItem(TOKEN_KEY); },
  set(token: string): void { sessionStorage.setItem(TOKEN_KEY, token); },
  clear(): void { sessionStorage.removeItem(TOKEN_KEY); },
};

interface CallOptions {
  body?: unknown;
  /** The revision the edit was based on (sent as `If-Match: "<rev>"`): a concurrent change answers 412 instead of being overwritten. */
  rev?: number;
}

async function call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.rev !== undefined) headers['if-match'] = `"${opts.rev}"`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? null : JSON.stringify(opts.body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network_error', 'The admin API could not be reached.');
  }
  const text = await res.text();
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  if (!res.ok) {
    const e = (json ?? {}) as { reason?: string; error?: string; message?: string; field?: string };
    throw new ApiError(res.status, e.reason ?? e.error ?? `http_${res.status}`, e.message ?? `${res.status} ${res.statusText}`, e.field);
  }
  return json as T;
}

const seg = encodeURIComponent;

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface MemberFilter { role?: string; status?: string; q?: string; cursor?: string; limit?: number }

export const api = {
  me: () => call<Me>('GET', '/v1/me'),

  members: (f: MemberFilter) => call<MemberPage>('GET', `/v1/members${query({ ...f })}`),
  invite: (body: InviteBody) => call<Member>('POST', '/v1/members', { body }),
  resend: (id: string) => call<Member>('POST', `/v1/members/${seg(id)}/resend`),
  setRoles: (m: Member, roles: string[]) => call<Member>('PATCH', `/v1/members/${seg(m.id)}`, { body: { roles }, rev: m.rev }),
  remove: (m: Member) => call<Member>('DELETE', `/v1/members/${seg(m.id)}`, { rev: m.rev }),
  bulk: (action: BulkAction, ids: string[], roles?: string[]) =>
    call<{ changed: number; members: Member[] }>('POST', '/v1/members/bulk', { body: roles ? { action, ids, roles } : { action, ids } }),

  resources: () => call<ResourceInfo[]>('GET', '/v1/resources'),
  roles: () => call<RoleSummary[]>('GET', '/v1/roles'),
  role: (name: string) => call<RoleDetail>('GET', `/v1/roles/${seg(name)}`),
  createRole: (name: string, body: RoleBody) => call<RoleDetail>('POST', '/v1/roles', { body: { name, ...body } }),
  cloneRole: (from: string, name: string, description?: string) =>
    call<RoleDetail>('POST', `/v1/roles/${seg(from)}/clone`, { body: description ? { name, description } : { name } }),
  updateRole: (name: string, rev: number, body: RoleBody) => call<RoleDetail>('PUT', `/v1/roles/${seg(name)}`, { body, rev }),
  deleteRole: (name: string, rev: number) => call<{ deleted: string; members: string[] }>('DELETE', `/v1/roles/${seg(name)}`, { rev }),

  defaultRoles: () => call<DefaultRoles>('GET', '/v1/settings/default-roles'),
  setDefaultRoles: (rev: number, body: { internal?: string[] | null; partner?: string[] | null }) =>
    call<DefaultRoles>('PUT', '/v1/settings/default-roles', { body, rev }),
  audit: (before?: string) => call<AuditPage>('GET', `/v1/audit${query({ limit: 50, before })}`),
};
