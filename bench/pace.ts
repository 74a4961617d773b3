// Open-loop paced load for the fixed-rate section.
//
// Why not autocannon's overallRate: autocannon (lib/httpClient.js) resets each connection's quota
// once a second and sends that quota back to back, so "2000 req/s" is a burst of 2000 requests at
// the start of every second followed by idleness, and the latencies measure burst queueing. Here
// requests are released on a ~1 ms tick, spread evenly over the second, over a keep-alive undici
// Pool; latency runs from the request's *scheduled* time (no coordinated omission) to the end of
// its body.
import { Pool } from 'undici';
import type { LoadResult } from './load.js';

export interface PacedOpts {
  url: string;
  headers: Record<string, string>;
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
  const statusCodes: Record<string, number> = {};
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let maxLagNs = 0;

  const one = async (scheduledNs: bigint, record: boolean): Promise<void> => {
    try {
      const { statusCode, body } = await pool.request({ path, method: 'GET', headers: opts.headers });
      await body.dump({ limit: 1 << 20 });
      if (!record) return;
      latencies.push(Number(process.hrtime.bigint() - scheduledNs) / 1e6);
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode < 200 || statusCode > 299) non2xx++;
    } catch (err) {
      if (!record) return;
      if (/timeout/i.test((err as Error).name) || /timeout/i.test((err as Error).message)) timeouts++;
      else errors++;
    }
  };

  const intervalNs = 1e9 / opts.rate;
  /** Release `total` requests evenly at `rate`; resolves when all are sent (not answered). */
  const schedule = (total: number, record: boolean): Promise<{ start: bigint; inflight: Promise<void>[] }> => {
    const start = process.hrtime.bigint();
    const inflight: Promise<void>[] = [];
    let sent = 0;
    return new Promise((resolve) => {
      const tick = (): void => {
        const elapsedNs = Number(process.hrtime.bigint() - start);
        const due = Math.min(total, Math.floor(elapsedNs / intervalNs) + 1);
        if (record && sent < due) maxLagNs = Math.max(maxLagNs, elapsedNs - sent * intervalNs);
        while (sent < due) {
          inflight.push(one(start + BigInt(Math.round(sent * intervalNs)), record));
          sent++;
        }
        if (sent >= total) { clearInterval(timer); resolve({ start, inflight }); }
      };
      const timer = setInterval(tick, 1);
      tick();
    });
  };
  const settle = (inflight: Promise<void>[]): Promise<unknown> =>
    Promise.race([Promise.all(inflight), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);

  try {
    // Open the connections and warm the client up (a quarter of the run, at most 0.5 s), unrecorded.
    await Promise.all(Array.from({ length: opts.connections }, () => one(process.hrtime.bigint(), false)));
    await settle((await schedule(Math.ceil(opts.rate * Math.min(0.5, opts.durationS / 4)), false)).inflight);

    const total = Math.round(opts.rate * opts.durationS);
    hooks?.begin();
    const { start, inflight } = await schedule(total, true);
    const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
    await settle(inflight);
    hooks?.end();

    latencies.sort((a, b) => a - b);
    const pct = (p: number): number =>
      latencies.length === 0 ? Number.NaN : (latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(p * latencies.length) - 1))] as number);
    const missing = total - latencies.length - errors - timeouts;
    return {
      requests: latencies.length,
      elapsedS,
      rps: latencies.length / elapsedS,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      non2xx,
      errors,
      timeouts: timeouts + Math.max(0, missing),
      statusCodes,
      maxSendLagMs: maxLagNs / 1e6,
    };
  } finally {
    await pool.destroy().catch(() => undefined);
  }
}
