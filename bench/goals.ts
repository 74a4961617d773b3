// Issue 4's targets next to this run's figures: one line per target, "✓"/"✗" where the issue sets a bound,
// "reported" where it only asks for the number (cold path, list filtering).
import type { MicroOutcome } from './micro-run.js';
import type { PayloadName } from './payloads.js';
import { REVOCATION_P99_TARGET_MS } from './revocation.js';
import type { RevocationOutcome } from './revocation.js';
import { RSS_GROWTH_TARGET_MB } from './streaming.js';
import type { StreamOutcome } from './streaming.js';
import { addedOverDirect, summarize } from './table.js';
import type { Summary, TargetResult } from './table.js';

export interface GoalInputs {
  results: TargetResult[];
  micro?: MicroOutcome;
  streaming?: StreamOutcome;
  revocation?: RevocationOutcome | { error: string };
}

const mark = (ok: boolean): string => (ok ? '✓' : '✗');
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
const signed = (n: number, digits: number, unit: string): string => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)} ${unit}`;

export function goalsTable({ results, micro, streaming, revocation }: GoalInputs): string {
  const sum = (name: string, p: PayloadName): Summary | undefined => {
    const r = results.find((t) => t.name === name && t.unavailable === undefined);
    return r && summarize(r, p);
  };
  const cpu = (name: string, p: PayloadName): number => sum(name, p)?.cpu.median ?? Number.NaN;
  const rows: [string, string, string][] = [];
  const perPayload = (goal: string, f: (p: PayloadName) => [number, string], ok: (v: number) => boolean | undefined): void => {
    const parts = (['small', 'large'] as const).map((p) => ({ p, v: f(p) }));
    const verdicts = parts.map(({ v }) => ok(v[0]));
    const verdict = verdicts.some((v) => v === undefined) ? 'reported' : mark(verdicts.every(Boolean));
    rows.push([goal, parts.map(({ p, v }) => `${p}: ${v[1]}`).join('; '), verdict]);
  };

  perPayload('rolegate CPU/req ≤ 1.15× the undici passthrough', (p) => {
    const r = cpu('rolegate', p) / cpu('undici', p);
    return [r, x(r)];
  }, (v) => (Number.isFinite(v) ? v <= 1.15 : undefined));
  perPayload('rolegate serves ≥ 1.2× http-proxy\'s requests per core', (p) => {
    const r = cpu('http-proxy', p) / cpu('rolegate', p);
    return [r, x(r)];
  }, (v) => (Number.isFinite(v) ? v >= 1.2 : undefined));
  perPayload('Redis store, warm cache = in-memory store (within the run\'s noise: CPU ranges overlap)', (p) => {
    const [a, b] = [sum('rolegate-redis', p), sum('rolegate', p)];
    if (!a || !b) return [Number.NaN, 'n/a'];
    const overlap = a.cpu.min <= b.cpu.max && b.cpu.min <= a.cpu.max;
    return [overlap ? 1 : 0, `${x(a.cpu.median / b.cpu.median)}, ranges ${overlap ? 'overlap' : 'apart'}`];
  }, (v) => (Number.isFinite(v) ? v === 1 : undefined));
  const cold = cpu('rolegate-redis-cold', 'small');
  const warm = cpu('rolegate-redis', 'small');
  rows.push(['cold path (every request a different user, a Redis read each; tokens cached)',
    Number.isFinite(cold) ? `small: ${x(cold / warm)} rolegate-redis (warm), ${signed(cold - warm, 0, 'µs/req')}` : 'n/a', 'reported']);
  const filtered = cpu('rolegate-filter', 'large');
  const plain = cpu('rolegate', 'large');
  rows.push(['list filtering (16 KiB list, per-record right)',
    Number.isFinite(filtered) ? `large: ${x(filtered / plain)} rolegate, ${signed(filtered - plain, 0, 'µs/req')}; ${x(filtered / cpu('undici', 'large'))} undici` : 'n/a', 'reported']);
  perPayload('added p50 at the fixed rate ≤ 1.2× the undici passthrough\'s', (p) => {
    const f = (name: string) => results.find((t) => t.name === name && t.unavailable === undefined && t.fixedRate.some((s) => s.payload === p));
    const [d, u, g] = [f('direct'), f('undici'), f('rolegate')];
    if (!d || !u || !g) return [Number.NaN, 'n/a'];
    const [addU, addG] = [addedOverDirect(u, d, p).p50Ms, addedOverDirect(g, d, p).p50Ms];
    return [addU > 0 ? addG / addU : Number.NaN, `rolegate ${signed(addG, 2, 'ms')} vs undici ${signed(addU, 2, 'ms')}`];
  }, (v) => (Number.isFinite(v) ? v <= 1.2 : undefined));
  const policy = micro && !('error' in micro) ? micro.rows.find((r) => r.name === 'policy path, per request') : undefined;
  rows.push(['canonicalize + match + decide ≤ 2 µs p99 per request (200 roles × 1,000 routes)', policy ? `${(policy.p99Ns / 1000).toFixed(2)} µs p99, ${policy.p50Ns} ns p50` : 'n/a', policy ? mark(policy.p99Ns <= 2000) : 'n/a']);
  const rg = streaming?.samples.filter((s) => s.target === 'rolegate') ?? [];
  const growth = Math.max(...rg.map((s) => (s.error === undefined ? (s.rssGrowthKb * 1024) / 1e6 : Number.POSITIVE_INFINITY)));
  rows.push([`streaming ${streaming ? (streaming.bytes / 1e6).toFixed(0) : '?'} MB through rolegate: peak RSS grows < ${RSS_GROWTH_TARGET_MB} MB`,
    rg.length === 0 ? 'n/a' : rg.map((s) => `${s.direction} ${s.error ? '⚠ failed' : `+${((s.rssGrowthKb * 1024) / 1e6).toFixed(1)} MB, ${s.mbPerS.toFixed(0)} MB/s`}`).join('; '),
    rg.length === 0 ? 'n/a' : mark(growth < RSS_GROWTH_TARGET_MB)]);
  const rv = revocation && !('error' in revocation) ? revocation : undefined;
  rows.push([`revocation lag p99 < ${REVOCATION_P99_TARGET_MS} ms (two instances, one Redis)`,
    rv ? `p99 ${rv.p99Ms.toFixed(1)} ms, p50 ${rv.p50Ms.toFixed(1)} ms over ${rv.revocations}` : 'n/a', rv ? mark(rv.p99Ms < REVOCATION_P99_TARGET_MS) : 'n/a']);

  return '| issue 4 target | this run | met |\n| --- | --- | :---: |\n' + rows.map((r) => `| ${r.join(' | ')} |\n`).join('');
}
