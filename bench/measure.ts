// The measuring loops: start-up checks, interleaved saturation rounds, the fixed-rate section, smoke.
import { httpGet } from './child.js';
import { runLoad } from './load.js';
import type { LoadResult, RequestHeaders } from './load.js';
import { runPaced } from './pace.js';
import type { Window } from './pace.js';
import { PAYLOADS, payloadBody, payloadPath } from './payloads.js';
import type { PayloadName } from './payloads.js';
import { ticksToMicros, treeCpuTicks } from './proc-stats.js';
import type { Settings } from './settings.js';
import type { TargetResult } from './table.js';
import type { RunningTarget, TargetContext, TargetSpec } from './targets.js';

export interface Live { spec: TargetSpec; result: TargetResult; running?: RunningTarget }

export const say = (line: string): void => { process.stdout.write(`${line}\n`); };

/** The payloads a row is measured on. */
export const payloadsOf = (spec: TargetSpec): readonly PayloadName[] => spec.payloads ?? PAYLOADS;

/** The bench token, unless the row sends its own per request. */
const headersOf = (t: RunningTarget, headers: Record<string, string>): RequestHeaders => t.requestHeaders ?? headers;

/** 200 with the expected bytes (the upstream's, unless the row filters) for its payloads, then the target's own checks. */
export async function checkTarget(live: Live, ctx: TargetContext, headers: Record<string, string>): Promise<void> {
  const t = live.running as RunningTarget;
  for (const p of payloadsOf(live.spec)) {
    const r = await httpGet(`${t.url}${payloadPath(p)}`, headers, 5000);
    if (r.status !== 200) throw new Error(`${p}: HTTP ${r.status} ${r.body.toString('utf8', 0, 200)}`);
    const want = live.spec.expectedBody?.(p) ?? payloadBody(p);
    if (!r.body.equals(want)) throw new Error(`${p}: body differs from the expected ${want.length} bytes (${r.body.length} bytes)`);
  }
  await live.spec.extraCheck?.(t, ctx);
}

interface Measured { load: LoadResult; cpuUsPerReq: number; upstreamCpuUsPerReq: number }

/** CPU of the target's process tree (and of the upstream) over one load run, or over the window it marks. */
async function measure(t: RunningTarget, upstreamPid: number, run: (w: Window) => Promise<LoadResult>): Promise<Measured> {
  const read = (): [number, number] => [treeCpuTicks(t.pid), treeCpuTicks(upstreamPid)];
  const read0 = read();
  let before: [number, number] | undefined;
  let after: [number, number] | undefined;
  const res = await run({ begin: () => { before = read(); }, end: () => { after = read(); } });
  const b = before ?? read0;
  const e = after ?? read();
  const n = Math.max(1, res.requests);
  return { load: res, cpuUsPerReq: ticksToMicros(e[0] - b[0]) / n, upstreamCpuUsPerReq: ticksToMicros(e[1] - b[1]) / n };
}

function describeRun(name: string, what: string, m: Measured): string {
  const bad = m.load.non2xx + m.load.errors + m.load.timeouts;
  return `  ${name.padEnd(20)} ${what.padEnd(12)} ${Math.round(m.load.rps).toString().padStart(6)} req/s  `
    + `${m.cpuUsPerReq.toFixed(1).padStart(6)} µs/req  p50 ${m.load.p50Ms.toFixed(2)} ms  p99 ${m.load.p99Ms.toFixed(2)} ms`
    + `${m.load.maxSendLagMs !== undefined ? `  send lag ≤ ${m.load.maxSendLagMs.toFixed(1)} ms` : ''}`
    + `${bad > 0 ? `  ⚠ ${bad} bad (${JSON.stringify(m.load.statusCodes)}, errors ${m.load.errors}, timeouts ${m.load.timeouts})` : ''}`;
}

/** A target whose process died is taken out of the run, with the reason in its row. */
function stillUp(l: Live): boolean {
  const exited = l.running?.child?.exited;
  if (exited === undefined) return l.running !== undefined;
  l.result.unavailable = `crashed during the run (${exited})${l.running?.child?.stderrTail() ? `: ${l.running.child.stderrTail()}` : ''}`;
  say(`  ${l.spec.name}: ${l.result.unavailable}`);
  delete l.running;
  return false;
}

/** Round 1 runs every target, then round 2..., starting one target later each round. */
export async function saturationRounds(s: Settings, ready: Live[], upstreamPid: number, headers: Record<string, string>): Promise<void> {
  for (let round = 1; round <= s.rounds; round++) {
    say(`round ${round}/${s.rounds}`);
    const order = ready.map((_, i) => ready[(i + round - 1) % ready.length] as Live);
    for (const l of order) {
      if (!stillUp(l)) continue;
      const t = l.running as RunningTarget;
      const payloads = payloadsOf(l.spec);
      for (const p of payloads) {
        await runLoad({ url: `${t.url}${payloadPath(p)}`, headers: headersOf(t, headers), connections: s.connections, durationS: s.warmupS / payloads.length });
      }
      for (const p of payloads) {
        const url = `${t.url}${payloadPath(p)}`;
        const m = await measure(t, upstreamPid, () => runLoad({ url, headers: headersOf(t, headers), connections: s.connections, durationS: s.durationS }));
        say(describeRun(l.spec.name, p, m));
        l.result.samples.push({
          round, payload: p, requests: m.load.requests, cpuUsPerReq: m.cpuUsPerReq, upstreamCpuUsPerReq: m.upstreamCpuUsPerReq,
          rps: m.load.rps, p50Ms: m.load.p50Ms, p99Ms: m.load.p99Ms, non2xx: m.load.non2xx, errors: m.load.errors, timeouts: m.load.timeouts,
        });
      }
    }
  }
}

/** The fixed-rate section, also in interleaved rounds (median over rounds in the table). */
export async function fixedRate(s: Settings, ready: Live[], upstreamPid: number, headers: Record<string, string>): Promise<void> {
  for (let round = 1; round <= s.fixedRounds; round++) {
    say(`fixed rate ${s.fixedRate} req/s, ${s.fixedS} s per run, round ${round}/${s.fixedRounds}`);
    const order = ready.map((_, i) => ready[(i + round - 1) % ready.length] as Live);
    for (const l of order) {
      if (!stillUp(l)) continue;
      const t = l.running as RunningTarget;
      for (const p of payloadsOf(l.spec)) {
        const url = `${t.url}${payloadPath(p)}`;
        const m = await measure(t, upstreamPid, (w) => runPaced({ url, headers: headersOf(t, headers), connections: s.connections, durationS: s.fixedS, rate: s.fixedRate }, w));
        say(describeRun(l.spec.name, `${p}@rate`, m));
        l.result.fixedRate.push({
          round, payload: p, rate: s.fixedRate, requests: m.load.requests, cpuUsPerReq: m.cpuUsPerReq, upstreamCpuUsPerReq: m.upstreamCpuUsPerReq,
          rps: m.load.rps, p50Ms: m.load.p50Ms, p99Ms: m.load.p99Ms, non2xx: m.load.non2xx, errors: m.load.errors, timeouts: m.load.timeouts,
          maxSendLagMs: m.load.maxSendLagMs ?? 0, p50SentMs: m.load.p50SentMs ?? Number.NaN, p99SentMs: m.load.p99SentMs ?? Number.NaN,
        });
      }
    }
  }
}

const SMOKE_REQUESTS = 100;

/** Exercise the measuring path too: a short autocannon run per target through /proc. Returns failures. */
export async function smokeLoad(ready: Live[], upstreamPid: number, headers: Record<string, string>): Promise<number> {
  let failures = 0;
  for (const l of ready) {
    const t = l.running as RunningTarget;
    const url = `${t.url}${payloadPath(payloadsOf(l.spec)[0] as PayloadName)}`;
    // A fixed count, not a duration: on a loaded machine a slow row still answers them all (no timing assertion).
    const m = await measure(t, upstreamPid, () => runLoad({ url, headers: headersOf(t, headers), connections: 4, durationS: 0, amount: SMOKE_REQUESTS }));
    say(describeRun(l.spec.name, 'smoke', m));
    const bad = m.load.non2xx + m.load.errors + m.load.timeouts;
    if (bad > 0 || m.load.requests < SMOKE_REQUESTS || !(m.cpuUsPerReq >= 0) || !stillUp(l)) {
      failures++;
      say(`  ${l.spec.name}: smoke load run failed (${m.load.requests} answers, ${bad} bad)`);
    }
  }
  return failures;
}
