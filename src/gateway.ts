import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { GatewayError, errorBody, statusOf, type Reason } from './errors.js';
import type { Config } from './config/index.js';
import type { Authenticator, VerifiedToken } from './auth/index.js';
import { canonicalPath, hasMethodOverrideParam, type CanonicalTarget, type CompiledRoute, type RouteMatch } from './routes/index.js';
import { assemblePrincipal, HEADER_SAFE, consideredRoles, decide, resolveTarget, buildRecordFilter, type CompiledPolicy, type Condition, type MemberFacts, type Principal, type ResolvedTarget } from './policy/index.js';
import type { AssignmentStore } from './store/index.js';
import { forward, forwardFiltered, classifyUpstreamError, type HeaderHygiene, type Identity, type Upstream } from './proxy/index.js';
import type { ForwardHooks } from './proxy/forward.js';
import type { GatewayMetrics, Logger, DecisionLog, DecisionLogEntry } from './ops/index.js';
import { requestLineWriter } from './ops/logger.js';

export interface GatewayStages {
  config: Config;
  policy(): CompiledPolicy;
  auth: Authenticator;
  store: AssignmentStore;
  upstreams: ReadonlyMap<string, Upstream>;
  hygiene: HeaderHygiene;
  metrics: GatewayMetrics;
  logger: Logger;
  /** The candidate policy of shadow mode, if configured. */
  shadowPolicy(): CompiledPolicy | null;
  decisionLog: DecisionLog | null;
  tunnel(upstream: Upstream, req: IncomingMessage, socket: Duplex, head: Buffer, path: string, headers: readonly string[], requestId: string, onStatus: (status: number) => void): void;
}

/** What the pipeline decided about one request, before forwarding. */
interface Admission {
  route: CompiledRoute;
  target: CanonicalTarget;
  identity: Identity | null;
  action: string;
  /** List routes where the right is per record: the principal and the alternatives each record must meet. */
  filter: { principal: Principal; alternatives: Condition[][] } | null;
}

/** Per-request facts for the log line and metrics; filled as the request moves along. */
interface Trace {
  id: string;
  traceId: string | undefined;
  start: number;
  method: string;
  route: string;
  resource: string;
  action: string;
  principal: string | undefined;
  reason: Reason | 'allow';
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The request pipeline in order: canonicalize -> map -> authenticate ->
 * assemble the principal -> decide -> forward. Each step is a stage's public
 * function; this file holds the order and nothing else of theirs.
 */
export function createGateway(s: GatewayStages) {
  const { config, metrics, logger, hygiene } = s;
  const methods = new Set(config.http.methods);
  const canonicalOptions = { emptySegments: config.http.empty_segments, allowSemicolon: config.http.allow_semicolon, maxPathBytes: config.limits.max_path_bytes };
  const claimNames = config.auth.jwt.claims;
  const writeRequestLine = requestLineWriter(logger);
  const forwardHooks: ForwardHooks = { onUpstreamHeaders: (name, seconds) => metrics.upstream(name, seconds) };

  /**
   * Stays synchronous while auth, store and target resolution are (token cache
   * hit, memory store): a promise and a microtask per request otherwise. Each
   * stage that may wait continues in the next function.
   */
  function admit(req: IncomingMessage, trace: Trace, upgrade: boolean): Admission | Promise<Admission> {
    const method = req.method!;
    if (!methods.has(method)) throw new GatewayError('method_not_allowed', `method ${method} is not in http.methods`);
    const canonical = canonicalPath(req.url ?? '', canonicalOptions);
    const upgradeHeader = req.headers.upgrade;
    if (upgradeHeader !== undefined && !upgrade) throw new GatewayError('unsupported_upgrade');
    checkSingletons(req.rawHeaders);
    const policy = s.policy();
    const match = policy.routes.match(method, canonical.segments);
    if (match?.route.public) {
      trace.route = match.route.id;
      if (upgrade && !match.route.websocket) throw new GatewayError('websocket_not_allowed');
      checkMethodOverride(canonical, match.route, s.upstreams);
      return { route: match.route, target: canonical, identity: null, action: '', filter: null };
    }
    const verifying = s.auth.authenticate(req.headers.authorization, config.auth.cookie !== undefined ? req.headers.cookie : undefined);
    return verifying instanceof Promise
      ? verifying.then((token) => admitToken(policy, match, method, canonical, upgrade, trace, token))
      : admitToken(policy, match, method, canonical, upgrade, trace, verifying);
  }

  function admitToken(policy: CompiledPolicy, match: RouteMatch | null, method: string, canonical: CanonicalTarget, upgrade: boolean, trace: Trace, token: VerifiedToken): Admission | Promise<Admission> {
    trace.principal = token.subject;
    if (!match) {
      if (s.decisionLog?.wants(false)) s.decisionLog.write(decisionEntry(trace, canonical.path, null, 'no_route'));
      throw new GatewayError('no_route');
    }
    const route = match.route;
    trace.route = route.id;
    trace.resource = route.resource;
    checkMethodOverride(canonical, route, s.upstreams);
    if (upgrade && !route.websocket) throw new GatewayError('websocket_not_allowed');
    trace.action = route.actions.get(method)![0];
    const reading = s.store.getMember(token.subject);
    return reading instanceof Promise
      ? reading.then((member) => admitMember(policy, match, method, canonical, trace, token, member))
      : admitMember(policy, match, method, canonical, trace, token, reading);
  }

  function admitMember(policy: CompiledPolicy, match: RouteMatch, method: string, canonical: CanonicalTarget, trace: Trace, token: VerifiedToken, member: MemberFacts | null): Admission | Promise<Admission> {
    const principal = assemblePrincipal(token.subject, token.claims, member, claimNames);
    const pending = resolveTarget(policy, match, method, s.store);
    return pending instanceof Promise
      ? pending.then((target) => admitDecision(policy, match.route, method, canonical, trace, principal, target))
      : admitDecision(policy, match.route, method, canonical, trace, principal, pending);
  }

  function admitDecision(policy: CompiledPolicy, route: CompiledRoute, method: string, canonical: CanonicalTarget, trace: Trace, principal: Principal, target: ResolvedTarget): Admission {
    const action = target.action;
    const decision = decide(policy, principal, target);
    const allowed = decision === 'allow' || decision === 'filter';
    trace.reason = allowed ? 'allow' : decision;
    metrics.decision(route.resource, action, allowed ? 'allow' : 'deny', decision);
    if (s.decisionLog?.wants(allowed)) s.decisionLog.write(decisionEntry(trace, canonical.path, principal, decision));
    const shadow = s.shadowPolicy();
    if (shadow) shadowDecide(shadow, method, canonical, principal, route, action, allowed, decision);
    if (!allowed) throw new GatewayError(decision, undefined, { resource: route.resource, action });
    return { route, target: canonical, action, filter: decision === 'filter' ? { principal, alternatives: target.listFilter! } : null, identity: { user: principal.id, org: principal.org, kind: principal.kind, roles: consideredRoles(policy, principal).join(','), requestId: trace.id } };
  }

  /**
   * Decide again under the candidate policy; it never changes what the client
   * gets. Synchronous unless the target needs a store read: an async function
   * here cost a promise and a microtask on every request of a shadowed gateway.
   */
  let shadowLogBudget = 0;
  let shadowLogWindow = 0;
  function shadowDecide(shadow: CompiledPolicy, method: string, canonical: CanonicalTarget, principal: Principal, route: CompiledRoute, action: string, liveAllowed: boolean, live: string): void {
    const compare = (candidate: string): void => {
      const candidateAllowed = candidate === 'allow' || candidate === 'filter';
      metrics.shadow(route.resource, action, liveAllowed ? 'allow' : 'deny', candidateAllowed ? 'allow' : 'deny');
      if (candidateAllowed === liveAllowed) return;
      const now = Math.floor(Date.now() / 1000);
      if (now !== shadowLogWindow) { shadowLogWindow = now; shadowLogBudget = config.policy.shadow?.log_per_second ?? 0; }
      if (shadowLogBudget-- > 0) logger.warn({ route: route.id, principal: principal.id, live, candidate }, 'shadow policy disagrees');
    };
    const failed = (err: unknown): void => { logger.warn({ err: (err as Error).message }, 'shadow decision failed'); };
    try {
      const m = shadow.routes.match(method, canonical.segments);
      if (!m) return compare('no_route');
      if (m.route.public) return compare('allow');
      const pending = resolveTarget(shadow, m, method, s.store);
      if (pending instanceof Promise) pending.then((target) => compare(decide(shadow, principal, target))).catch(failed);
      else compare(decide(shadow, principal, pending));
    } catch (err) {
      failed(err);
    }
  }

  function decisionEntry(trace: Trace, path: string, p: Principal | null, reason: string): DecisionLogEntry {
    return {
      request_id: trace.id, trace_id: trace.traceId, method: trace.method, path, route: trace.route, resource: trace.resource, action: trace.action,
      principal: { id: p?.id ?? trace.principal ?? '', kind: p?.kind, org: p?.org, roles: p?.roles ?? [], groups: p?.groups ?? [], status: p?.status ?? 'unknown' },
      decision: reason === 'allow' || reason === 'filter' ? 'allow' : 'deny', reason,
    };
  }

  function log(trace: Trace, status: number, level: 'info' | 'warn' | 'error' = 'info', err?: unknown): void {
    const seconds = (performance.now() - trace.start) / 1000;
    const decision = trace.reason === 'allow' ? 'allow' : 'deny';
    // the method label stays bounded: anything outside http.methods (405s) is counted as OTHER
    metrics.request(trace.route, methods.has(trace.method) ? trace.method : 'OTHER', decision, status, seconds);
    if (!config.log.decisions && level === 'info') return;
    writeRequestLine(level, trace, decision, status, Math.round(seconds * 1e6) / 1000,
      err instanceof Error && !(err instanceof GatewayError) ? err : undefined,
      err instanceof GatewayError && err.message !== undefined ? err.message : undefined);
  }

  function newTrace(req: IncomingMessage): Trace {
    const tp = req.headers.traceparent;
    const traceId = typeof tp === 'string' && TRACEPARENT.test(tp) ? tp.slice(3, 35) : undefined;
    return { id: randomUUID(), traceId, start: performance.now(), method: req.method ?? '', route: 'none', resource: '', action: '', principal: undefined, reason: 'allow' };
  }

  function fail(trace: Trace, err: unknown): { reason: Reason; status: number; fields: Readonly<Record<string, string>> | undefined } {
    const e = err instanceof GatewayError ? err : new GatewayError('internal', (err as Error)?.message, undefined, { cause: err });
    trace.reason = e.reason;
    return { reason: e.reason, status: statusOf(e.reason), fields: e.fields };
  }

  /** Callbacks rather than promises end to end: no promise or microtask per request when admission is synchronous. */
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const trace = newTrace(req);
    try {
      const admitted = admit(req, trace, false);
      if (admitted instanceof Promise) admitted.then((a) => proxy(req, res, trace, a), (err: unknown) => refuse(req, res, trace, err));
      else proxy(req, res, trace, admitted);
    } catch (err) {
      refuse(req, res, trace, err);
    }
  }

  /** Forward an admitted request; its log line is written once the client has the answer. */
  function proxy(req: IncomingMessage, res: ServerResponse, trace: Trace, a: Admission): void {
    try {
      const upstream = s.upstreams.get(a.route.upstream)!;
      const headers = hygiene.request(req.rawHeaders, a.identity, trace.id, connectionFacts(req));
      const path = a.target.path + a.target.query;
      const forwarded = (err?: unknown): void => {
        if (err === undefined) return log(trace, res.statusCode);
        const f = classifyUpstreamError(err);
        if (f.clientAborted) return log(trace, 499);
        if (f.error.reason !== 'body_too_large' && !f.error.reason.startsWith('list_')) metrics.upstreamError(upstream.name, f.kind);
        refuse(req, res, trace, f.error);
      };
      if (a.filter) {
        buildRecordFilter(a.filter.principal, a.route.resource, a.filter.alternatives, s.store).then(
          (visible) => forwardFiltered(upstream, req, res, path, headers, hygiene, trace.id, a.route.list!, visible, forwardHooks).then(() => forwarded(), forwarded),
          (err: unknown) => refuse(req, res, trace, err),
        );
      } else {
        forward(upstream, req, res, path, headers, hygiene, trace.id, a.route.maxBodyBytes || config.limits.max_body_bytes, forwardHooks, forwarded);
      }
    } catch (err) {
      refuse(req, res, trace, err);
    }
  }

  /** The error answer (or, once the upstream's headers went out, a cut connection) and its log line. */
  function refuse(req: IncomingMessage, res: ServerResponse, trace: Trace, err: unknown): void {
    const f = fail(trace, err);
    if (res.headersSent) {
      res.destroy();
      return log(trace, f.status, 'warn', err);
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store', [hygiene.names.requestId]: trace.id };
    if (f.status === 401) headers['www-authenticate'] = wwwAuthenticate(f.reason);
    if (f.reason === 'method_not_allowed') headers.allow = config.http.methods.join(', ');
    // a request whose body we will not read must not leave the connection in an unknown state
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) headers.connection = 'close';
    res.writeHead(f.status, headers);
    res.end(errorBody(f.reason, trace.id, f.fields));
    log(trace, f.status, f.status >= 500 ? 'error' : 'info', err);
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const trace = newTrace(req);
    socket.on('error', () => socket.destroy());
    try {
      if (String(req.headers.upgrade).toLowerCase() !== 'websocket') throw new GatewayError('unsupported_upgrade');
      const admitted = admit(req, trace, true);
      const a = admitted instanceof Promise ? await admitted : admitted;
      const upstream = s.upstreams.get(a.route.upstream)!;
      const headers = hygiene.request(req.rawHeaders, a.identity, trace.id, connectionFacts(req));
      // log what the client actually got (101, the upstream's refusal, 502/504), once the upstream answered
      s.tunnel(upstream, req, socket, head, a.target.path + a.target.query, headers, trace.id, (status) => log(trace, status));
    } catch (err) {
      const f = fail(trace, err);
      const body = errorBody(f.reason, trace.id, f.fields);
      const extra = f.status === 401 ? `WWW-Authenticate: ${wwwAuthenticate(f.reason)}\r\n` : '';
      socket.end(`HTTP/1.1 ${f.status} ${f.status === 401 ? 'Unauthorized' : f.status === 403 ? 'Forbidden' : 'Bad Request'}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`);
      log(trace, f.status, 'info', err);
    }
  }

  return { onRequest, onUpgrade };
}

/** RFC 6750 §3.1: a request that presented no token gets no error code. */
function wwwAuthenticate(reason: Reason): string {
  return reason === 'missing_token' ? 'Bearer' : `Bearer error="invalid_token", error_description="${reason}"`;
}

/**
 * Node keeps only the first Authorization and Host in req.headers; a second copy
 * would still be forwarded in rawHeaders, so refuse the request (RFC 9112 §3.2 for Host).
 */
function checkSingletons(raw: readonly string[]): void {
  let auth = 0;
  let host = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 13 && n.toLowerCase() === 'authorization') auth++;
    else if (n.length === 4 && n.toLowerCase() === 'host') host++;
  }
  if (auth > 1) throw new GatewayError('duplicate_authorization');
  if (host > 1) throw new GatewayError('bad_framing', 'more than one Host header');
}

function checkMethodOverride(target: CanonicalTarget, route: CompiledRoute, upstreams: ReadonlyMap<string, Upstream>): void {
  if (target.query.length > 1 && hasMethodOverrideParam(target.query) && !upstreams.get(route.upstream)?.config.ignores_method_override) {
    throw new GatewayError('method_override');
  }
}

function connectionFacts(req: IncomingMessage) {
  const host = req.headers.host;
  return {
    remoteAddress: req.socket.remoteAddress ?? '',
    proto: (req.socket as { encrypted?: boolean }).encrypted ? 'https' as const : 'http' as const,
    host: host !== undefined && HEADER_SAFE.test(host) ? host : undefined,
  };
}
