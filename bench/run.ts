// `npm run bench [-- --quick | --smoke | ...]`: proxy overhead table. See bench/README.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, hasTaskset, httpGet, killAllNow, pinSelf, spawnChild, stopAll, waitReadyOrStop } from './child.js';
import type { Child } from './child.js';
import { runLoad } from './load.js';
import type { LoadResult } from './load.js';
import { machineFacts } from './machine.js';
import { runPaced } from './pace.js';
import type { Window } from './pace.js';
import type { MachineFacts } from './machine.js';
import { PAYLOADS, payloadBody, payloadPath } from './payloads.js';
import type { PayloadName } from './payloads.js';
import { ticksToMicros, treeCpuTicks, treePeakRssKb } from './proc-stats.js';
import { fixedRateTable, flaggedRows, mainTable } from './table.js';
import type { TargetResult } from './table.js';
import { TARGETS } from './targets.js';
import type { RunningTarget, TargetContext, TargetSpec } from './targets.js';
import { startTokenKit } from './tokens.js';

const HELP = `usage: npm run bench -- [options]
  --quick             short run (< 2 min): 16 connections, 3 s, 2 rounds
  --smoke             every target starts and answers correctly (a few seconds); writes nothing
  --duration S        seconds per measured run (default 10, quick 3)
  --connections N     autocannon connections (default 32, quick 16)
  --rounds N          interleaved rounds (default 3, quick 2)
  --rate N            fixed-rate section: overall req/s (default 2000)
  --targets a,b       subset of: ${TARGETS.map((t) => t.name).join(', ')}
  --pin / --no-pin    taskset pinning (default on with 2+ cores and taskset)
  --keep-tmp          keep the temp dir (configs, child stderr, nginx logs)
`;

type Mode = 'full' | 'quick' | 'smoke';

interface Settings {
  mode: Mode;
  connections: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  fixedRate: number;
  fixedS: number;
  pin: boolean;
  targets: TargetSpec[];
  keepTmp: boolean;
}

function positive(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${v}"`);
  return n;
}

function settingsFromArgs(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' }, smoke: { type: 'boolean' }, help: { type: 'boolean' },
      duration: { type: 'string' }, connections: { type: 'string' }, rounds: { type: 'string' },
      rate: { type: 'string' }, targets: { type: 'string' },
      pin: { type: 'boolean' }, 'no-pin': { type: 'boolean' }, 'keep-tmp': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(HELP); process.exit(0); }
  const mode: Mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const quick = mode !== 'full';
  let targets = TARGETS;
  if (values.targets !== undefined) {
    const names = values.targets.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
    if (unknown.length > 0) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
    targets = TARGETS.filter((t) => names.includes(t.name));
  }
  const durationS = positive(values.duration, 'duration', quick ? 3 : 10);
  return {
    mode,
    connections: Math.round(positive(values.connections, 'connections', quick ? 16 : 32)),
    durationS,
    warmupS: quick ? 1 : 2,
    rounds: Math.round(positive(values.rounds, 'rounds', quick ? 2 : 3)),
    fixedRate: Math.round(positive(values.rate, 'rate', 2000)),
    fixedS: quick ? 1.5 : Math.min(10, durationS),
    pin: values['no-pin'] ? false : (values.pin ?? os.availableParallelism() >= 2),
    targets,
    keepTmp: values['keep-tmp'] ?? false,
  };
}

function estimateS(s: Settings): number {
  if (s.mode === 'smoke') return 15;
  const n = s.targets.length;
  return s.rounds * n * (s.warmupS + PAYLOADS.length * s.durationS) + n * PAYLOADS.length * (s.fixedS * 1.25 + 0.1) + 10;
}

const say = (line: string): void => { process.stdout.write(`${line}\n`); };

interface Live { spec: TargetSpec; result: TargetResult; running?: RunningTarget }

/** 200 with the upstream's exact bytes for both payloads, then the target's own checks. */
async function checkTarget(live: Live, ctx: TargetContext, headers: Record<string, string>): Promise<void> {
  const t = live.running as RunningTarget;
  for (const p of PAYLOADS) {
    const r = await httpGet(`${t.url}${payloadPath(p)}`, headers, 5000);
    if (r.status !== 200) throw new Error(`${p}: HTTP ${r.status} ${r.body.toString('utf8', 0, 200)}`);
    if (!r.body.equals(payloadBody(p))) throw new Error(`${p}: body differs from the upstream's (${r.body.length} bytes)`);
  }
  await live.spec.extraCheck?.(t, ctx);
}

interface Measured { load: LoadResult; cpuUsPerReq: number; upstreamCpuUsPerReq: number }

/** CPU of the target's process tree (and of the upstream) over one load run, or the window it marks. */
async function measure(t: RunningTarget, upstreamPid: number, run: (w: Window) => Promise<LoadResult>): Promise<Measured> {
  let before: [number, number] | undefined;
  let after: [number, number] | undefined;
  const read = (): [number, number] => [treeCpuTicks(t.pid), treeCpuTicks(upstreamPid)];
  const read0 = read();
  const res = await run({ begin: () => { before = read(); }, end: () => { after = read(); } });
  // Runs that mark no window are measured from start to end.
  const b = before ?? read0;
  const e = after ?? read();
  const n = Math.max(1, res.requests);
  return {
    load: res,
    cpuUsPerReq: ticksToMicros(e[0] - b[0]) / n,
    upstreamCpuUsPerReq: ticksToMicros(e[1] - b[1]) / n,
  };
}

function describeRun(name: string, what: string, m: Measured): string {
  const bad = m.load.non2xx + m.load.errors + m.load.timeouts;
  return `  ${name.padEnd(11)} ${what.padEnd(12)} ${Math.round(m.load.rps).toString().padStart(6)} req/s  `
    + `${m.cpuUsPerReq.toFixed(1).padStart(6)} µs/req  p50 ${m.load.p50Ms.toFixed(2)} ms  p99 ${m.load.p99Ms.toFixed(2)} ms`
    + `${m.load.maxSendLagMs !== undefined ? `  send lag ≤ ${m.load.maxSendLagMs.toFixed(1)} ms` : ''}`
    + `${bad > 0 ? `  ⚠ ${bad} bad (${JSON.stringify(m.load.statusCodes)}, errors ${m.load.errors}, timeouts ${m.load.timeouts})` : ''}`;
}

function renderReport(s: Settings, facts: MachineFacts, results: TargetResult[], pinning: string, date: string): string {
  const flagged = flaggedRows(results);
  let md = `# rolegate proxy benchmark\n\n`
    + `Generated by \`npm run bench${s.mode === 'full' ? '' : ` -- --${s.mode}`}\` on ${date}. How to read it: [README.md](README.md).\n\n`
    + `- machine: ${facts.cpuModel}, ${facts.cores} cores, ${facts.memoryGiB} GiB, ${facts.kernel}\n`
    + `- node ${facts.node}, ${facts.nginx}, autocannon ${facts.autocannon}, undici ${facts.undici}\n`
    + `- load average at start ${facts.loadAvgStart.join(' ')}, at end ${(facts.loadAvgEnd ?? []).join(' ')}\n`
    + `- autocannon: ${s.connections} connections, pipelining 1, ${s.durationS} s per run, ${s.warmupS} s warm-up per target per round, `
    + `${s.rounds} interleaved rounds (median and min–max over rounds)\n`
    + `- pinning: ${pinning}\n`
    + `- payloads: small ${payloadBody('small').length} B, large ${payloadBody('large').length} B JSON\n\n`;
  if (flagged.length > 0) md += `**Flagged rows (non-2xx, socket errors or timeouts): ${flagged.join('; ')}**\n\n`;
  for (const p of PAYLOADS) {
    md += `## Saturation, ${p} JSON (${payloadBody(p).length} B)\n\n${mainTable(results, p)}\n`;
  }
  md += `† direct: client straight to the stub upstream; its CPU column is the upstream's own cost per request, `
    + `the other rows count only the proxy's process tree.\n\n`;
  for (const p of PAYLOADS) {
    md += `## Fixed rate ${s.fixedRate} req/s, ${s.fixedS} s, ${p} JSON\n\n`
      + `Open-loop paced client (undici Pool, ${s.connections} connections), latency from each request's scheduled time. `
      + `"rate / saturation" is the fixed rate as a share of the target's saturation req/s above; `
      + `at 70 % or more (⚠) the latencies are mostly queueing.\n\n`
      + `${fixedRateTable(results, p)}\n`;
  }
  return md;
}

async function main(): Promise<number> {
  const s = settingsFromArgs(process.argv.slice(2));
  const benchDist = dirname(fileURLToPath(import.meta.url));
  const repoRoot = join(benchDist, '..', '..');
  const t0 = Date.now();
  const budgetS = estimateS(s);
  // Hard bound on the whole run, whatever hangs.
  setTimeout(() => {
    process.stderr.write(`bench: exceeded its time bound (${Math.round(budgetS * 1.5 + 60)} s), aborting\n`);
    process.exit(3);
  }, (budgetS * 1.5 + 60) * 1000).unref();

  const facts = machineFacts();
  let loadCore: number | undefined;
  let proxyCore: number | undefined;
  let upstreamCore: number | undefined;
  let pinning = 'off';
  if (s.pin) {
    if (os.availableParallelism() < 2) pinning = 'off (needs 2+ cores)';
    else if (!hasTaskset()) pinning = 'off (taskset not found)';
    else if (!pinSelf(0)) pinning = 'off (taskset failed)';
    else {
      loadCore = 0;
      proxyCore = 1;
      upstreamCore = os.availableParallelism() >= 3 ? 2 : 0;
      pinning = `load generator core ${loadCore}, proxy core ${proxyCore}, upstream core ${upstreamCore}`;
    }
  }
  say(`rolegate bench: ${s.mode}, targets ${s.targets.map((t) => t.name).join(', ')}; ~${Math.round(budgetS)} s; pinning ${pinning}`);

  const tmpDir = mkdtempSync(join(os.tmpdir(), 'rolegate-bench-'));
  process.on('exit', () => {
    killAllNow();
    if (!s.keepTmp) rmSync(tmpDir, { recursive: true, force: true });
  });
  const children: Child[] = [];
  const tokens = await startTokenKit();
  const headers = { authorization: `Bearer ${tokens.good}`, accept: 'application/json' };

  const upstreamPort = await freePort();
  const upstream = spawnChild('upstream', process.execPath, [join(benchDist, 'upstream.js'), String(upstreamPort)], {
    core: upstreamCore, stderrFile: join(tmpDir, 'upstream.stderr.log'),
  });
  children.push(upstream);
  await waitReadyOrStop(upstream, `http://127.0.0.1:${upstreamPort}/healthz`, 10_000);

  const ctx: TargetContext = { repoRoot, benchDist, tmpDir, upstreamPort, upstreamPid: upstream.pid, proxyCore, tokens };
  const lives: Live[] = [];
  let failures = 0;
  // Start and check all targets at once (they are independent), report in table order.
  const started = await Promise.all(s.targets.map(async (spec): Promise<{ live: Live; line: string; failed: boolean }> => {
    const live: Live = { spec, result: { name: spec.name, description: spec.description, samples: [], fixedRate: [] } };
    const why = spec.unavailable?.(ctx);
    if (why !== undefined) {
      live.result.unavailable = why;
      return { live, line: `  ${spec.name}: unavailable: ${why}`, failed: false };
    }
    try {
      live.running = await spec.start(ctx);
      if (live.running.child) children.push(live.running.child);
      await checkTarget(live, ctx, headers);
      return { live, line: `  ${spec.name}: up at ${live.running.url} (pid ${live.running.pid}), answers correctly`, failed: false };
    } catch (err) {
      live.result.unavailable = (err as Error).message;
      await live.running?.child?.stop();
      delete live.running;
      return { live, line: `  ${spec.name}: unavailable: ${(err as Error).message}`, failed: true };
    }
  }));
  for (const o of started) {
    lives.push(o.live);
    say(o.line);
    if (o.failed) failures++;
  }
  const ready = lives.filter((l) => l.running !== undefined);

  if (s.mode === 'smoke') {
    // Exercise the measuring path too: a few requests per target through autocannon and /proc.
    for (const l of ready) {
      const url = `${(l.running as RunningTarget).url}${payloadPath('small')}`;
      const m = await measure(l.running as RunningTarget, upstream.pid, () => runLoad({ url, headers, connections: 4, durationS: 0.3 }));
      say(describeRun(l.spec.name, 'smoke', m));
      const bad = m.load.non2xx + m.load.errors + m.load.timeouts;
      if (bad > 0 || m.load.requests < 20 || !Number.isFinite(m.cpuUsPerReq)) {
        failures++;
        say(`  ${l.spec.name}: smoke load run failed (${m.load.requests} answers, ${bad} bad)`);
      }
    }
  } else {
    for (let round = 1; round <= s.rounds; round++) {
      say(`round ${round}/${s.rounds}`);
      // Rotate the order each round so no target always runs first or last.
      const order = ready.map((_, i) => ready[(i + round - 1) % ready.length] as Live);
      for (const l of order) {
        const t = l.running as RunningTarget;
        for (const p of PAYLOADS) {
          await runLoad({ url: `${t.url}${payloadPath(p)}`, headers, connections: s.connections, durationS: s.warmupS / PAYLOADS.length });
        }
        for (const p of PAYLOADS) {
          const url = `${t.url}${payloadPath(p)}`;
          const m = await measure(t, upstream.pid, () => runLoad({ url, headers, connections: s.connections, durationS: s.durationS }));
          say(describeRun(l.spec.name, `${p}`, m));
          l.result.samples.push({
            round, payload: p, requests: m.load.requests, cpuUsPerReq: m.cpuUsPerReq, upstreamCpuUsPerReq: m.upstreamCpuUsPerReq,
            rps: m.load.rps, p50Ms: m.load.p50Ms, p99Ms: m.load.p99Ms, non2xx: m.load.non2xx, errors: m.load.errors, timeouts: m.load.timeouts,
          });
        }
      }
    }
    say(`fixed rate ${s.fixedRate} req/s, ${s.fixedS} s`);
    for (const l of ready) {
      const t = l.running as RunningTarget;
      for (const p of PAYLOADS) {
        const url = `${t.url}${payloadPath(p)}`;
        const m = await measure(t, upstream.pid, (w) => runPaced({ url, headers, connections: s.connections, durationS: s.fixedS, rate: s.fixedRate }, w));
        say(describeRun(l.spec.name, `${p}@rate`, m));
        l.result.fixedRate.push({
          payload: p, rate: s.fixedRate, requests: m.load.requests, rps: m.load.rps, p50Ms: m.load.p50Ms, p99Ms: m.load.p99Ms,
          cpuUsPerReq: m.cpuUsPerReq, non2xx: m.load.non2xx, errors: m.load.errors, timeouts: m.load.timeouts,
          maxSendLagMs: m.load.maxSendLagMs ?? 0,
        });
      }
    }
  }
  for (const l of ready) l.result.peakRssKb = treePeakRssKb((l.running as RunningTarget).pid);

  facts.loadAvgEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  const date = new Date().toISOString();
  const results = lives.map((l) => l.result);
  if (s.mode !== 'smoke') {
    const report = renderReport(s, facts, results, pinning, date);
    say(`\n${report}`);
    const resultsDir = join(repoRoot, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${date.replace(/[:.]/g, '-')}.json`);
    const { targets: _specs, ...settings } = s;
    writeFileSync(file, `${JSON.stringify({
      date, mode: s.mode, settings: { ...settings, targets: s.targets.map((t) => t.name) }, pinning, machine: facts,
      payloadBytes: { small: payloadBody('small').length, large: payloadBody('large').length },
      flagged: flaggedRows(results), targets: results,
    }, null, 2)}\n`);
    writeFileSync(join(repoRoot, 'bench', 'RESULTS.md'), report);
    say(`wrote ${file} and bench/RESULTS.md`);
  }
  await stopAll(children);
  await tokens.close();
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (s.mode === 'smoke') {
    say(failures === 0 ? 'bench smoke: ok' : `bench smoke: ${failures} target(s) failed`);
    return failures === 0 ? 0 : 1;
  }
  return 0;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping children\n`);
    process.exit(130); // the 'exit' handler kills every child group
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
