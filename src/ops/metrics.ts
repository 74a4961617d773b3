import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics, type Metric } from 'prom-client';
import type { StoreHooks } from '../store/index.js';
import { CellIndex, type LabelValue } from './cell-index.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One label set of a counter on the request path: a plain number, handed to prom-client when it is collected. */
interface CounterCell { readonly labels: Partial<Record<string, string>>; pending: number }

/**
 * A counter whose request-path increments skip prom-client: its label children
 * convert, validate and hash their labels on every inc(). The pending counts are
 * added to the prom-client counter when it is collected, so the exposition stays prom-client's.
 */
class HotCounter {
  private readonly cells: CounterCell[] = [];
  private readonly index: CellIndex<CounterCell>;
  readonly metric: Counter<string>;
  constructor(config: { name: string; help: string; labelNames: readonly string[]; registers: Registry[] }) {
    const cells = this.cells;
    this.metric = new Counter({
      ...config,
      collect() {
        for (const c of cells) {
          if (c.pending > 0) { this.inc(c.labels, c.pending); c.pending = 0; }
        }
      },
    });
    this.index = new CellIndex((values) => {
      const labels = Object.fromEntries(config.labelNames.map((name, i) => [name, String(values[i])]));
      const c: CounterCell = { labels, pending: 0 };
      cells.push(c);
      this.metric.inc(labels, 0); // the series exists from its first use, as prom-client children do
      return c;
    });
  }
  /** The cell of these label values, in labelNames order. */
  at(a: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue): CounterCell { return this.index.at(a, b, c, d); }
}

/** One label set of a request-path histogram: bucket counts (the last is +Inf), sum and count. */
class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[], readonly labelValue: string) { this.counts = new Float64Array(bounds.length + 1); }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A histogram with one label whose observe() is a bucket scan and three additions
 * (prom-client's children allocate, validate and hash per observation). It is
 * registered in prom-client's registry and answers get() in prom-client's shape,
 * so the exposition and promtool see an ordinary histogram.
 */
class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cells: HistogramCell[] = [];
  private readonly index = new CellIndex((values) => {
    const c = new HistogramCell(this.bounds, String(values[0]));
    this.cells.push(c);
    return c;
  });
  constructor(readonly name: string, readonly help: string, private readonly labelName: string, private readonly bounds: readonly number[], registry: Registry) {
    // a duck-typed metric: the registry only calls name, get() and reset()
    registry.registerMetric(this as unknown as Metric);
  }
  at(labelValue: string): HistogramCell { return this.index.at(labelValue); }
  reset(): void {
    for (const c of this.cells) { c.counts.fill(0); c.sum = 0; c.count = 0; }
  }
  async get() {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const c of this.cells) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += c.counts[i]!;
        values.push({ value: cumulative, labels: { le: this.bounds[i]!, [this.labelName]: c.labelValue }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: c.count, labels: { le: '+Inf', [this.labelName]: c.labelValue }, metricName: `${this.name}_bucket` });
      values.push({ value: c.sum, labels: { [this.labelName]: c.labelValue }, metricName: `${this.name}_sum` });
      values.push({ value: c.count, labels: { [this.labelName]: c.labelValue }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * Every metric rolegate exposes. Labels are bounded: route template ids,
 * resource and action names from policy, reason codes; never a raw path or a user.
 * Request-path metrics find their label cell through a CellIndex, not prom-client's label hashing.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new HotCounter({ name: 'rolegate_http_requests_total', help: 'HTTP requests handled, by route template, method, decision and status code.', labelNames: ['route', 'method', 'decision', 'code'], registers: [this.registry] });
  private readonly duration = new HotHistogram('rolegate_http_request_duration_seconds', 'Time from request arrival to response headers sent, by route template.', 'route', LATENCY_BUCKETS, this.registry);
  private readonly decisions = new HotCounter({ name: 'rolegate_authz_decisions_total', help: 'Authorization decisions, by resource, action, decision and reason.', labelNames: ['resource', 'action', 'decision', 'reason'], registers: [this.registry] });
  private readonly upstreamDuration = new HotHistogram('rolegate_upstream_request_duration_seconds', 'Time until the upstream answered with response headers, by upstream.', 'upstream', LATENCY_BUCKETS, this.registry);
  private readonly upstreamErrors = new Counter({ name: 'rolegate_upstream_errors_total', help: 'Upstream failures, by upstream and kind (refused, reset, timeout, protocol).', labelNames: ['upstream', 'kind'] as const, registers: [this.registry] });
  private readonly verifications = new HotCounter({ name: 'rolegate_token_verifications_total', help: 'Bearer token verifications, by result (ok, cache_hit or the failure reason).', labelNames: ['result'], registers: [this.registry] });
  private readonly policyInfo = new Gauge({ name: 'rolegate_policy_info', help: 'The policy in force: always 1, labelled with its version and content hash.', labelNames: ['version', 'hash'] as const, registers: [this.registry] });
  readonly policyReloads = new Counter({ name: 'rolegate_policy_reloads_total', help: 'Policy reloads, by result (success or failure).', labelNames: ['result'] as const, registers: [this.registry] });
  readonly policyLastReload = new Gauge({ name: 'rolegate_policy_last_reload_success_timestamp_seconds', help: 'Unix time of the last successful policy load.', registers: [this.registry] });
  private readonly shadowDecisions = new HotCounter({ name: 'rolegate_shadow_decisions_total', help: 'Decisions of the shadow (candidate) policy beside the live one, by resource, action, live and candidate decision.', labelNames: ['resource', 'action', 'live', 'candidate'], registers: [this.registry] });
  private readonly adminRequests = new Counter({ name: 'rolegate_admin_requests_total', help: 'Admin API calls, by endpoint (method and path template) and status code.', labelNames: ['endpoint', 'code'] as const, registers: [this.registry] });
  private readonly customRoles = new Gauge({ name: 'rolegate_custom_roles', help: 'Custom roles kept by the admin API, by state: active (compiled into the policy) or rejected (left out: they no longer compile against the YAML).', labelNames: ['state'] as const, registers: [this.registry] });
  private readonly storeCache = new Counter({ name: 'rolegate_store_cache_total', help: 'Assignment store reads, by result: hit (answered from this instance), miss (read from the store), stale (expired entry served because the store failed).', labelNames: ['result'] as const, registers: [this.registry] });
  private readonly storeErrors = new Counter({ name: 'rolegate_store_errors_total', help: 'Assignment store failures, by operation (member, relations, partner, subscribe).', labelNames: ['op'] as const, registers: [this.registry] });
  private readonly storeDuration = new Histogram({ name: 'rolegate_store_request_duration_seconds', help: 'Time of assignment store reads that went to the store (cache misses), by operation.', labelNames: ['op'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly storeInvalidations = new Counter({ name: 'rolegate_store_invalidations_total', help: 'Invalidation messages applied to this instance\'s store cache.', registers: [this.registry] });
  private readonly invalidationLag = new Histogram({ name: 'rolegate_invalidation_lag_seconds', help: 'Time from a store write to this instance applying its invalidation (revocation lag).', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rolegate_' });
    // prom-client names these gauges `_total`, which promtool rejects for non-counters
    for (const name of ['rolegate_nodejs_active_handles_total', 'rolegate_nodejs_active_requests_total', 'rolegate_nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  request(route: string, method: string, decision: string, code: number, seconds: number): void {
    this.requests.at(route, method, decision, code).pending++;
    this.duration.at(route).observe(seconds);
  }

  decision(resource: string, action: string, decision: string, reason: string): void {
    this.decisions.at(resource, action, decision, reason).pending++;
  }

  upstream(upstream: string, seconds: number): void {
    this.upstreamDuration.at(upstream).observe(seconds);
  }

  shadow(resource: string, action: string, live: string, candidate: string): void {
    this.shadowDecisions.at(resource, action, live, candidate).pending++;
  }

  upstreamError(upstream: string, kind: string): void { this.upstreamErrors.labels(upstream, kind).inc(); }

  verification(result: string): void {
    this.verifications.at(result).pending++;
  }

  /** The store's metric hooks; children are resolved once so a cache hit costs one increment. */
  storeHooks(): StoreHooks {
    const cache = { hit: this.storeCache.labels('hit'), miss: this.storeCache.labels('miss'), stale: this.storeCache.labels('stale') };
    for (const c of Object.values(cache)) c.inc(0);
    return {
      cache: (result) => cache[result].inc(),
      error: (op) => this.storeErrors.labels(op).inc(),
      duration: (op, seconds) => this.storeDuration.labels(op).observe(seconds),
      invalidation: (lag) => { this.storeInvalidations.inc(); this.invalidationLag.observe(lag); },
    };
  }

  adminRequest(endpoint: string, code: number): void { this.adminRequests.labels(endpoint, String(code)).inc(); }

  customRolesCompiled(active: number, rejected: number): void {
    this.customRoles.labels('active').set(active);
    this.customRoles.labels('rejected').set(rejected);
  }

  policyLoaded(version: string, hash: string): void {
    this.policyInfo.reset();
    this.policyInfo.labels(version, hash.slice(0, 12)).set(1);
    this.policyLastReload.set(Date.now() / 1000);
  }
}
