import { createServer, type Server, type ServerOptions } from 'node:http';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { errorBody, statusOf, type Reason } from './errors.js';
import { formatDiagnostic, LoadError, type Config } from './config/index.js';
import { buildAuthenticator } from './auth/index.js';
import { fileURLToPath } from 'node:url';
import { compileWithOverlay, describeRejection, overlayKey, policyFiles, readPolicySources, type CompiledPolicy, type PolicySources } from './policy/index.js';
import { buildAssignmentStore, buildAdminStore, EMPTY_OVERLAY, type AdminStore, type AssignmentStore, type PolicyOverlay } from './store/index.js';
import { AdminService, createAdminServer, PolicyViews } from './admin/index.js';
import { buildUpstreamPools, closeUpstreamPools, compileHeaderHygiene, createWebSocketTunnel } from './proxy/index.js';
import { GatewayMetrics, createLogger, createOpsServer, createDecisionLog, type Logger } from './ops/index.js';
import { createGateway } from './gateway.js';

export interface StartOptions {
  logger?: Logger;
  /** A store built by the caller (the demo seeds its own); default: from config. */
  store?: AssignmentStore;
  /** The admin API's store, when `store` is given and the admin listener is on; default: from config. */
  adminStore?: AdminStore;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (the CLI does; tests do not). */
  signals?: boolean;
}

export interface RunningGateway {
  readonly url: string;
  readonly opsUrl: string;
  /** Set when the admin listener is configured. */
  readonly adminUrl: string | undefined;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  policy(): CompiledPolicy;
  reloadPolicy(): boolean;
  close(): Promise<void>;
}

/** The one wiring entry: build every stage once from config, then listen. */
export async function startGateway(config: Config, opts: StartOptions = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger(config.log.level);
  const metrics = new GatewayMetrics();
  const loadOptions = { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods };
  // YAML is read once per reload; the admin overlay (custom roles, default roles) is compiled in beside it
  let sources = readPolicySources(config.policy.paths);
  const readShadow = (): PolicySources | null => config.policy.shadow ? readPolicySources(config.policy.shadow.paths) : null;
  let shadowSources = readShadow();
  let overlay: PolicyOverlay = EMPTY_OVERLAY;
  /** `live`: the policy in force (the shadow candidate is compiled the same way, but its counts are not reported). */
  const compile = (from: PolicySources, live: boolean): CompiledPolicy => {
    const c = compileWithOverlay(from, loadOptions, overlay);
    for (const r of c.rejected) logger.error({ role: r.role, problems: describeRejection(r) }, 'custom role left out of the policy: it does not compile against the YAML');
    const rejected = c.rejected.filter((r) => r.role !== 'default_roles').length;
    if (live) metrics.customRolesCompiled(overlay.roles.length - rejected, rejected);
    return c.policy;
  };
  let policy = compile(sources, true);
  metrics.policyLoaded(policy.version, policy.hash);
  metrics.policyReloads.labels('success').inc(0);
  metrics.policyReloads.labels('failure').inc(0);
  let shadow = shadowSources && compile(shadowSources, false);
  const decisionLog = createDecisionLog(config.log.decision_log);

  const store = opts.store ?? buildAssignmentStore(config, metrics.storeHooks(), logger);
  // a failed start must release the store's connections, or they keep the process alive
  const auth = await buildAuthenticator(config.auth, { onVerification: (r) => metrics.verification(r), logger })
    .catch(async (err: unknown) => { await store.close(); throw err; });
  const upstreams = buildUpstreamPools(config.upstreams);
  const tunnel = createWebSocketTunnel((err, upstream) => {
    metrics.upstreamError(upstream, 'websocket');
    logger.warn({ upstream, err: err.message }, 'websocket upstream error');
  });
  const gateway = createGateway({
    config, policy: () => policy, shadowPolicy: () => shadow, decisionLog, auth, store, upstreams, hygiene: compileHeaderHygiene(config.headers), metrics, logger,
    tunnel: tunnel.tunnel,
  });

  /** Compile off the request path and swap whole; a bad edit keeps the last good policy. `yaml`: re-read the files too. */
  const recompile = (yaml: boolean, why: string): boolean => {
    try {
      const nextSources = yaml ? readPolicySources(config.policy.paths) : sources;
      const nextShadowSources = yaml ? readShadow() : shadowSources;
      const next = compile(nextSources, true);
      const nextShadow = nextShadowSources && compile(nextShadowSources, false);
      [sources, shadowSources, policy, shadow] = [nextSources, nextShadowSources, next, nextShadow];
      metrics.policyLoaded(next.version, next.hash);
      metrics.policyReloads.labels('success').inc();
      logger.info({ version: next.version, hash: next.hash.slice(0, 12), why, custom_roles: overlay.roles.length }, 'policy reloaded');
      return true;
    } catch (err) {
      metrics.policyReloads.labels('failure').inc();
      const errors = err instanceof LoadError ? err.diagnostics.map(formatDiagnostic) : [(err as Error).message];
      logger.error({ errors, why }, 'policy reload failed; the last good policy stays in force');
      return false;
    }
  };
  const reloadPolicy = (): boolean => recompile(true, 'policy files');

  // The overlay lives in the store: read it at start and whenever any instance changes it. Reads are
  // serialised and coalesced, so a burst of admin writes costs one or two recompilations.
  // A failed read retries on a backoff timer too: a change notice may never come (the subscriber can be up before the
  // command connection, which fails reads at once rather than queue them).
  let overlayLoaded = store.getPolicyOverlay === undefined;
  let overlayRead: Promise<void> | undefined;
  let overlayAgain = false;
  let overlayRetry: NodeJS.Timeout | undefined;
  let overlayBackoffMs = 0;
  let stopped = false;
  const refreshOverlay = (): Promise<void> => {
    if (overlayRead) { overlayAgain = true; return overlayRead; }
    clearTimeout(overlayRetry);
    overlayRead = (async () => {
      do {
        overlayAgain = false;
        try {
          const next = await store.getPolicyOverlay!();
          overlayLoaded = true;
          overlayBackoffMs = 0;
          // a notice that changed nothing here (the first read of an empty overlay, a resubscribe) costs no recompilation
          if (overlayKey(next) === overlayKey(overlay)) continue;
          overlay = next;
          recompile(false, 'custom roles');
        } catch (err) {
          overlayLoaded = false;
          if (overlayBackoffMs === 0) logger.warn({ err: (err as Error).message }, 'cannot read custom roles from the store; members holding them are denied until it answers');
          overlayBackoffMs = Math.min(5000, Math.max(100, overlayBackoffMs * 2));
          if (!stopped) { overlayRetry = setTimeout(() => { void refreshOverlay(); }, overlayBackoffMs); overlayRetry.unref(); }
        }
      } while (overlayAgain);
    })().finally(() => { overlayRead = undefined; });
    return overlayRead;
  };
  if (store.getPolicyOverlay) {
    store.watchPolicyOverlay?.(() => { void refreshOverlay(); });
    await refreshOverlay();
  }

  const server = createServer(httpServerOptions(config), (req, res) => { void gateway.onRequest(req, res); });
  server.maxConnections = config.limits.max_connections || Infinity;
  server.on('upgrade', (req, socket, head) => { void gateway.onUpgrade(req, socket, head); });
  guardParser(server, logger);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });

  const ready = { policy: () => policy !== undefined, custom_roles: () => overlayLoaded, store: () => store.healthy(), keys: () => auth.ready(), upstreams: () => upstreams.size > 0 };
  const ops = createOpsServer(metrics, Object.entries(ready).map(([name, ok]) => ({ name, ok })));

  let adminStore: AdminStore | undefined;
  let admin: Server | undefined;
  try {
    if (config.admin) {
      adminStore = opts.adminStore ?? buildAdminStore(config, store, logger);
      const service = new AdminService({
        store: adminStore, views: new PolicyViews(adminStore, () => sources, loadOptions),
        emailClaim: config.auth.jwt.claims.email, inviteTtlS: config.admin.invite_ttl_s,
      });
      admin = createAdminServer({ config: config.admin, auth, claims: config.auth.jwt.claims, store: adminStore, service, logger, consoleDir: CONSOLE_DIR, http: httpServerOptions(config), maxPathBytes: config.limits.max_path_bytes,
        onResponse: (endpoint, status) => metrics.adminRequest(endpoint, status) });
      guardParser(admin, logger);
    }
    await listen(server, config.listen.host, config.listen.port);
    await listen(ops, config.ops.host, config.ops.port);
    if (admin) await listen(admin, config.admin!.host, config.admin!.port);
  } catch (err) {
    server.close();
    ops.close();
    admin?.close();
    auth.close();
    await Promise.allSettled([closeUpstreamPools(upstreams), store.close(), adminStore?.close()]);
    throw err;
  }

  const watchers: FSWatcher[] = [];
  if (config.policy.watch) {
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => { clearTimeout(timer); timer = setTimeout(reloadPolicy, 200); timer.unref(); };
    // watch folders, not files: editors save by rename, which would orphan a file watch
    const watched = [...config.policy.paths, ...(config.policy.shadow?.paths ?? [])];
    const files = new Set(policyFiles(watched));
    const dirs = new Set([...files].map((f) => dirname(f)).concat(watched.filter((p) => !files.has(p))));
    for (const d of dirs) {
      try {
        watchers.push(watch(d, (_event, name) => {
          if (name === null || /\.ya?ml$/.test(name)) schedule();
        }));
      } catch (err) { logger.warn({ path: d, err: (err as Error).message }, 'cannot watch policy folder'); }
    }
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => closing ??= (async () => {
    stopped = true;
    clearTimeout(overlayRetry);
    for (const w of watchers) w.close();
    const grace = setTimeout(() => { for (const s of sockets) s.destroy(); }, config.limits.shutdown_grace_ms);
    server.closeIdleConnections();
    await Promise.all([closeServer(server), closeServer(ops), admin && closeServer(admin)]);
    clearTimeout(grace);
    tunnel.close();
    auth.close();
    await closeUpstreamPools(upstreams);
    await Promise.all([store.close(), adminStore?.close()]);
    decisionLog?.flush();
    logger.flush();
  })();

  if (opts.signals) {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
      close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => reloadPolicy());
  }

  const url = `http://${hostPort(server)}`;
  const adminUrl = admin && `http://${hostPort(admin)}`;
  logger.info({ listen: url, ops: `http://${hostPort(ops)}`, admin: adminUrl, policy: policy.version, routes: policy.routes.routes.length, store: store.kind }, 'rolegate listening');
  return { url, opsUrl: `http://${hostPort(ops)}`, adminUrl, metrics, logger, policy: () => policy, reloadPolicy, close };
}

/** The built console (npm run build puts it beside this module). */
const CONSOLE_DIR = fileURLToPath(new URL('./admin/console/', import.meta.url));

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

function rejectSocket(socket: Socket, reason: Reason): void {
  const status = statusOf(reason);
  const body = errorBody(reason, 'none');
  const text = STATUS_TEXT[status] ?? 'Bad Request';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  socket.destroySoon();
}

/** The strict parser and timeouts every listener that faces clients uses (gateway and admin). */
function httpServerOptions(config: Config): ServerOptions {
  return {
    maxHeaderSize: config.limits.max_header_bytes,
    headersTimeout: config.limits.headers_timeout_ms,
    requestTimeout: config.limits.request_timeout_ms,
    keepAliveTimeout: config.limits.keep_alive_timeout_ms,
    insecureHTTPParser: false,
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    // Node checks headers/request timeouts on this interval (default 30 s): keep it tight so a slow client is cut off on time
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(Math.min(config.limits.headers_timeout_ms, config.limits.request_timeout_ms) / 4))),
  };
}

/** CONNECT and parser errors (ambiguous framing, bad or oversize headers, timeouts): a JSON 4xx and the connection closes. */
function guardParser(server: Server, logger?: Logger): void {
  server.on('connect', (_req, socket: Socket) => rejectSocket(socket, 'method_not_allowed'));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const reason: Reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_framing';
    rejectSocket(socket, reason);
    logger?.info({ code: err.code, reason }, 'client error');
  });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function hostPort(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
