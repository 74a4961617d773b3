/**
 * The log destination (LineBatcher): lines are batched, not lost — written on
 * flush, after a short delay at low traffic, at process exit, and by the built
 * CLI on SIGTERM (one line per request served).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/ops/logger.js';
import { bearer, http, spawnGateway } from '../helpers/gateway.js';
import { eventually } from '../helpers/stub-upstream.js';

const LOGGER_MODULE = fileURLToPath(new URL('../../src/ops/logger.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rolegate-logger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const parse = (raw: string): Record<string, any>[] => raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

describe('log destination', () => {
  test('lines wait for their batch, and flush() writes them all, in order, before it returns', () => {
    const file = join(dir, 'flush', 'app.log');
    const logger = createLogger('info', file);
    for (let i = 0; i < 10; i++) logger.info({ i }, 'line');
    assert.equal(readFileSync(file, 'utf8'), '', 'a few lines are not a batch yet');
    logger.flush();
    assert.deepEqual(parse(readFileSync(file, 'utf8')).map((l) => l.i), [...Array(10).keys()]);
  });

  test('a full batch is written at once; a partial one shortly after, without a flush', async () => {
    const file = join(dir, 'batch.log');
    const logger = createLogger('info', file);
    const pad = 'x'.repeat(200);
    for (let i = 0; i < 200; i++) logger.info({ i, pad }, 'line');
    const written = parse(readFileSync(file, 'utf8')).length;
    assert.ok(written > 0 && written < 200, `${written} of 200 lines written by batches`);
    await eventually(() => parse(readFileSync(file, 'utf8')).length === 200, 2000);
    assert.deepEqual(parse(readFileSync(file, 'utf8')).map((l) => l.i), [...Array(200).keys()]);
  });

  test('lines still buffered when the process exits are written', () => {
    const file = join(dir, 'exit.log');
    const script = `const { createLogger } = await import(${JSON.stringify(LOGGER_MODULE)});
      const a = createLogger('info', ${JSON.stringify(file)});
      for (let i = 0; i < 5; i++) a.info({ i }, 'before exit');
      process.exit(3);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 3, r.stderr);
    assert.deepEqual(parse(readFileSync(file, 'utf8')).map((l) => l.i), [0, 1, 2, 3, 4]);
  });

  test('built CLI: every request served before SIGTERM has its line on stdout', async () => {
    const child = await spawnGateway();
    try {
      const tok = await child.token('u-olivia');
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) {
        const r = await http(`${child.url}/api/deals/d${i}`, { headers: i % 3 === 0 ? {} : bearer(tok) });
        ids.push(r.headers['x-rolegate-request-id'] as string);
      }
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0, child.stderr());
      const lines = parse(child.stdout());
      const logged = new Set(lines.filter((l) => l.msg === 'request').map((l) => l.request_id as string));
      assert.deepEqual(ids.filter((id) => !logged.has(id)), [], 'request lines missing after SIGTERM');
      assert.ok(lines.some((l) => l.signal === 'SIGTERM'), 'the shutdown line is written too');
    } finally {
      await child.close();
    }
  });
});
