// Summaries (median and range over rounds) and the markdown tables.
import type { PayloadName } from './payloads.js';
import { RATIO_REFS } from './targets.js';

export interface Sample {
  round: number;
  payload: PayloadName;
  requests: number;
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

export interface FixedRateSample {
  payload: PayloadName;
  rate: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** How late the paced client released its most delayed request. */
  maxSendLagMs: number;
}

export interface TargetResult {
  name: string;
  description: string;
  /** Set when the target was skipped or failed to start or to answer correctly. */
  unavailable?: string;
  samples: Sample[];
  fixedRate: FixedRateSample[];
  peakRssKb?: number;
}

export interface Summary {
  cpu: { median: number; min: number; max: number };
  rps: number;
  p50Ms: number;
  p99Ms: number;
  bad: number;
  rounds: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function summarize(t: TargetResult, payload: PayloadName): Summary | undefined {
  const ss = t.samples.filter((s) => s.payload === payload);
  if (ss.length === 0) return undefined;
  const cpus = ss.map((s) => s.cpuUsPerReq);
  return {
    cpu: { median: median(cpus), min: Math.min(...cpus), max: Math.max(...cpus) },
    rps: median(ss.map((s) => s.rps)),
    p50Ms: median(ss.map((s) => s.p50Ms)),
    p99Ms: median(ss.map((s) => s.p99Ms)),
    bad: ss.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0),
    rounds: ss.length,
  };
}

const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtCpu = (n: number): string => (!Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
export const fmtMs = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)} ms` : 'n/a');
const fmtRss = (kb: number | undefined): string => (kb === undefined || kb <= 0 ? 'n/a' : `${(kb / 1024).toFixed(0)} MiB`);

function ratio(t: Summary, ref: Summary | undefined, isDirect: boolean): string {
  if (isDirect || ref === undefined || !(ref.cpu.median > 0) || !Number.isFinite(t.cpu.median)) return '—';
  return `${(t.cpu.median / ref.cpu.median).toFixed(2)}×`;
}

const MAIN_HEADER = '| target | CPU µs/req (median, range) | req/s | p50 | p99 | ratio CPU vs http-proxy | vs nginx | vs undici passthrough | peak RSS |\n'
  + '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n';

export function mainTable(results: TargetResult[], payload: PayloadName): string {
  const refs = new Map(RATIO_REFS.map((name) => {
    const r = results.find((x) => x.name === name);
    return [name, r ? summarize(r, payload) : undefined] as const;
  }));
  let out = MAIN_HEADER;
  for (const t of results) {
    const s = summarize(t, payload);
    if (t.unavailable !== undefined || s === undefined) {
      out += `| ${t.name} | unavailable: ${(t.unavailable ?? 'no samples').replace(/\|/g, '/').replace(/\s+/g, ' ')} | | | | | | | |\n`;
      continue;
    }
    const isDirect = t.name === 'direct';
    const label = `${t.name}${isDirect ? ' †' : ''}${s.bad > 0 ? ` ⚠ ${s.bad} non-2xx/errors` : ''}`;
    const cpu = `${fmtCpu(s.cpu.median)} (${fmtCpu(s.cpu.min)}–${fmtCpu(s.cpu.max)})`;
    const cells = [
      label, cpu, fmtInt(s.rps), fmtMs(s.p50Ms), fmtMs(s.p99Ms),
      ratio(s, refs.get('http-proxy'), isDirect), ratio(s, refs.get('nginx'), isDirect), ratio(s, refs.get('undici'), isDirect),
      fmtRss(t.peakRssKb),
    ];
    out += `| ${cells.join(' | ')} |\n`;
  }
  return out;
}

export function fixedRateTable(results: TargetResult[], payload: PayloadName): string {
  const direct = results.find((r) => r.name === 'direct')?.fixedRate.find((f) => f.payload === payload);
  let out = '| target | achieved req/s | rate / saturation req/s | p50 | p99 | p50 added vs direct | p99 added vs direct | CPU µs/req | non-2xx/errors |\n'
    + '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n';
  for (const t of results) {
    const f = t.fixedRate.find((x) => x.payload === payload);
    if (t.unavailable !== undefined || f === undefined) {
      out += `| ${t.name} | unavailable | | | | | | | |\n`;
      continue;
    }
    const isDirect = t.name === 'direct';
    const added = (a: number, b: number | undefined): string =>
      isDirect || b === undefined ? '—' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(2)} ms`;
    const bad = f.non2xx + f.errors + f.timeouts;
    // Near saturation the latencies are mostly queueing, not the proxy's own delay.
    const sat = summarize(t, payload)?.rps;
    const load = sat !== undefined && sat > 0 ? `${Math.round((100 * f.rate) / sat)} %${f.rate / sat >= 0.7 ? ' ⚠' : ''}` : 'n/a';
    out += `| ${t.name}${isDirect ? ' †' : ''}${bad > 0 ? ' ⚠' : ''} | ${fmtInt(f.rps)} | ${load} | ${fmtMs(f.p50Ms)} | ${fmtMs(f.p99Ms)} | `
      + `${added(f.p50Ms, direct?.p50Ms)} | ${added(f.p99Ms, direct?.p99Ms)} | ${fmtCpu(f.cpuUsPerReq)} | ${bad} |\n`;
  }
  return out;
}

/** Any row with non-2xx answers, socket errors or timeouts (the run is then flagged). */
export function flaggedRows(results: TargetResult[]): string[] {
  const out: string[] = [];
  for (const t of results) {
    const bad = t.samples.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0)
      + t.fixedRate.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0);
    if (bad > 0) out.push(`${t.name}: ${bad} non-2xx/errors/timeouts`);
  }
  return out;
}
