import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The shipped portal policy: the admin suites test the admin resources it declares. */
export const PORTAL_POLICY = readFileSync(fileURLToPath(new URL('../../../policies/portal.yaml', import.meta.url)), 'utf8');

/** Seed lines (under `members:`) for the Acme team both admin suites start from: two owners, one of each other built-in role. */
export const ACME_TEAM = `
  u-olivia: { status: active, roles: [owner], org: acme, kind: internal, email: olivia@acme.test }
  u-oscar:  { status: active, roles: [owner], org: acme, kind: internal, email: oscar@acme.test }
  u-adam:   { status: active, roles: [admin], org: acme, kind: internal, email: adam@acme.test }
  u-vera:   { status: active, roles: [viewer], org: acme, kind: internal, email: vera@acme.test }
  u-max:    { status: active, roles: [member], org: acme, kind: internal, email: max@acme.test }
  u-mia:    { status: active, roles: [manager], org: acme, kind: internal, email: mia@acme.test }
`;

/** A small client for the admin API in tests: `api.as('u-olivia').post(path, body)` with a fresh token per caller. */
export interface AdminResponse { status: number; body: Record<string, any>; headers: Headers }
type Send = (path: string, body?: unknown, headers?: Record<string, string>) => Promise<AdminResponse>;
export interface AdminCaller { get: Send; post: Send; put: Send; patch: Send; del: Send }
export interface AdminClient { url: string; as(sub: string, claims?: Record<string, unknown>): AdminCaller }

export function adminClient(url: string, token: (sub: string, claims: Record<string, unknown>) => Promise<string>): AdminClient {
  return {
    url,
    as(sub, claims = {}) {
      const send = (method: string): Send => async (path, body, headers = {}) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${await token(sub, claims)}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        let parsed: Record<string, any> = {};
        try { parsed = JSON.parse(text) as Record<string, any>; } catch { parsed = { text }; }
        return { status: res.status, body: parsed, headers: res.headers };
      };
      return { get: send('GET'), post: send('POST'), put: send('PUT'), patch: send('PATCH'), del: send('DELETE') };
    },
  };
}
