import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { AdminConfig, ClaimNames } from '../config/index.js';
import type { Authenticator } from '../auth/index.js';
import { errorBody, GatewayError, isGatewayError, REASONS } from '../errors.js';
import { assemblePrincipal } from '../policy/index.js';
import { canonicalPath } from '../routes/index.js';
import { InvalidAssignmentError, type AdminStore } from '../store/index.js';
import type { AdminService, Caller, IdempotencyRequest, MemberListQuery, Reply } from './service.js';

export interface AdminLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AdminServerOptions {
  readonly config: AdminConfig;
  readonly auth: Authenticator;
  readonly claims: ClaimNames;
  readonly store: AdminStore;
  readonly service: AdminService;
  readonly logger: AdminLogger;
  /** Folder of the built console (index.html and its assets); absent: API only. */
  readonly consoleDir?: string | undefined;
  /** `limits.max_path_bytes`: the request-target limit, as at the gateway. */
  readonly maxPathBytes: number;
  /** Parser limits and timeouts, the same as the gateway's listener. */
  readonly http?: ServerOptions | undefined;
  /** Told of every call: the endpoint template (`none` when nothing matched, `console` for its files) and the status. */
  readonly onResponse?: ((endpoint: string, status: number) => void) | undefined;
}

/** What one API call gets: the caller, the path's parameters, the parsed body and the concurrency headers. */
interface Call {
  readonly caller: Caller;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly ifMatch: number | undefined;
  readonly idem: IdempotencyRequest | undefined;
}

type Handler = (s: AdminService, c: Call) => Promise<Reply>;
interface ApiRoute { readonly method: string; readonly path: string; readonly handler: Handler; readonly body?: 'json' | 'none' }
interface CompiledApiRoute extends ApiRoute { readonly pattern: RegExp; readonly endpoint: string }

/** The API, in one table (docs/admin-api.md). Routes are tried in order; `bulk` comes before `{id}`. */
const API: readonly CompiledApiRoute[] = ([
  { method: 'GET', path: '/v1/me', handler: (s, c) => s.me(c.caller) },
  { method: 'POST', path: '/v1/me/accept', body: 'none', handler: (s, c) => s.accept(c.caller, c.idem) },
  { method: 'GET', path: '/v1/members', handler: (s, c) => s.listMembers(c.caller, memberQuery(c.query)) },
  { method: 'POST', path: '/v1/members', body: 'json', handler: (s, c) => s.invite(c.caller, c.body, c.idem) },
  { method: 'POST', path: '/v1/members/bulk', body: 'json', handler: (s, c) => s.bulk(c.caller, c.body, c.idem) },
  { method: 'GET', path: '/v1/members/{id}', handler: (s, c) => s.getMember(c.caller, c.params[0]!) },
  { method: 'PATCH', path: '/v1/members/{id}', body: 'json', handler: (s, c) => s.patchMember(c.caller, c.params[0]!, c.body, c.ifMatch, c.idem) },
  { method: 'DELETE', path: '/v1/members/{id}', handler: (s, c) => s.removeMember(c.caller, c.params[0]!, c.ifMatch, c.idem) },
  { method: 'POST', path: '/v1/members/{id}/resend', body: 'none', handler: (s, c) => s.resend(c.caller, c.params[0]!, c.idem) },
  { method: 'GET', path: '/v1/resources', handler: (s, c) => s.listResources(c.caller) },
  { method: 'GET', path: '/v1/roles', handler: (s, c) => s.listRoles(c.caller) },
  { method: 'POST', path: '/v1/roles', body: 'json', handler: (s, c) => s.createRole(c.caller, c.body, c.idem) },
  { method: 'GET', path: '/v1/roles/{name}', handler: (s, c) => s.getRole(c.caller, c.params[0]!) },
  { method: 'PUT', path: '/v1/roles/{name}', body: 'json', handler: (s, c) => s.updateRole(c.caller, c.params[0]!, c.body, c.ifMatch, c.idem) },
  { method: 'DELETE', path: '/v1/roles/{name}', handler: (s, c) => s.deleteRole(c.caller, c.params[0]!, c.ifMatch, c.idem) },
  { method: 'POST', path: '/v1/roles/{name}/clone', body: 'json', handler: (s, c) => s.cloneRole(c.caller, c.params[0]!, c.body, c.idem) },
  { method: 'GET', path: '/v1/settings/default-roles', handler: (s, c) => s.getDefaultRoles(c.caller) },
  { method: 'PUT', path: '/v1/settings/default-roles', body: 'json', handler: (s, c) => s.setDefaultRoles(c.caller, c.body, c.ifMatch, c.idem) },
  { method: 'GET', path: '/v1/relations/{resource}/{id}', handler: (s, c) => s.getRelations(c.caller, `${c.params[0]}/${c.params[1]}`) },
  { method: 'PUT', path: '/v1/relations/{resource}/{id}', body: 'json', handler: (s, c) => s.setRelations(c.caller, `${c.params[0]}/${c.params[1]}`, c.body, c.idem) },
  { method: 'GET', path: '/v1/audit', handler: (s, c) => s.listAudit(c.caller, intParam(c.query, 'limit', 50, 1, 500), c.query.get('before') ?? undefined) },
] satisfies ApiRoute[]).map((r) => ({
  ...r,
  // `{name}` matches one (already decoded) segment
  pattern: new RegExp(`^${r.path.replace(/\{[a-z]+\}/g, '([^/]+)')}$`),
  endpoint: `${r.method} ${r.path}`,
}));

const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.map': 'application/json' };

/**
 * The admin listener: the console's files and the JSON API. Every API call is
 * authenticated with the gateway's JWT configuration (bearer only: a cookie
 * would let another site's page call it) and authorized by the policy engine
 * in AdminService. GatewayErrors become JSON here, in one place.
 */
export function createAdminServer(o: AdminServerOptions): Server {
  const assets = loadConsole(o.consoleDir);
  // Host is checked in checkSingletons, so a request without one gets our JSON error rather than Node's empty 400
  return createServer({ ...o.http, requireHostHeader: false, joinDuplicateHeaders: false }, (req, res) => {
    const requestId = randomUUID();
    const start = performance.now();
    const seen: { actor?: string; endpoint: string } = { endpoint: 'none' };
    let reason: string | undefined;
    handle(req, res, requestId, seen)
      .catch((err: unknown) => { reason = fail(res, err, requestId, o.logger); })
      .finally(() => {
        o.onResponse?.(seen.endpoint, res.statusCode);
        o.logger.info({ admin: true, method: req.method, endpoint: seen.endpoint, path: (req.url ?? '').split('?')[0], status: res.statusCode, actor: seen.actor, reason, request_id: requestId, ms: Math.round(performance.now() - start) }, 'admin request');
      });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string, seen: { actor?: string; endpoint: string }): Promise<void> {
    checkSingletons(req.rawHeaders);
    // the gateway's canonicalization: dot segments, encoded separators, bad escapes are a 400 here too
    const target = canonicalPath(req.url ?? '', { emptySegments: 'reject', allowSemicolon: false, maxPathBytes: o.maxPathBytes });
    // segments are decoded and never hold '/' (an encoded one is refused), so joining them is unambiguous
    const url = { pathname: `/${target.segments.join('/')}`, searchParams: new URLSearchParams(target.query.slice(1)) };
    const method = req.method ?? '';
    if (!url.pathname.startsWith('/v1/')) { seen.endpoint = 'console'; return serveConsole(res, method, url.pathname, assets); }
    let route: CompiledApiRoute | undefined;
    let params: string[] = [];
    let pathKnown = false;
    for (const r of API) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      pathKnown = true;
      if (r.method !== method) continue;
      route = r;
      params = m.slice(1);
      break;
    }
    if (!route) throw new GatewayError(pathKnown ? 'method_not_allowed' : 'not_found', pathKnown ? `${method} is not allowed on ${url.pathname}` : `no admin endpoint ${url.pathname}`);

    seen.endpoint = route.endpoint;
    const caller = await authenticate(req, requestId, (id) => { seen.actor = id; });
    const raw = await readBody(req, o.config.max_body_bytes);
    const body = route.body === 'json' ? parseJson(req, raw) : raw.length > 0 ? refuseBody() : undefined;
    const idem = idempotency(req, caller, method, url.pathname, raw);
    const reply = await route.handler(o.service, { caller, params, query: url.searchParams, body, ifMatch: parseIfMatch(req.headers['if-match']), idem });
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...SECURITY_HEADERS,
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-request-id': requestId,
      ...(reply.etag ? { etag: reply.etag } : {}),
      ...(reply.replay ? { 'idempotent-replay': 'true' } : {}),
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  async function authenticate(req: IncomingMessage, requestId: string, identified: (id: string) => void): Promise<Caller> {
    const token = await o.auth.authenticate(req.headers.authorization, undefined);
    identified(token.subject);
    const member = await o.store.getMember(token.subject);
    return { principal: assemblePrincipal(token.subject, token.claims, member, o.claims), claims: token.claims, requestId };
  }
}

/** JSON error for any failure: a GatewayError as its reason says (4xx detail is ours and safe to show), anything else 500 and a log line. */
function fail(res: ServerResponse, err: unknown, requestId: string, logger: AdminLogger): string {
  let g: GatewayError;
  if (isGatewayError(err)) g = err;
  else if (err instanceof InvalidAssignmentError) g = new GatewayError('invalid_body', err.message);
  else {
    logger.error({ err: (err as Error)?.stack ?? String(err), request_id: requestId }, 'admin: unexpected error');
    g = new GatewayError('internal');
  }
  if (g.reason === 'store_unavailable') logger.warn({ err: g.message, request_id: requestId }, 'admin: store unavailable; nothing was changed');
  const exposeDetail = g.status < 500 && g.message !== REASONS[g.reason].message;
  const body = errorBody(g.reason, requestId, { ...g.fields, ...(exposeDetail ? { message: g.message } : {}) });
  if (res.headersSent) { res.destroy(); return g.reason; }
  res.writeHead(g.status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': requestId, 'content-length': Buffer.byteLength(body),
    ...(g.status === 405 ? { allow: 'GET, POST, PUT, PATCH, DELETE' } : {}),
    ...(g.status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
  });
  res.end(body);
  return g.reason;
}

/** Exactly one Host, at most one Authorization: two would let parts of a system disagree on which counts. */
function checkSingletons(raw: readonly string[]): void {
  let host = 0;
  let authorization = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (n === 'host') host++;
    else if (n === 'authorization') authorization++;
  }
  if (host !== 1) throw new GatewayError('bad_framing', host === 0 ? 'no Host header' : 'more than one Host header');
  if (authorization > 1) throw new GatewayError('duplicate_authorization');
}

/** Reads the whole body up to `max` bytes (a declared larger length is refused before reading). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) { req.resume(); throw new GatewayError('body_too_large', `the body is limited to ${max} bytes`); }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) { req.destroy(); throw new GatewayError('body_too_large', `the body is limited to ${max} bytes`); }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(req: IncomingMessage, raw: Buffer): unknown {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new GatewayError('unsupported_media_type', `send the body as application/json (got "${type || 'none'}")`);
  try { return JSON.parse(raw.toString('utf8')) as unknown; } catch (e) { throw new GatewayError('invalid_body', `the body is not JSON: ${(e as Error).message}`, { field: '/' }); }
}

function refuseBody(): never {
  throw new GatewayError('invalid_body', 'this call takes no body', { field: '/' });
}

/** `"3"` -> 3. Anything else is refused: a malformed precondition must not pass as "none". */
function parseIfMatch(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^"(\d{1,15})"$/.exec(v.trim());
  if (!m) throw new GatewayError('version_mismatch', 'If-Match must be a quoted revision such as "3" (from the ETag)');
  return Number(m[1]);
}

/** The Idempotency-Key scoped to the caller (one caller cannot replay another's), with a digest of the request it was first used for. */
function idempotency(req: IncomingMessage, caller: Caller, method: string, path: string, raw: Buffer): IdempotencyRequest | undefined {
  const key = req.headers['idempotency-key'];
  if (key === undefined || method === 'GET') return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) throw new GatewayError('invalid_body', 'Idempotency-Key must be 1-200 printable ASCII characters', { field: 'Idempotency-Key' });
  const fingerprint = createHash('sha256').update(method).update('\0').update(path).update('\0').update(raw).digest('base64url');
  return { key: `${caller.principal.id}\0${key}`, fingerprint, ttlMs: IDEMPOTENCY_TTL_MS };
}

function memberQuery(q: URLSearchParams): MemberListQuery {
  const one = (name: string) => {
    const all = q.getAll(name);
    if (all.length > 1) throw new GatewayError('invalid_query', `"${name}" is given more than once`, { field: name });
    return all[0] === '' ? undefined : all[0];
  };
  const status = one('status');
  if (status !== undefined && !['pending', 'active', 'removed'].includes(status)) throw new GatewayError('invalid_query', 'status must be pending, active or removed', { field: 'status' });
  return { role: one('role'), status, kind: one('kind'), org: one('org'), group: one('group'), q: one('q'), cursor: one('cursor'), limit: intParam(q, 'limit', 100, 1, 500) };
}

function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new GatewayError('invalid_query', `${name} must be an integer from ${min} to ${max}`, { field: name });
  return n;
}

interface Asset { readonly type: string; readonly bytes: Buffer }

/** The console's files, read once at start: nothing on disk is looked up by a request's path. */
function loadConsole(dir: string | undefined): ReadonlyMap<string, Asset> {
  const out = new Map<string, Asset>();
  if (!dir) return out;
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const name of names) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) out.set(name, { type, bytes: readFileSync(join(dir, name)) });
  }
  return out;
}

function serveConsole(res: ServerResponse, method: string, path: string, assets: ReadonlyMap<string, Asset>): void {
  if (method !== 'GET' && method !== 'HEAD') throw new GatewayError('method_not_allowed', `${method} is not allowed on ${path}`);
  const name = path === '/' ? 'index.html' : path.startsWith('/assets/') ? path.slice('/assets/'.length) : undefined;
  const asset = name === undefined ? undefined : assets.get(name);
  if (!asset) throw new GatewayError('not_found', assets.size === 0 ? 'the console is not built (npm run build)' : `no such page ${path}`);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': asset.type,
    'content-security-policy': CONSOLE_CSP,
    'cache-control': 'no-cache',
    'content-length': asset.bytes.length,
  });
  res.end(method === 'HEAD' ? undefined : asset.bytes);
}

