import { parseArgs } from 'node:util';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LoadError } from '../config/index.js';
import { runSuite, coverage, TEST_SUITE, type SuiteResult } from '../policy/index.js';
import { out, err } from './output.js';

export const testHelp = `rolegate test [PATH...] [--coverage]

Run policy test suites (*_test.yaml or *.test.yaml; folders are searched
recursively; default: policies/). Each case names a principal, a request and
the expected decision (allow, deny, or a reason such as condition_failed).
Failures are listed as file:line; exit 1 on any failure.
  --coverage   list routes no case reaches and role grants no case exercises`;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function findSuites(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p).sort().flatMap((f) => {
    const full = join(p, f);
    return statSync(full).isDirectory() ? findSuites(full) : TEST_SUITE.test(f) ? [full] : [];
  });
}

export async function test(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { coverage: { type: 'boolean', default: false } } });
  const files = (positionals.length ? positionals : ['policies']).flatMap(findSuites);
  if (files.length === 0) { err('rolegate test: no test suites (*_test.yaml, *.test.yaml) found'); return 1; }
  const results: SuiteResult[] = [];
  let broken = 0;
  for (const f of files) {
    try {
      const r = await runSuite(f, METHODS);
      results.push(r);
      for (const x of r.failures) {
        err(`FAIL ${relative('.', x.file)}:${x.line}: ${x.name ? x.name + ': ' : ''}as ${x.as} ${x.request}: expected ${x.expected}, got ${x.actual}`);
      }
      out(`${r.failures.length ? 'FAIL' : 'ok  '} ${relative('.', f)}: ${r.cases - r.failures.length}/${r.cases} passed`);
    } catch (e) {
      broken++;
      err(e instanceof LoadError ? e.message : `${f}: ${(e as Error).message}`);
    }
  }
  const cases = results.reduce((n, r) => n + r.cases, 0);
  const failed = results.reduce((n, r) => n + r.failures.length, 0);
  if (values.coverage) {
    const c = coverage(results);
    out(`\ncoverage: ${c.routes.length} route(s) and ${c.grants.length} grant(s) no case exercises`);
    const rel = (line: string) => line.replace(process.cwd() + '/', '');
    for (const r of c.routes) out(`  route ${rel(r)}`);
    for (const g of c.grants) out(`  grant ${rel(g)}`);
  }
  out(`\n${files.length} suite(s), ${cases} case(s), ${failed} failed${broken ? `, ${broken} suite(s) could not load` : ''}`);
  return failed || broken ? 1 : 0;
}
