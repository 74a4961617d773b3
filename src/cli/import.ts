import { parseArgs } from 'node:util';
import { loadSeed } from '../store/index.js';
import { withWriter } from './members.js';
import { out, UsageError } from './output.js';

export const importHelp = `rolegate import FILE [--dry-run] [--json] [--config FILE]

Make the Redis store match FILE (store-seed format, YAML or JSON: members,
relations, partners), in one atomic step. Members the file no longer lists are
marked removed; relations and partners it lacks are deleted. Running it twice
changes nothing the second time. A bad file is rejected whole, with
file:line errors, before anything is written.
  --dry-run   report what would change, write nothing`;

export async function importCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new UsageError(`import takes exactly one FILE, got ${positionals.length}`);
  // validate the whole file before connecting: a bad file writes nothing
  const seed = loadSeed(positionals[0]!);
  const dryRun = values['dry-run'];
  const report = await withWriter(values.config, (w) => w.importSeed(seed, { dryRun }));
  if (values.json) { out(JSON.stringify(report, null, 2)); return 0; }
  const sign = { added: '+', changed: '~', removed: '-' } as const;
  for (const c of report.changes) out(`${sign[c.change]} ${c.kind} ${c.id}`);
  const total = report.added + report.changed + report.removed;
  out(`${dryRun ? 'dry run, nothing written: ' : ''}${total} change${total === 1 ? '' : 's'}: ${report.added} added, ${report.changed} changed, ${report.removed} removed (store version ${report.version})`);
  return 0;
}
