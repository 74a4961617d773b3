// `npm run bench [-- --quick | --smoke | ...]`: what each proxy costs per request. See bench/README.md.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hasTaskset, killAllNow, pinSelf, spawnChild, stopAll, waitReadyOrStop } from './child.js';
import type { Child } from './child.js';
import { machineFacts } from './machine.js';
import { microTable, runMicro } from './micro-run.js';
import { checkTarget, fixedRate, payloadsOf, saturationRounds, say, smokeLoad } from './measure.js';
import type { Live } from './measure.js';
import { treePeakRssKb } from './proc-stats.js';
import { renderReport, writeResults } from './report.js';
import { runRevocation } from './revocation.js';
import type { RevocationOutcome } from './revocation.js';
import { estimateS, revocationLimitS, settingsFromArgs, streamLimitS } from './settings.js';
import type { Settings } from './settings.js';
import { runStreaming } from './streaming.js';
import type { StreamOutcome } from './streaming.js';
import { redisUnavailable } from './targets.js';
import type { TargetContext } from './targets.js';
import { startTokenKit } from './tokens.js';

interface Pinning { text: string; proxy?: number; upstream?: number }

interface Sections { streaming: StreamOutcome; revocation: RevocationOutcome | { error: string }; failures: number }

/** Streaming and revocation lag, after the load rounds (streaming resets the peak-RSS reading). */
async function sections(s: Settings, ready: Live[], ctx: TargetContext, headers: Record<string, string>): Promise<Sections> {
  let failures = 0;
  const sizeNote = s.streamBytes === 200e6 ? '' : `${s.mode === 'smoke' ? 'smoke' : '--stream-mb'}: ${s.streamBytes / 1e6} MB, not the 200 MB of the target`;
  const streaming = await runStreaming(ready, s.streamBytes, sizeNote, headers, streamLimitS(s));
  failures += streaming.samples.filter((x) => x.error !== undefined).length;
  let revocation: RevocationOutcome | { error: string };
  const missing = redisUnavailable(ctx);
  if (missing !== undefined) {
    say(`revocation lag: unavailable: ${missing}`);
    return { streaming, revocation: { error: missing }, failures };
  }
  try {
    revocation = await runRevocation(ctx, s.revocations, revocationLimitS(s));
    say(`  ${revocation.revocations} revocations: p50 ${revocation.p50Ms.toFixed(2)} ms, p99 ${revocation.p99Ms.toFixed(2)} ms, max ${revocation.maxMs.toFixed(2)} ms${revocation.note ? ` (${revocation.note})` : ''}`);
    if (revocation.revocations < s.revocations) failures++;
  } catch (err) {
    revocation = { error: (err as Error).message };
    say(`  revocation: unavailable: ${revocation.error}`);
    failures++;
  }
  return { streaming, revocation, failures };
}

/** Load generator (this process) on core 0, proxies on core 1, upstream on core 2 or next to the load generator. */
function pin(wanted: boolean): Pinning {
  const cores = os.availableParallelism();
  if (!wanted) return { text: 'off' };
  if (cores < 2) return { text: 'off (needs 2+ cores)' };
  if (!hasTaskset()) return { text: 'off (taskset not found)' };
  if (!pinSelf(0)) return { text: 'off (taskset failed)' };
  const upstream = cores >= 3 ? 2 : 0;
  return { text: `load generator core 0, proxy core 1, upstream core ${upstream}`, proxy: 1, upstream };
}

async function main(): Promise<number> {
  let s: ReturnType<typeof settingsFromArgs>;
  try {
    s = settingsFromArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n(npm run bench -- --help)\n`);
    return 2;
  }
  if (s === undefined) return 0;
  const benchDist = dirname(fileURLToPath(import.meta.url));
  const repoRoot = join(benchDist, '..', '..');
  const t0 = Date.now();
  const budgetS = estimateS(s);
  // Smoke gets more slack: it runs inside npm test, often beside other suites on the same cores.
  const limitS = Math.round(budgetS * (s.mode === 'smoke' ? 4 : 1.5) + 60);
  setTimeout(() => {
    process.stderr.write(`bench: exceeded its time bound (${limitS} s), aborting\n`);
    process.exit(3);
  }, limitS * 1000).unref();

  const facts = machineFacts();
  const pinning = pin(s.pin);
  say(`rolegate bench: ${s.mode}, targets ${s.targets.map((t) => t.name).join(', ')}; ~${Math.round(budgetS)} s; pinning ${pinning.text}`);

  const tmpDir = mkdtempSync(join(os.tmpdir(), 'rolegate-bench-'));
  process.on('exit', () => {
    killAllNow();
    if (s.keepTmp) process.stdout.write(`temp dir kept: ${tmpDir}\n`);
    else rmSync(tmpDir, { recursive: true, force: true });
  });
  const children: Child[] = [];
  const tokens = await startTokenKit();
  const headers = { authorization: `Bearer ${tokens.good}`, accept: 'application/json' };

  const upstreamPort = await freePort();
  const upstream = spawnChild('upstream', process.execPath, [join(benchDist, 'upstream.js'), String(upstreamPort)], {
    core: pinning.upstream, stderrFile: join(tmpDir, 'upstream.stderr.log'),
  });
  children.push(upstream);
  await waitReadyOrStop(upstream, `http://127.0.0.1:${upstreamPort}/healthz`, 10_000);

  const ctx: TargetContext = { repoRoot, benchDist, tmpDir, upstreamPort, upstreamPid: upstream.pid, proxyCore: pinning.proxy, tokens, mode: s.mode };
  // Start and check all targets at once (they are independent); report in table order.
  let failures = 0;
  const started = await Promise.all(s.targets.map(async (spec): Promise<{ live: Live; line: string; failed: boolean }> => {
    const live: Live = { spec, result: { name: spec.name, description: spec.description, payloads: [...payloadsOf(spec)], samples: [], fixedRate: [] } };
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
  const lives = started.map((o) => o.live);
  for (const o of started) {
    say(o.line);
    if (o.failed) failures++;
  }
  const ready = lives.filter((l) => l.running !== undefined);

  if (s.mode === 'smoke') {
    failures += await smokeLoad(ready, upstream.pid, headers);
    failures += (await sections(s, ready, ctx, headers)).failures;
    const micro = runMicro(benchDist, 0.02);
    if ('error' in micro) { failures++; say(`  micro: ${micro.error}`); } else say(`  micro: ${micro.rows.map((r) => `${r.name} ${r.p50Ns} ns/op`).join(', ')}`);
  } else {
    await saturationRounds(s, ready, upstream.pid, headers);
    await fixedRate(s, ready, upstream.pid, headers);
    for (const l of ready) if (l.running) l.result.peakRssKb = treePeakRssKb(l.running.pid);
    const { streaming, revocation } = await sections(s, ready, ctx, headers);
    say('micro-benchmarks...');
    const micro = runMicro(benchDist, 1);
    say(microTable(micro));
    facts.loadAvgEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
    const info = { settings: s, facts, pinning: pinning.text, date: new Date().toISOString(), results: lives.map((l) => l.result), micro, streaming, revocation };
    const report = renderReport(info);
    say(`\n${report}`);
    say(`wrote ${writeResults(join(repoRoot, 'bench'), info, report)} and bench/RESULTS.md`);
  }
  await stopAll(children);
  await tokens.close();
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (s.mode !== 'smoke') return 0;
  say(failures === 0 ? 'bench smoke: ok' : `bench smoke: ${failures} target(s) failed`);
  return failures === 0 ? 0 : 1;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping children\n`);
    process.exit(130); // the 'exit' handler kills every child's process group
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
