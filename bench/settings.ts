// Command-line options and the run settings derived from them.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { PAYLOADS } from './payloads.js';
import { TARGETS } from './targets.js';
import type { TargetSpec } from './targets.js';

export const HELP = `usage: npm run bench -- [options]
  --quick             short run (~3 min): 16 connections, 3 s, 2 rounds
  --smoke             every target starts and answers correctly (a few seconds); writes nothing
  --duration S        seconds per measured run (default 6, quick 3)
  --connections N     autocannon connections (default 32, quick 16)
  --rounds N          interleaved rounds (default 3, quick 2)
  --rate N            fixed-rate section: overall req/s (default 2000; rounds + 2 runs of 1.5 s, quick 1 run)
  --stream-mb N       streaming section: MB per upload and per download (default 200; smoke 4)
  --revocations N     revocation-lag section: revocations (default 200, quick 100; smoke 5)
  --targets a,b       subset of: ${TARGETS.map((t) => t.name).join(', ')}
  --pin / --no-pin    taskset pinning (default on with 2+ cores and taskset)
  --keep-tmp          keep the temp dir (configs, child stderr, nginx logs)
env: BENCH_NGINX=<nginx binary>, BENCH_ROLEGATE_CLI=<path to another build's dist/src/cli/main.js>
`;

export type Mode = 'full' | 'quick' | 'smoke';

export interface Settings {
  mode: Mode;
  connections: number;
  durationS: number;
  /** Warm-up per target per round, split between the payloads. */
  warmupS: number;
  rounds: number;
  fixedRate: number;
  /** Rounds of the fixed-rate section (1 in quick, to stay under 2 minutes). */
  fixedRounds: number;
  fixedS: number;
  /** Bytes per upload and per download in the streaming section. */
  streamBytes: number;
  revocations: number;
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

/** Parsed settings, or undefined after printing --help. Throws on bad options. */
export function settingsFromArgs(argv: string[]): Settings | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' }, smoke: { type: 'boolean' }, help: { type: 'boolean' },
      duration: { type: 'string' }, connections: { type: 'string' }, rounds: { type: 'string' },
      rate: { type: 'string' }, targets: { type: 'string' }, 'stream-mb': { type: 'string' }, revocations: { type: 'string' },
      pin: { type: 'boolean' }, 'no-pin': { type: 'boolean' }, 'keep-tmp': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return undefined;
  }
  const mode: Mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const quick = mode !== 'full';
  let targets = TARGETS;
  if (values.targets !== undefined) {
    const names = values.targets.split(',').map((x) => x.trim()).filter(Boolean);
    const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
    if (unknown.length > 0) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
    targets = TARGETS.filter((t) => names.includes(t.name));
  }
  // Full: 6 s runs keep nine rows, streaming and revocation under 10 minutes; a 6 s run at a saturated
  // core is ~600 clock ticks, so the tick still costs under 0.2 % of CPU µs/req.
  const durationS = positive(values.duration, 'duration', quick ? 3 : 6);
  const rounds = Math.round(positive(values.rounds, 'rounds', quick ? 2 : 3));
  return {
    mode,
    connections: Math.round(positive(values.connections, 'connections', quick ? 16 : 32)),
    durationS,
    warmupS: quick ? 1 : 2,
    rounds,
    fixedRate: Math.round(positive(values.rate, 'rate', 2000)),
    // more, shorter rounds than the saturation section: the added p50 is a difference of ~0.1 ms, paired by round
    fixedRounds: quick ? 1 : rounds + 2,
    fixedS: quick ? 1.5 : Math.min(1.5, durationS),
    streamBytes: Math.round(positive(values['stream-mb'], 'stream-mb', mode === 'smoke' ? 4 : 200) * 1e6),
    revocations: Math.round(positive(values.revocations, 'revocations', mode === 'smoke' ? 5 : mode === 'quick' ? 100 : 200)),
    pin: values['no-pin'] ? false : (values.pin ?? os.availableParallelism() >= 2),
    targets,
    keepTmp: values['keep-tmp'] ?? false,
  };
}

/** Seconds the streaming section may take per transfer (then it is cut and reported). */
export const streamLimitS = (s: Settings): number => Math.max(20, s.streamBytes / 5e6);
/** Seconds the revocation section may take (then it stops early and says so). */
export const revocationLimitS = (s: Settings): number => 10 + s.revocations * 0.25;

/** Expected wall time in seconds (the run aborts past 1.5x this + 60 s). */
export function estimateS(s: Settings): number {
  const streaming = 6 * (s.streamBytes / 150e6 + 0.2); // 3 targets x 2 directions at ~150 MB/s
  const revocation = 5 + s.revocations * 0.03;
  if (s.mode === 'smoke') return 20 + streaming + revocation;
  const n = s.targets.length;
  const runs = s.targets.reduce((k, t) => k + (t.payloads ?? PAYLOADS).length, 0); // target x payload
  const fixed = s.fixedRounds * runs * (s.fixedS * 1.25 + 0.1); // + the paced client's pre-roll
  return s.rounds * (n * s.warmupS + runs * s.durationS) + fixed + streaming + revocation + 10 + 5; // + 5: micro-benchmarks
}
