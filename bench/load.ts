// One autocannon run in the harness process, with our own microsecond latency record
// (autocannon's histogram keeps whole milliseconds, too coarse on loopback).
import autocannon from 'autocannon';

/** The same headers on every request, or a function called per request (e.g. cycling users' tokens). */
export type RequestHeaders = Record<string, string> | (() => Record<string, string>);

export interface LoadOpts {
  url: string;
  headers: RequestHeaders;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS: number;
  /** Stop after this many requests instead of after `durationS`. */
  amount?: number;
}

export interface LoadResult {
  requests: number;
  elapsedS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Paced runs only: how late the client released its most delayed request (load generator starved?). */
  maxSendLagMs?: number;
  /** Paced runs only: p50 and p99 from each request's release to the end of its body (without the client's tick lag). */
  p50SentMs?: number;
  p99SentMs?: number;
}

class LatencyRecord {
  private values = new Float64Array(1 << 16);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.values.length) {
      if (this.n >= 1 << 24) return; // 16M samples is far beyond any bounded run
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  percentiles(ps: number[]): number[] {
    if (this.n === 0) return ps.map(() => Number.NaN);
    const sorted = this.values.slice(0, this.n).sort();
    return ps.map((p) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil(p * this.n) - 1))] as number);
  }
}

export function runLoad(opts: LoadOpts): Promise<LoadResult> {
  const record = new LatencyRecord();
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    let guard: NodeJS.Timeout | undefined;
    const perRequest = opts.headers;
    const inst = autocannon({
      url: opts.url,
      // Per-request headers: autocannon rebuilds a request that has a setupRequest every time it sends it.
      ...(typeof perRequest === 'function'
        ? { requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, headers: perRequest() }) }] }
        : { headers: perRequest }),
      connections: opts.connections,
      pipelining: 1,
      timeout: 10,
      // A duration-bound run only ends on a sample tick: 100 ms keeps short runs short.
      sampleInt: 100,
      ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.durationS }),
      renderProgressBar: false,
      renderResultsTable: false,
      renderLatencyTable: false,
    }, (err, res) => {
      if (guard) clearTimeout(guard);
      if (err) { reject(err); return; }
      const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
      const requests = res.requests.total;
      const [p50, p99] = record.percentiles([0.5, 0.99]);
      const statusCodes: Record<string, number> = {};
      for (const [code, s] of Object.entries(res.statusCodeStats)) statusCodes[code] = s.count;
      resolve({
        requests,
        elapsedS,
        rps: requests / (res.duration > 0 ? res.duration : elapsedS),
        p50Ms: p50 as number,
        p99Ms: p99 as number,
        non2xx: res.non2xx,
        errors: res.errors,
        timeouts: res.timeouts,
        statusCodes,
      });
    });
    inst.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => record.add(ms));
    // Bounded no matter what: stop the run well after its nominal end.
    const limitS = opts.amount !== undefined ? 30 : opts.durationS + 15;
    guard = setTimeout(() => inst.stop(), limitS * 1000);
    guard.unref();
  });
}
