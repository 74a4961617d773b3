// npm test: every compiled suite under dist/test (node:test), the policy suites (rolegate test), then the benchmark smoke run.
// Redis suites get their own redis-server on a free loopback port (test/helpers/redis.ts), never the machine's.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? find(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const files = find('dist/test').sort();
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=120000', ...selected], { stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
if (!only.length) {
  // the policy suites beside the policies, through the same command platform engineers run
  const suites = spawnSync(process.execPath, ['dist/src/cli/main.js', 'test', 'policies', '--coverage'], { stdio: 'inherit' });
  if (suites.status !== 0) process.exit(suites.status ?? 1);
  const bench = spawnSync(process.execPath, ['dist/bench/run.js', '--smoke'], { stdio: 'inherit', timeout: 120000 });
  process.exit(bench.status ?? 1);
}
