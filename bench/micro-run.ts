// Runs bench/micro.ts in its own node (with --expose-gc) and renders its table.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { MicroResult } from './micro.js';

export type MicroOutcome = MicroResult | { error: string };

/** scale 1 for quick/full, a tiny fraction for smoke (just proves it runs). */
export function runMicro(benchDist: string, scale: number): MicroOutcome {
  const r = spawnSync(process.execPath, ['--expose-gc', join(benchDist, 'micro.js'), String(scale)], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) return { error: `micro-benchmarks failed (${r.status ?? r.signal ?? r.error?.message}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as MicroResult;
  } catch (err) {
    return { error: `micro-benchmarks: bad output: ${(err as Error).message}` };
  }
}

const fmt = (ns: number): string => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns} ns`);

export function microTable(m: MicroOutcome): string {
  if ('error' in m) return `unavailable: ${m.error}\n`;
  let md = '| benchmark | ns/op p50 | ns/op p99 | batches × ops | what |\n| --- | ---: | ---: | ---: | --- |\n';
  for (const r of m.rows) md += `| ${r.name} | ${fmt(r.p50Ns)} | ${fmt(r.p99Ns)} | ${r.batches} × ${r.opsPerBatch} | ${r.what} |\n`;
  md += `\nCompiled policy (${m.roles} roles × ${m.routes} routes): ${m.policyHeapBytes === null ? 'n/a' : `${(m.policyHeapBytes / 1048576).toFixed(2)} MiB`} heap (${m.policyHeapHow}).\n`;
  return md;
}
