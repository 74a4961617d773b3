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
  test       run policy test suites (*_test.yaml), with --coverage`;

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
