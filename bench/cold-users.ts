// Row "rolegate-redis-cold": every request is a different user and a store miss. Thousands of members
// are imported into the row's own redis-server, the per-instance store cache is off
// (`store.cache.max_entries: 0`), and requests cycle through the users' tokens. Each token is sent once
// before measuring, so token verification is a cache hit: the row isolates the store read.
import { httpGet } from './child.js';
import { SMALL_PATH } from './payloads.js';
import { PARTNER_MEMBER, seedYaml, startRolegate } from './rolegate.js';
import type { Mode } from './settings.js';
import type { RunningTarget, TargetContext } from './targets.js';
import { SUBJECT } from './tokens.js';

/** A few thousand users (smoke: a few dozen, so it starts in seconds). */
export const coldUsers = (mode: Mode): number => (mode === 'smoke' ? 40 : 2000);

export async function startColdRedis(ctx: TargetContext, name: string): Promise<RunningTarget> {
  const ids = Array.from({ length: coldUsers(ctx.mode) }, (_, i) => `u-cold-${i}`);
  const members = seedYaml(Object.fromEntries([SUBJECT, ...ids].map((id) => [id, PARTNER_MEMBER])));
  const t = await startRolegate(ctx, name, { redis: true, storeYaml: '  cache: { max_entries: 0 }\n', members });
  try {
    const tokens = await Promise.all(ids.map((id) => ctx.tokens.mint(id, 'p-42')));
    await eachOnce(t.url, tokens);
    let next = 0;
    return { ...t, requestHeaders: () => ({ authorization: `Bearer ${tokens[next++ % tokens.length]}`, accept: 'application/json' }) };
  } catch (err) {
    await t.child?.stop();
    throw err;
  }
}

/** One request per token, 8 at a time, within 60 s: every user is let in, and its token lands in the verified-token cache. */
async function eachOnce(url: string, tokens: readonly string[]): Promise<void> {
  let i = 0;
  const deadline = Date.now() + 60_000;
  const worker = async (): Promise<void> => {
    while (i < tokens.length) {
      if (Date.now() > deadline) throw new Error(`only ${i} of ${tokens.length} cold users answered within 60 s`);
      const k = i++;
      const r = await httpGet(`${url}${SMALL_PATH}`, { authorization: `Bearer ${tokens[k] as string}` }, 5000);
      if (r.status !== 200) throw new Error(`cold user u-cold-${k}: HTTP ${r.status} ${r.body.toString('utf8', 0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

const storeReads = async (opsUrl: string): Promise<number> => {
  const text = (await httpGet(`${opsUrl}/metrics`, {}, 5000)).body.toString('utf8');
  return Number(/^rolegate_store_request_duration_seconds_count\{op="member"\} (\d+)/m.exec(text)?.[1] ?? Number.NaN);
};

/** The row must really miss: N requests, at least N member reads that went to Redis. */
export async function coldMisses(t: RunningTarget): Promise<void> {
  if (t.opsUrl === undefined || t.requestHeaders === undefined) throw new Error('cold row without ops URL or rotating tokens');
  const before = await storeReads(t.opsUrl);
  const n = 20;
  for (let k = 0; k < n; k++) await httpGet(`${t.url}${SMALL_PATH}`, t.requestHeaders(), 5000);
  const reads = (await storeReads(t.opsUrl)) - before;
  if (!(reads >= n)) throw new Error(`${n} requests made ${reads} store reads: the store cache is not off`);
}
