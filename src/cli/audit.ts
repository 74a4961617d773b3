import { parseArgs } from 'node:util';
import { RedisAdminStore, type AuditEntry } from '../store/index.js';
import { redisConfigOf } from './members.js';
import { formatTable, out, UsageError } from './output.js';

export const auditHelp = `rolegate audit [--limit N] [--before ID] [--json] [--config FILE]

The admin API's audit log, newest first: who changed what, when, before and
after, with the request id. Read from the Redis store named by the config
(the in-memory store keeps its log inside the gateway: GET /v1/audit).
  --limit N     entries to show (1-1000, default 50)
  --before ID   only entries older than this id (page with the last id shown)
  --json        one JSON object per line, with before/after in full`;

export async function audit(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, limit: { type: 'string', default: '50' }, before: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length) throw new UsageError(`audit takes no arguments, got "${positionals.join(' ')}"`);
  const limit = Number(values.limit);
  if (!/^\d+$/.test(values.limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be an integer from 1 to 1000, got "${values.limit}"`);
  const config = redisConfigOf(values.config);
  const store = await RedisAdminStore.open(config.store.redis!, { auditMaxEntries: config.admin?.audit_max_entries ?? 10000 });
  try {
    const entries = await store.listAudit({ limit, before: values.before });
    out(values.json ? entries.map((e) => JSON.stringify(e)).join('\n') || '' : describe(entries));
  } finally {
    await store.close();
  }
  return 0;
}

function describe(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return '(no audit entries)';
  return formatTable([
    ['ID', 'WHEN', 'ACTOR', 'ACTION', 'TARGET', 'REQUEST'],
    ...entries.map((e) => [e.id, new Date(e.at_ms).toISOString(), e.actor, e.action, e.target, e.request_id]),
  ]);
}
