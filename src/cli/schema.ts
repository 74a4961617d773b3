import { parseArgs } from 'node:util';
import { configSchema } from '../config/schema.js';
import { decisionRecordSchema, policySchema, suiteSchema } from '../policy/index.js';
import { out, UsageError } from './output.js';

export const schemaHelp = `rolegate schema config|policy|tests|decision-log

Print the JSON Schema that validation uses, for editors: save it and point
yaml-language-server at it with a first line such as
  # yaml-language-server: $schema=../schemas/policy.schema.json
(see docs/editor-support.md). Semantic checks (unknown roles, route overlaps,
inherits cycles) are beyond a schema: \`rolegate check\` runs them.`;

const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** What `rolegate check` and the loaders validate against: the same objects, only titled. */
export const SCHEMAS: Record<string, { title: string; description: string; schema: object }> = {
  config: { title: 'rolegate gateway configuration', description: 'gateway.yaml: listeners, upstreams, auth, policy paths, store, limits. `${NAME}` / `${NAME:-default}` are read from the environment.', schema: configSchema },
  policy: { title: 'rolegate policy file', description: 'Resources, roles, groups, default roles and routes. Several files merge; cross-file checks run in `rolegate check`.', schema: policySchema },
  tests: { title: 'rolegate policy test suite', description: 'A *_test.yaml suite: principals, relations, partners and cases run by `rolegate test`.', schema: suiteSchema },
  'decision-log': { title: 'rolegate decision log record', description: 'One JSON line of the decision log (docs/decision-log.md). Readers ignore unknown fields.', schema: decisionRecordSchema },
};

export function schemaDocument(kind: string): object {
  const s = SCHEMAS[kind];
  if (!s) throw new UsageError(`expected one of ${Object.keys(SCHEMAS).join(', ')}, got "${kind}"`);
  return { $schema: DRAFT, title: s.title, description: s.description, ...s.schema };
}

export async function schema(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError(`expected one of ${Object.keys(SCHEMAS).join(', ')}`);
  out(JSON.stringify(schemaDocument(positionals[0]!), null, 2));
  return 0;
}
