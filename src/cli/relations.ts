import { parseArgs } from 'node:util';
import type { RelationsPatch } from '../store/index.js';
import { csv, describeWrite, withWriter } from './members.js';
import { out, UsageError } from './output.js';

export const relationsHelp = `rolegate relations set RESOURCE/ID [--assignees u1,u2] [--collaborators u3] [--partner P] [--config FILE]

Set who a record relates to, in the Redis store named by the config. Lists
given replace the stored ones ('' for none); left out: unchanged. Both
directions are written: the record's lists and each user's "records of
RESOURCE I am assigned to / collaborate on".`;

export async function relations(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'set') throw new UsageError(sub === undefined ? 'a subcommand is required: set' : `unknown subcommand "${sub}"`);
  const { values, positionals } = parseArgs({
    args: rest, strict: true, allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, assignees: { type: 'string' }, collaborators: { type: 'string' }, partner: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError(`relations set takes exactly one RESOURCE/ID, got ${positionals.length}`);
  const ref = positionals[0]!;
  const patch: RelationsPatch = {
    ...(values.assignees !== undefined ? { assignees: csv(values.assignees)! } : {}),
    ...(values.collaborators !== undefined ? { collaborators: csv(values.collaborators)! } : {}),
    ...(values.partner !== undefined ? { partner: values.partner } : {}),
  };
  const r = await withWriter(values.config, (w) => w.setRelations(ref, patch));
  out(describeWrite(`relations ${ref}`, r));
  return 0;
}
