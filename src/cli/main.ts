#!/usr/bin/env node
import { LoadError } from '../config/index.js';
import { out, err, UsageError } from './output.js';

/** Each command's module is loaded only when it runs: a command should not pay for every other's imports. */
const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number>; help: string }>> = {
  serve: async () => { const m = await import('./serve.js'); return { run: m.serve, help: m.serveHelp }; },
  check: async () => { const m = await import('./check.js'); return { run: m.check, help: m.checkHelp }; },
  token: async () => { const m = await import('./token.js'); return { run: m.token, help: m.tokenHelp }; },
  demo: async () => { const m = await import('./demo.js'); return { run: m.demo, help: m.demoHelp }; },
  members: async () => { const m = await import('./members.js'); return { run: m.members, help: m.membersHelp }; },
  relations: async () => { const m = await import('./relations.js'); return { run: m.relations, help: m.relationsHelp }; },
  import: async () => { const m = await import('./import.js'); return { run: m.importCommand, help: m.importHelp }; },
  test: async () => { const m = await import('./test.js'); return { run: m.test, help: m.testHelp }; },
  explain: async () => { const m = await import('./explain.js'); return { run: m.explain, help: m.explainHelp }; },
  'who-can': async () => { const m = await import('./who-can.js'); return { run: m.whoCan, help: m.whoCanHelp }; },
  access: async () => { const m = await import('./access.js'); return { run: m.access, help: m.accessHelp }; },
  diff: async () => { const m = await import('./diff.js'); return { run: m.diff, help: m.diffHelp }; },
  replay: async () => { const m = await import('./replay.js'); return { run: m.replay, help: m.replayHelp }; },
  schema: async () => { const m = await import('./schema.js'); return { run: m.schema, help: m.schemaHelp }; },
  audit: async () => { const m = await import('./audit.js'); return { run: m.audit, help: m.auditHelp }; },
  'demo-upstream': async () => { const m = await import('./demo-upstream.js'); return { run: m.demoUpstream, help: m.demoUpstreamHelp }; },
};

const USAGE = `rolegate: an authorization gateway for apps you cannot change

Usage: rolegate <command> [options]     rolegate <command> --help

Commands:
  serve      run the gateway (--config FILE)
  check      validate config and policy files, errors as file:line:key
  token      mint a development token from a local key
  demo       run the gateway in front of a bundled demo portal
  members    set, remove or list members in the Redis store
  relations  set a record's assignees, collaborators and partner
  import     load a store seed (YAML/JSON) into the Redis store, atomically
  test       run policy test suites (*_test.yaml), with --coverage
  explain    the decision trace of one request for one user (--as USER METHOD PATH)
  who-can    every member and role that may do RESOURCE:ACTION (--json, --csv)
  access     the permission matrix of one member
  diff       semantic diff of two policies (files, folders, git:REF:path): rights gained and lost
  replay     re-decide a decision log under a candidate policy; list what would change
  schema     print the JSON Schema of config, policy, tests files or decision-log lines
  audit      the admin API's audit log (who changed what, when, before and after)
  demo-upstream  run only the bundled demo portal upstream (--port N)`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') { out(USAGE); return name ? 0 : 2; }
  const load = COMMANDS[name];
  if (!load) { err(`rolegate: unknown command "${name}"\n\n${USAGE}`); return 2; }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) { out(cmd.help); return 0; }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof LoadError) { err(e.message); return 1; }
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) { err(`rolegate ${name}: ${(e as Error).message}\n\n${cmd.help}`); return 2; }
    err(`rolegate ${name}: ${(e as Error).message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exitCode = code; });
