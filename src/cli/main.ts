#!/usr/bin/env node
import { LoadError } from '../config/index.js';
import { serve, serveHelp } from './serve.js';
import { check, checkHelp } from './check.js';
import { token, tokenHelp } from './token.js';
import { demo, demoHelp } from './demo.js';
import { members, membersHelp } from './members.js';
import { relations, relationsHelp } from './relations.js';
import { importCommand, importHelp } from './import.js';
import { test, testHelp } from './test.js';
import { explain, explainHelp } from './explain.js';
import { whoCan, whoCanHelp } from './who-can.js';
import { access, accessHelp } from './access.js';
import { diff, diffHelp } from './diff.js';
import { replay, replayHelp } from './replay.js';
import { schema, schemaHelp } from './schema.js';
import { audit, auditHelp } from './audit.js';
import { demoUpstream, demoUpstreamHelp } from './demo-upstream.js';
import { out, err, UsageError } from './output.js';

const COMMANDS: Record<string, { run(argv: string[]): Promise<number>; help: string }> = {
  serve: { run: serve, help: serveHelp },
  check: { run: check, help: checkHelp },
  token: { run: token, help: tokenHelp },
  demo: { run: demo, help: demoHelp },
  members: { run: members, help: membersHelp },
  relations: { run: relations, help: relationsHelp },
  import: { run: importCommand, help: importHelp },
  test: { run: test, help: testHelp },
  explain: { run: explain, help: explainHelp },
  'who-can': { run: whoCan, help: whoCanHelp },
  access: { run: access, help: accessHelp },
  diff: { run: diff, help: diffHelp },
  replay: { run: replay, help: replayHelp },
  schema: { run: schema, help: schemaHelp },
  audit: { run: audit, help: auditHelp },
  'demo-upstream': { run: demoUpstream, help: demoUpstreamHelp },
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
  const cmd = COMMANDS[name];
  if (!cmd) { err(`rolegate: unknown command "${name}"\n\n${USAGE}`); return 2; }
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
