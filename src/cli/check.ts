import { parseArgs } from 'node:util';
import { loadConfig, LoadError, formatDiagnostic, type Diagnostic } from '../config/index.js';
import { loadPolicy, policyFiles } from '../policy/index.js';
import { loadSeed } from '../store/index.js';
import { out, err } from './output.js';

export const checkHelp = `rolegate check [--config FILE]

Validate the config and every policy file (and the store seed). Prints each
problem as file:line:col: key: message and exits 1 if there is any.`;

export async function check(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  const file = values.config ?? process.env.ROLEGATE_CONFIG ?? 'config/gateway.yaml';
  const problems: Diagnostic[] = [];
  const collect = (e: unknown) => { if (e instanceof LoadError) problems.push(...e.diagnostics); else throw e; };
  let config;
  try { config = loadConfig(file); } catch (e) { collect(e); }
  if (config) {
    try {
      const policy = loadPolicy(config.policy.paths, { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods });
      out(`policy ${policy.version}: ${policyFiles(config.policy.paths).length} file(s), ${policy.roles.size} roles, ${policy.permissions.length} permissions, ${policy.routes.routes.length} routes`);
    } catch (e) { collect(e); }
    if (config.store.seed) {
      try { loadSeed(config.store.seed); } catch (e) { collect(e); }
    }
  }
  for (const p of problems) err(formatDiagnostic(p));
  if (problems.length) { err(`${problems.length} problem(s)`); return 1; }
  out(`ok: ${file}`);
  return 0;
}
