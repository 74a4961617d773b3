import type { HeadersConfig } from '../config/index.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus proxy-era ones: never forwarded in either direction. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

const HOP_BY_HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP);

/**
 * Client copies of headers an upstream may trust for identity, client address
 * or routing, and method overrides that would change what was authorized.
 */
const SPOOFABLE = [
  'forwarded', 'x-real-ip', 'x-original-url', 'x-rewrite-url', 'x-forwarded-uri', 'x-original-uri', 'x-client-ip', 'true-client-ip',
  'x-http-method-override', 'x-method-override', 'x-http-method',
  'host', 'expect', 'content-length-override',
];

export interface ConnectionFacts { remoteAddress: string; proto: 'http' | 'https'; host: string | undefined }
export interface Identity { user: string; org: string | undefined; kind: string | undefined; roles: string; requestId: string }

/** Lowercase, with `_` and `.` spelled as `-`, so `X_RoleGate.User` and `x-rolegate-user` compare equal. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-');
}

/**
 * Builds the function that turns a client's raw headers into the flat list sent
 * upstream. Order matters: drop hop-by-hop and every name listed in Connection,
 * then drop spoofable and identity-namespace headers, and only then add ours,
 * so no client header can make the gateway drop or replace identity.
 */
export function compileHeaderHygiene(cfg: HeadersConfig) {
  const drop = new Set([...HOP_BY_HOP, ...SPOOFABLE, ...cfg.strip.map((s) => s.toLowerCase())]);
  if (!cfg.forward_authorization) drop.add('authorization');
  const prefix = normalizeName(cfg.prefix);
  const names = {
    user: `${cfg.prefix}user`, org: `${cfg.prefix}org`, kind: `${cfg.prefix}kind`,
    roles: `${cfg.prefix}roles`, requestId: `${cfg.prefix}request-id`,
  };

  // undici hands response header names lowercased: ours must be the same key to replace an upstream's copy
  const requestIdKey = names.requestId.toLowerCase();

  const isDropped = (lower: string): boolean => {
    if (drop.has(lower)) return true;
    // only names spelled with `_` or `.` pay for normalization; CGI-style upstreams read `X_Real_IP` as `X-Real-IP`
    if (!lower.includes('_') && !lower.includes('.')) return lower.startsWith(prefix) || lower.startsWith('x-forwarded');
    const n = normalizeName(lower);
    return drop.has(n) || n.startsWith(prefix) || n.startsWith('x-forwarded');
  };

  /**
   * Names a Connection value lists are hop-by-hop for this message only. Those
   * dropped anyway (keep-alive, close, upgrade: nearly every value sent) need no second pass.
   */
  const dropListed = (out: string[], connection: string): void => {
    let listed: Set<string> | null = null;
    for (const t of connection.split(',')) {
      const name = t.trim().toLowerCase();
      if (name && !isDropped(name)) (listed ??= new Set()).add(name);
    }
    if (listed === null) return;
    let kept = 0;
    for (let i = 0; i < out.length; i += 2) {
      if (listed.has(out[i]!.toLowerCase())) continue;
      out[kept++] = out[i]!;
      out[kept++] = out[i + 1]!;
    }
    out.length = kept;
  };

  return {
    names,
    /** Flat [name, value, ...] list for undici. `identity` null on public routes (request id only). */
    request(raw: readonly string[], identity: Identity | null, requestId: string, conn: ConnectionFacts): string[] {
      const out: string[] = [];
      let connection: string | null = null;
      for (let i = 0; i < raw.length; i += 2) {
        const lower = raw[i]!.toLowerCase();
        if (isDropped(lower)) {
          if (lower === 'connection') connection = connection === null ? raw[i + 1]! : `${connection},${raw[i + 1]!}`;
          continue;
        }
        out.push(raw[i]!, raw[i + 1]!);
      }
      if (connection !== null) dropListed(out, connection);
      if (identity) {
        out.push(names.user, identity.user, names.roles, identity.roles);
        if (identity.org !== undefined) out.push(names.org, identity.org);
        if (identity.kind !== undefined) out.push(names.kind, identity.kind);
      }
      out.push(names.requestId, requestId, 'x-forwarded-for', conn.remoteAddress, 'x-forwarded-proto', conn.proto);
      if (conn.host !== undefined) out.push('x-forwarded-host', conn.host);
      return out;
    },
    /**
     * Upstream response headers minus hop-by-hop ones and those the upstream's
     * Connection lists, plus our request id (it wins over an upstream's), as a new
     * object. Built rather than `delete`d from undici's object: deleting turns it
     * into a slow dictionary that writeHead then walks. Carrying the id here, not
     * in an earlier setHeader, keeps writeHead on its fast path (no per-header merge).
     */
    response(headers: Record<string, string | string[] | undefined>, requestId: string): Record<string, string | string[]> {
      const conn = headers.connection;
      const listed = conn === undefined ? null : String(conn).toLowerCase().split(',').map((t) => t.trim());
      const out: Record<string, string | string[]> = {};
      for (const name in headers) {
        const v = headers[name];
        if (v === undefined || HOP_BY_HOP_SET.has(name) || (listed !== null && listed.includes(name))) continue;
        out[name] = v;
      }
      out[requestIdKey] = requestId;
      return out;
    },
  };
}

export type HeaderHygiene = ReturnType<typeof compileHeaderHygiene>;
