/**
 * Forwarding: upstream failures map to 502/504 JSON, bodies stream both ways
 * with backpressure (large transfers pass intact while the gateway's memory
 * stays flat), a client abort reaches the upstream, per-route body limits give
 * 413, and the gateway is still serving after all of it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { bearer, http, spawnGateway, startTestGateway, type SpawnedGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually, patternChunks, patternSha256, sleep } from '../helpers/stub-upstream.js';
import { rawRequest, req } from '../helpers/raw-http.js';

const MB = 1024 * 1024;
const LARGE = 80 * MB;
const RSS_BUDGET = 50 * MB;

let gw: TestGateway;
let tok: string;

before(async () => {
  gw = await startTestGateway();
  tok = await gw.token('u-olivia');
  gw.upstream.on('/probe/reset', { reset: true });
  gw.upstream.on('/probe/garbage', { garbage: true });
  gw.upstream.on('/probe/truncate', { truncate: true });
  gw.upstream.on('/probe/slow-abort', { delayMs: 8000 });
  gw.upstream.on('/probe/teapot', { status: 500 });
  gw.upstream.on('/slow/', { delayMs: 2000 });
});
after(async () => { await gw?.close(); });

describe('upstream failures', () => {
  const CASES: [name: string, path: string, status: number, reason: string, error: string][] = [
    ['connection refused (closed port)', '/dead/x', 502, 'upstream_unavailable', 'bad_gateway'],
    ['connection reset', '/probe/reset', 502, 'upstream_unavailable', 'bad_gateway'],
    ['not HTTP', '/probe/garbage', 502, 'upstream_error', 'bad_gateway'],
    ['slower than timeout_ms', '/slow/x', 504, 'upstream_timeout', 'gateway_timeout'],
  ];
  for (const [name, path, status, reason, error] of CASES) {
    test(`${name} -> ${status} ${reason}`, async () => {
      const started = Date.now();
      const res = await http(`${gw.url}${path}`, { headers: bearer(tok), timeoutMs: 8000 });
      assert.equal(res.status, status, res.text);
      assert.equal(res.json?.error, error);
      assert.equal(res.json?.reason, reason);
      assert.equal(res.json?.request_id, res.headers['x-rolegate-request-id']);
      if (reason === 'upstream_timeout') assert.ok(Date.now() - started < 1800, `504 took ${Date.now() - started} ms (timeout_ms 400)`);
    });
  }

  test('an upstream 500 is relayed as is', async () => {
    const res = await http(`${gw.url}/probe/teapot`, { headers: bearer(tok) });
    assert.equal(res.status, 500);
    assert.equal(res.json?.ok, true);
  });

  test('an upstream dying mid-body truncates the client response, nothing else', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const r = httpRequest(`${gw.url}/probe/truncate`, { headers: bearer(tok), agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => { n += c.length; });
        res.on('end', () => resolve(`end after ${n}`));
        res.on('error', () => resolve(`error after ${n}`));
        res.on('aborted', () => resolve(`aborted after ${n}`));
      });
      r.on('error', (e) => resolve(`request error ${e.message}`));
      setTimeout(() => { r.destroy(); resolve('timeout'); }, 5000);
      r.end();
    });
    assert.doesNotMatch(outcome, /^end|timeout/, outcome);
  });
});

describe('client abort', () => {
  test('closing the client connection aborts the upstream request', async () => {
    gw.upstream.reset();
    const r = httpRequest(`${gw.url}/probe/slow-abort`, { headers: bearer(tok), agent: false });
    r.on('error', () => { /* we abort it */ });
    r.end();
    await gw.upstream.waitFor(1, 3000);
    assert.equal(gw.upstream.requests[0]!.aborted, false);
    r.destroy();
    assert.ok(await eventually(() => gw.upstream.requests[0]!.aborted, 3000), 'upstream request still open 3 s after the client left');
  });

  test('a client that leaves mid-upload aborts the upstream upload', async () => {
    gw.upstream.reset();
    const r = httpRequest(`${gw.url}/upload/big`, { method: 'POST', headers: { ...bearer(tok), 'content-length': String(10 * MB) }, agent: false });
    r.on('error', () => { /* we abort it */ });
    r.write(Buffer.alloc(256 * 1024, 1));
    await gw.upstream.waitFor(1, 3000);
    await sleep(100);
    r.destroy();
    assert.ok(await eventually(() => gw.upstream.requests[0]!.aborted, 3000), 'upstream upload still open 3 s after the client left');
    assert.equal(gw.upstream.requests[0]!.complete, false);
  });
});

describe('per-route body limit (max_body_bytes 1024)', () => {
  test('Content-Length over the limit -> 413, nothing forwarded', async () => {
    gw.upstream.reset();
    const res = await http(`${gw.url}/upload/small`, { method: 'POST', headers: bearer(tok), body: Buffer.alloc(2000, 0x61) });
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json?.reason, 'body_too_large');
    assert.equal(res.json?.error, 'payload_too_large');
    assert.equal(gw.upstream.requests.length, 0);
  });

  test('chunked body over the limit -> 413, the upstream never gets it whole', async () => {
    gw.upstream.reset();
    const body = Readable.from([Buffer.alloc(600, 0x61), Buffer.alloc(600, 0x62)]);
    const res = await http(`${gw.url}/upload/small`, { method: 'POST', headers: { ...bearer(tok), 'transfer-encoding': 'chunked' }, body });
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json?.reason, 'body_too_large');
    await sleep(50);
    assert.deepEqual(gw.upstream.requests.filter((q) => q.complete).map((q) => q.bodyBytes), []);
  });

  test('at the limit passes intact', async () => {
    gw.upstream.reset();
    const res = await http(`${gw.url}/upload/small`, { method: 'POST', headers: bearer(tok), body: Buffer.alloc(1024, 0x61) });
    assert.equal(res.status, 200, res.text);
    assert.equal(gw.upstream.requests[0]!.bodyBytes, 1024);
  });

  test('over the limit on a raw socket: 413 and the rest of the body is not read as a request', async () => {
    gw.upstream.reset();
    const r = await rawRequest(gw.url, req('POST /upload/small HTTP/1.1', ['Host: x', `Authorization: Bearer ${tok}`, 'Content-Length: 4096'], 'x'.repeat(4096)), { timeoutMs: 2000 });
    assert.deepEqual(r.responses.map((x) => x.status), [413]);
    assert.equal(gw.upstream.requests.length, 0);
  });
});

describe('streaming large bodies (built CLI in a child, its RSS measured)', () => {
  let child: SpawnedGateway;
  let owner: string;

  before(async () => {
    child = await spawnGateway();
    owner = await child.token('u-olivia');
    child.upstream.on('/probe/large', { largeBytes: LARGE });
    child.upstream.on('/upload/big', { pauseReadMs: 1500 });
    // warm up: pools, JIT, token cache
    for (let i = 0; i < 5; i++) assert.equal((await http(`${child.url}/probe/warm`, { headers: bearer(owner) })).status, 200);
  });
  after(async () => { await child?.close(); });

  function sampleRss(): { stop(): number } {
    let max = child.rss();
    const t = setInterval(() => { max = Math.max(max, child.rss()); }, 25);
    return { stop() { clearInterval(t); return Math.max(max, child.rss()); } };
  }

  test(`${LARGE / MB} MB up through a slow-reading upstream passes intact with flat gateway memory`, async (t) => {
    const base = child.rss();
    const sampler = sampleRss();
    const res = await http(`${child.url}/upload/big`, {
      method: 'POST',
      headers: { ...bearer(owner), 'content-type': 'application/octet-stream', 'content-length': String(LARGE) },
      body: Readable.from(patternChunks(LARGE)),
      timeoutMs: 60000,
    });
    const peak = sampler.stop();
    t.diagnostic(`gateway RSS ${(base / MB).toFixed(1)} MB -> peak ${(peak / MB).toFixed(1)} MB`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.json.bodyBytes, LARGE);
    assert.equal(res.json.bodySha256, patternSha256(LARGE));
    assert.ok(peak - base < RSS_BUDGET, `gateway RSS grew by ${((peak - base) / MB).toFixed(1)} MB (budget ${RSS_BUDGET / MB} MB)`);
  });

  test(`${LARGE / MB} MB up chunked passes intact`, async () => {
    const res = await http(`${child.url}/upload/big`, {
      method: 'POST',
      headers: { ...bearer(owner), 'transfer-encoding': 'chunked' },
      body: Readable.from(patternChunks(LARGE)),
      timeoutMs: 60000,
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.json.bodyBytes, LARGE);
    assert.equal(res.json.bodySha256, patternSha256(LARGE));
  });

  test(`${LARGE / MB} MB down to a slow-reading client passes intact with flat gateway memory`, async (t) => {
    const base = child.rss();
    const sampler = sampleRss();
    const { status, bytes, sha } = await new Promise<{ status: number; bytes: number; sha: string }>((resolve, reject) => {
      const r = httpRequest(`${child.url}/probe/large`, { headers: bearer(owner), agent: false }, (res) => {
        const h = createHash('sha256');
        let n = 0;
        res.pause();
        setTimeout(() => {
          res.on('data', (c: Buffer) => { h.update(c); n += c.length; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: n, sha: h.digest('hex') }));
          res.resume();
        }, 1500);
      });
      r.on('error', reject);
      r.setTimeout(60000, () => r.destroy(new Error('download timed out')));
      r.end();
    });
    const peak = sampler.stop();
    t.diagnostic(`gateway RSS ${(base / MB).toFixed(1)} MB -> peak ${(peak / MB).toFixed(1)} MB`);
    assert.equal(status, 200);
    assert.equal(bytes, LARGE);
    assert.equal(sha, patternSha256(LARGE));
    assert.ok(peak - base < RSS_BUDGET, `gateway RSS grew by ${((peak - base) / MB).toFixed(1)} MB (budget ${RSS_BUDGET / MB} MB)`);
  });

  test('the child gateway still answers', async () => {
    assert.equal((await http(`${child.url}/probe/after`, { headers: bearer(owner) })).status, 200);
  });
});

describe('the gateway survives all of the above', () => {
  test('a final request gets 200', async () => {
    const res = await http(`${gw.url}/api/deals`, { headers: bearer(tok) });
    assert.equal(res.status, 200, res.text);
  });
});
