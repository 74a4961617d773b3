// Revocation lag: two rolegate instances on one Redis, both with the default per-instance store cache.
// Each round puts a fresh member in through the store writer (AssignmentWriter, what the CLI and admin
// API use), lets both instances answer 200 (so both have it cached), then revokes it (every other round
// the member is removed, else its roles are emptied) and polls the *other* instance until it denies
// with the matching reason. The lag runs from just before the write call to that 403; its resolution
// is one poll round trip (a keep-alive request through the gateway, well under a millisecond idle).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'undici';
import { httpGet } from './child.js';
import type { Child } from './child.js';
import { say } from './measure.js';
import { SMALL_PATH } from './payloads.js';
import { startRedis, startRolegate } from './rolegate.js';
import { median } from './table.js';
import type { RunningTarget, TargetContext } from './targets.js';
import { AssignmentWriter } from '../src/store/index.js';

/** Target of issue 4. */
export const REVOCATION_P99_TARGET_MS = 100;

export interface RevocationOutcome {
  revocations: number;
  removals: number;
  roleChanges: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The other instance's own `rolegate_invalidation_lag_seconds` (write time -> invalidation applied), mean. */
  appliedMeanMs?: number;
  /** Rounds cut short by the time bound or a failure. */
  note?: string;
}

const PARTNER = { status: 'active', roles: ['partner_contact'], org: 'p-42', kind: 'partner' } as const;

/** GET SMALL_PATH on a keep-alive connection: status and error reason. */
async function ask(client: Client, token: string): Promise<{ status: number; reason?: string }> {
  const r = await client.request({ method: 'GET', path: SMALL_PATH, headers: { authorization: `Bearer ${token}` }, headersTimeout: 5000, bodyTimeout: 5000 });
  const text = await r.body.text();
  if (r.statusCode === 200) return { status: 200 };
  try { return { status: r.statusCode, reason: (JSON.parse(text) as { reason?: string }).reason }; } catch { return { status: r.statusCode }; }
}

/** Polls until `client` denies with `reason`; only 200 may come back meanwhile. Returns the time at which it denied. */
async function untilDenied(client: Client, token: string, reason: string, limitMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const r = await ask(client, token);
    const now = performance.now();
    if (r.status === 403 && r.reason === reason) return now;
    if (r.status !== 200) throw new Error(`answer while waiting for ${reason}: ${r.status} ${r.reason ?? ''}`);
    if (now - t0 > limitMs) throw new Error(`still 200 ${limitMs} ms after the revocation`);
  }
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number);
}

async function appliedMeanMs(opsUrl: string | undefined): Promise<number | undefined> {
  if (opsUrl === undefined) return undefined;
  const text = (await httpGet(`${opsUrl}/metrics`, {}, 5000)).body.toString('utf8');
  const count = Number(/^rolegate_invalidation_lag_seconds_count (\d+)/m.exec(text)?.[1]);
  const sum = Number(/^rolegate_invalidation_lag_seconds_sum ([\d.e+-]+)/m.exec(text)?.[1]);
  return count > 0 ? (1000 * sum) / count : undefined;
}

/** `n` revocations (fewer if `limitS` runs out); throws if the setup fails. */
export async function runRevocation(ctx: TargetContext, n: number, limitS: number): Promise<RevocationOutcome> {
  say(`revocation lag: ${n} revocations across two rolegate instances on one Redis`);
  const dir = join(ctx.tmpDir, 'revocation');
  mkdirSync(dir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const clients: Client[] = [];
  try {
    const redis = await startRedis(dir, 'revocation-redis');
    stops.push(() => redis.child.stop());
    const start = async (name: string): Promise<RunningTarget> => {
      const t = await startRolegate(ctx, name, { redis: true, redisUrl: redis.url });
      stops.push(() => (t.child as Child).stop());
      return t;
    };
    const [a, b] = await Promise.all([start('revocation-a'), start('revocation-b')]);
    const writer = await AssignmentWriter.open({ url: redis.url, prefix: 'bench:', connect_timeout_ms: 2000, command_timeout_ms: 2000 });
    stops.push(() => writer.close());
    const [ca, cb] = [new Client(a.url), new Client(b.url)];
    clients.push(ca, cb);

    const deadline = performance.now() + limitS * 1000;
    const lags: number[] = [];
    let removals = 0;
    let note: string | undefined;
    for (let i = 0; i < n; i++) {
      if (performance.now() > deadline) { note = `stopped after ${i} of ${n}: time bound ${limitS} s`; break; }
      const id = `u-revoke-${i}`;
      const removal = i % 2 === 0;
      await writer.setMember(id, PARTNER);
      const token = await ctx.tokens.mint(id, 'p-42');
      for (const [c, which] of [[ca, 'a'], [cb, 'b']] as const) {
        const r = await ask(c, token);
        if (r.status !== 200) throw new Error(`new member ${id} got ${r.status} ${r.reason ?? ''} from instance ${which}`);
      }
      const t0 = performance.now();
      if (removal) await writer.removeMember(id);
      else await writer.setMember(id, { roles: [] });
      const reason = removal ? 'member_removed' : 'no_role';
      lags.push((await untilDenied(cb, token, reason, 5000)) - t0);
      if (removal) removals++;
      // The instance next to the writer must deny too (not measured: it shares the same path).
      const onA = await ask(ca, token);
      if (onA.status !== 403) throw new Error(`instance a still answers ${onA.status} after revoking ${id}`);
    }
    const sorted = [...lags].sort((x, y) => x - y);
    const applied = await appliedMeanMs(b.opsUrl);
    return {
      revocations: lags.length, removals, roleChanges: lags.length - removals,
      p50Ms: median(lags), p99Ms: pct(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      ...(applied !== undefined ? { appliedMeanMs: applied } : {}), ...(note !== undefined ? { note } : {}),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

export function revocationTable(o: RevocationOutcome | { error: string }): string {
  if ('error' in o) return `unavailable: ${o.error.replace(/\s+/g, ' ').slice(0, 300)}\n`;
  const ok = o.p99Ms < REVOCATION_P99_TARGET_MS ? '✓' : '✗';
  return '| revocations | member removed / roles emptied | p50 | p99 (target < 100 ms) | max | other instance: invalidation applied, mean |\n'
    + '| ---: | ---: | ---: | ---: | ---: | ---: |\n'
    + `| ${o.revocations} | ${o.removals} / ${o.roleChanges} | ${o.p50Ms.toFixed(2)} ms | ${o.p99Ms.toFixed(2)} ms ${ok} | ${o.maxMs.toFixed(2)} ms | `
    + `${o.appliedMeanMs === undefined ? 'n/a' : `${o.appliedMeanMs.toFixed(2)} ms`} |\n`
    + (o.note ? `\n⚠ ${o.note}\n` : '');
}
