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
import { createLogger, isoTime, requestLineWriter, type RequestFacts } from '../../src/ops/logger.js';
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

  test('the request line written without pino is byte for byte what pino writes for the same fields', () => {
    const file = join(dir, 'request-line.log');
    const logger = createLogger('info', file);
    const write = requestLineWriter(logger);
    const base: RequestFacts = { id: 'a1b2c3d4-0000-4000-8000-000000000001', traceId: undefined, method: 'GET', route: 'deals.read', resource: 'deals', action: 'read', principal: 'u-1', reason: 'allow' };
    const cases: [RequestFacts, string, number, number, string | undefined][] = [
      [base, 'allow', 200, 1.234, undefined],
      [{ ...base, traceId: '0af7651916cd43dd8448eb211c80319c', resource: '', action: '', principal: undefined, route: 'none', reason: 'missing_token' }, 'deny', 401, 0.05, undefined],
      [{ ...base, principal: 'we"ird\\sub\u0001\u2028ü😀', reason: 'not_granted' }, 'deny', 403, 12, 'method "X" is not in http.methods'],
      [{ ...base, principal: 'p'.repeat(150) }, 'allow', 200, 0, undefined],
    ];
    for (const [facts, decision, status, ms, detail] of cases) {
      write('info', facts, decision, status, ms, undefined, detail);
      logger.info({
        request_id: facts.id, trace_id: facts.traceId, method: facts.method, route: facts.route, resource: facts.resource || undefined,
        action: facts.action || undefined, principal: facts.principal, decision, reason: facts.reason, status, duration_ms: ms, err: undefined, detail,
      }, 'request');
    }
    write('warn', base, 'allow', 502, 3, undefined, undefined);
    logger.warn({ request_id: base.id, method: base.method, route: base.route, resource: base.resource, action: base.action, principal: base.principal, decision: 'allow', reason: base.reason, status: 502, duration_ms: 3 }, 'request');
    logger.flush();
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/"time":"[^"]+"/, '"time":"T"'));
    assert.equal(lines.length, 2 * (cases.length + 1));
    for (let i = 0; i < lines.length; i += 2) assert.equal(lines[i], lines[i + 1]);
    assert.equal(JSON.parse(lines[4]!).principal, 'we"ird\\sub\u0001\u2028ü😀');
  });

  test('the line time is toISOString to the millisecond, across second, minute, day and year edges', () => {
    const realNow = Date.now;
    const instants = [0, 999, 1000, 59_999, 60_000, 60_001, Date.UTC(2026, 10, 25, 9, 59, 59, 999), Date.UTC(2026, 10, 25, 10, 0, 0, 7),
      Date.UTC(2026, 11, 31, 23, 59, 59, 990), Date.UTC(2027, 0, 1, 0, 0, 0, 100), Date.UTC(2026, 10, 25, 9, 0, 5, 42)];
    try {
      for (const t of instants) {
        Date.now = () => t;
        assert.equal(isoTime(), `,"time":"${new Date(t).toISOString()}"`, `at ${t}`);
      }
    } finally {
      Date.now = realNow;
    }
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
