// Summaries (median and range over rounds) and the markdown tables.
import type { PayloadName } from './payloads.js';
import { RATIO_REFS } from './targets.js';

/** One measured run of one target. */
export interface Sample {
  round: number;
  payload: PayloadName;
  requests: number;
  /** CPU time of the target's process tree per completed request. */
  cpuUsPerReq: number;
  /** The stub upstream's CPU per request during the same run (context; not in the ratios). */
  upstreamCpuUsPerReq: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface FixedRateSample extends Sample {
  rate: number;
  /** How late the paced client released its most delayed request (load generator starved?). */
  maxSendLagMs: number;
  /** Latency from each request's release (not its scheduled time): the client's tick lag left out. */
  p50SentMs: number;
  p99SentMs: number;
}

export interface TargetResult {
  name: string;
  description: string;
  /** Set when the target was skipped, failed to start or answer correctly, or crashed. */
  unavailable?: string;
  /** The payloads the row is measured on (a filtered list only makes sense on the large one). */
  payloads?: PayloadName[];
  samples: Sample[];
  fixedRate: FixedRateSample[];
  peakRssKb?: number;
}

export interface Summary {
  cpu: { median: number; min: number; max: number };
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of one core the target's processes used (CPU µs/req × req/s), median over rounds. */
  coreUse: number;
  bad: number;
  rounds: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function summarizeRuns(ss: Sample[]): Summary | undefined {
  if (ss.length === 0) return undefined;
  const cpus = ss.map((s) => s.cpuUsPerReq);
  return {
    cpu: { median: median(cpus), min: Math.min(...cpus), max: Math.max(...cpus) },
    rps: median(ss.map((s) => s.rps)),
    p50Ms: median(ss.map((s) => s.p50Ms)),
    p99Ms: median(ss.map((s) => s.p99Ms)),
    coreUse: median(ss.map((s) => (s.cpuUsPerReq * s.rps) / 1e6)),
    bad: ss.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0),
    rounds: ss.length,
  };
}

export function summarize(t: TargetResult, payload: PayloadName): Summary | undefined {
  return summarizeRuns(t.samples.filter((s) => s.payload === payload));
}

export function summarizeFixed(t: TargetResult, payload: PayloadName): (Summary & { maxSendLagMs: number }) | undefined {
  const ss = t.fixedRate.filter((s) => s.payload === payload);
  const sum = summarizeRuns(ss);
  return sum && { ...sum, maxSendLagMs: Math.max(...ss.map((s) => s.maxSendLagMs)) };
}

/**
 * What `t` adds over `direct` at the fixed rate, from release: the median over
 * rounds of the difference within each round. Pairing by round cancels what the
 * machine did during that round; measuring from release leaves out the paced
 * client's own tick lag (up to a millisecond, the same for every target but noisy).
 */
export function addedOverDirect(t: TargetResult, direct: TargetResult, payload: PayloadName): { p50Ms: number; p99Ms: number } {
  const of = (r: TargetResult) => new Map(r.fixedRate.filter((s) => s.payload === payload).map((s) => [s.round, s]));
  const [mine, base] = [of(t), of(direct)];
  const pairs = [...mine].flatMap(([round, s]) => { const d = base.get(round); return d ? [[s, d] as const] : []; });
  if (pairs.length === 0) return { p50Ms: Number.NaN, p99Ms: Number.NaN };
  return {
    p50Ms: median(pairs.map(([s, d]) => s.p50SentMs - d.p50SentMs)),
    p99Ms: median(pairs.map(([s, d]) => s.p99SentMs - d.p99SentMs)),
  };
}

const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtCpu = (n: number): string => (!Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
const fmtMs = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)} ms` : 'n/a');
const fmtRss = (kb: number | undefined): string => (kb === undefined || kb <= 0 ? 'n/a' : `${(kb / 1024).toFixed(0)} MiB`);
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : 'n/a');
const oneLine = (s: string): string => s.replace(/\|/g, '/').replace(/\s+/g, ' ').slice(0, 200);

/** The first cell's text for a row with nothing to show on this payload, or undefined. */
function notShown(t: TargetResult, payload: PayloadName, s: Summary | undefined): string | undefined {
  if (t.unavailable !== undefined) return `unavailable: ${oneLine(t.unavailable)}`;
  if (t.payloads !== undefined && !t.payloads.includes(payload)) return `measured on the ${t.payloads.join(', ')} payload only`;
  return s === undefined ? 'unavailable: no samples' : undefined;
}

function ratio(t: Summary, ref: Summary | undefined, isDirect: boolean): string {
  if (isDirect || ref === undefined || !(ref.cpu.median > 0) || !Number.isFinite(t.cpu.median)) return '—';
  return `${(t.cpu.median / ref.cpu.median).toFixed(2)}×`;
}

const MAIN_HEADER = '| target | CPU µs/req (median, range) | req/s | p50 | p99 | ratio CPU vs http-proxy | vs nginx | vs undici passthrough | peak RSS | core use |\n'
  + '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n';

export function mainTable(results: TargetResult[], payload: PayloadName): string {
  const refs = new Map(RATIO_REFS.map((name) => {
    const r = results.find((x) => x.name === name);
    return [name, r && r.unavailable === undefined ? summarize(r, payload) : undefined] as const;
  }));
  let out = MAIN_HEADER;
  for (const t of results) {
    const s = summarize(t, payload);
    const why = notShown(t, payload, s);
    if (why !== undefined || s === undefined) {
      out += `| ${t.name} | ${why} | | | | | | | | |\n`;
      continue;
    }
    const isDirect = t.name === 'direct';
    const cells = [
      `${t.name}${isDirect ? ' †' : ''}${s.bad > 0 ? ` ⚠ ${s.bad} non-2xx/errors` : ''}`,
      `${fmtCpu(s.cpu.median)} (${fmtCpu(s.cpu.min)}–${fmtCpu(s.cpu.max)})`,
      fmtInt(s.rps), fmtMs(s.p50Ms), fmtMs(s.p99Ms),
      ratio(s, refs.get('http-proxy'), isDirect), ratio(s, refs.get('nginx'), isDirect), ratio(s, refs.get('undici'), isDirect),
      fmtRss(t.peakRssKb), fmtPct(s.coreUse),
    ];
    out += `| ${cells.join(' | ')} |\n`;
  }
  return out;
}

export function fixedRateTable(results: TargetResult[], payload: PayloadName): string {
  const directRow = results.find((r) => r.name === 'direct');
  const direct = directRow ? summarizeFixed(directRow, payload) : undefined;
  let out = '| target | achieved req/s | core use | p50 | p99 | p50 from release | p50 added vs direct | p99 added vs direct | CPU µs/req | client lag | non-2xx/errors |\n'
    + '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n';
  for (const t of results) {
    const f = summarizeFixed(t, payload);
    const why = notShown(t, payload, f);
    if (why !== undefined || f === undefined) {
      out += `| ${t.name} | ${why?.startsWith('unavailable') ? 'unavailable' : why} | | | | | | | | | |\n`;
      continue;
    }
    const isDirect = t.name === 'direct';
    const add = directRow && !isDirect ? addedOverDirect(t, directRow, payload) : undefined;
    const added = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(2)} ms`);
    const sent = median(t.fixedRate.filter((s) => s.payload === payload).map((s) => s.p50SentMs));
    // Close to a full core, the latencies are mostly queueing, not the proxy's own delay.
    const use = `${fmtPct(f.coreUse)}${f.coreUse >= 0.7 ? ' ⚠' : ''}`;
    out += `| ${t.name}${isDirect ? ' †' : ''}${f.bad > 0 ? ' ⚠' : ''} | ${fmtInt(f.rps)} | ${use} | ${fmtMs(f.p50Ms)} | ${fmtMs(f.p99Ms)} | `
      + `${fmtMs(sent)} | ${added(add?.p50Ms)} | ${added(add?.p99Ms)} | ${fmtCpu(f.cpu.median)} | ≤ ${fmtMs(f.maxSendLagMs)} | ${f.bad} |\n`;
  }
  return out;
}

/** Any row with non-2xx answers, socket errors or timeouts (the run is then flagged). */
export function flaggedRows(results: TargetResult[]): string[] {
  const out: string[] = [];
  for (const t of results) {
    const bad = [...t.samples, ...t.fixedRate].reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0);
    if (bad > 0) out.push(`${t.name}: ${bad} non-2xx/errors/timeouts`);
  }
  return out;
}
