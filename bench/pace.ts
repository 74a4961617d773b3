// Open-loop paced load for the fixed-rate section.
//
// Why not autocannon's overallRate: autocannon (lib/httpClient.js) resets each connection's quota
// once a second and sends that quota back to back, so "2000 req/s" is a burst of 2000 requests at
// the start of every second followed by idleness, and the latencies measure burst queueing. Here
// requests are released on a ~1 ms tick, spread evenly over the second, over a keep-alive undici
// Pool; latency runs from the request's *scheduled* time (no coordinated omission) to the end of
// its body. The hot path allocates little (no BigInt, no promise list) to keep the harness's GC
// pauses out of the numbers.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { LoadResult, RequestHeaders } from './load.js';

export interface PacedOpts {
  url: string;
  headers: RequestHeaders;
  connections: number;
  rate: number;
  durationS: number;
}

/** `begin`/`end` bracket the measured window (for the CPU readings). */
export interface Window { begin(): void; end(): void }

export async function runPaced(opts: PacedOpts, hooks?: Window): Promise<LoadResult> {
  const u = new URL(opts.url);
  const path = `${u.pathname}${u.search}`;
  const pool = new Pool(u.origin, { connections: opts.connections, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const total = Math.round(opts.rate * opts.durationS);
  const latencies = new Float64Array(total);
  const sentLatencies = new Float64Array(total);
  const statusCodes: Record<string, number> = {};
  let recorded = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let maxLagMs = 0;
  let outstanding = 0;
  let drained: (() => void) | undefined;

  const done = (): void => {
    outstanding--;
    if (outstanding === 0 && drained) drained();
  };
  const one = (scheduledMs: number, record: boolean): void => {
    outstanding++;
    const sentMs = performance.now();
    pool.request({ path, method: 'GET', headers: typeof opts.headers === 'function' ? opts.headers() : opts.headers }).then(async ({ statusCode, body }) => {
      await body.dump({ limit: 1 << 20 });
      if (record) {
        const now = performance.now();
        sentLatencies[recorded] = now - sentMs;
        latencies[recorded++] = now - scheduledMs;
        statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
        if (statusCode < 200 || statusCode > 299) non2xx++;
      }
    }).catch((err: Error) => {
      if (!record) return;
      if (/timeout/i.test(err.name) || /timeout/i.test(err.message)) timeouts++;
      else errors++;
    }).finally(done);
  };
  /** Resolves once nothing is in flight, or after 15 s. */
  const settle = (): Promise<void> => new Promise((resolve) => {
    if (outstanding === 0) { resolve(); return; }
    const t = setTimeout(resolve, 15_000);
    drained = () => { clearTimeout(t); drained = undefined; resolve(); };
  });

  const intervalMs = 1000 / opts.rate;
  /** Release `count` requests evenly at `rate`; resolves with the start time once all are sent. */
  const schedule = (count: number, record: boolean): Promise<number> => {
    const start = performance.now();
    let sent = 0;
    return new Promise((resolve) => {
      const tick = (): void => {
        const elapsed = performance.now() - start;
        const due = Math.min(count, Math.floor(elapsed / intervalMs) + 1);
        if (record && sent < due) maxLagMs = Math.max(maxLagMs, elapsed - sent * intervalMs);
        for (; sent < due; sent++) one(start + sent * intervalMs, record);
        if (sent >= count) { clearInterval(timer); resolve(start); }
      };
      const timer = setInterval(tick, 1);
      tick();
    });
  };

  try {
    // Open the connections and warm the client up (a quarter of the run, at most 0.5 s), unrecorded.
    for (let i = 0; i < opts.connections; i++) one(performance.now(), false);
    await settle();
    await schedule(Math.ceil(opts.rate * Math.min(0.5, opts.durationS / 4)), false);
    await settle();

    hooks?.begin();
    const start = await schedule(total, true);
    const elapsedS = (performance.now() - start) / 1000;
    await settle();
    hooks?.end();

    const pctOf = (values: Float64Array) => {
      const sorted = values.subarray(0, recorded).sort();
      return (p: number): number => (recorded === 0 ? Number.NaN : (sorted[Math.min(recorded - 1, Math.max(0, Math.ceil(p * recorded) - 1))] as number));
    };
    const pct = pctOf(latencies);
    const sentPct = pctOf(sentLatencies);
    const missing = total - recorded - errors - timeouts;
    return {
      requests: recorded,
      elapsedS,
      rps: recorded / elapsedS,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      non2xx,
      errors,
      timeouts: timeouts + Math.max(0, missing),
      statusCodes,
      maxSendLagMs: maxLagMs,
      p50SentMs: sentPct(0.5),
      p99SentMs: sentPct(0.99),
    };
  } finally {
    await pool.destroy().catch(() => undefined);
  }
}
