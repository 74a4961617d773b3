/**
 * Strict framing on a raw socket: ambiguous or malformed messages get 400 and
 * the connection closes; smuggling attempts (CL.TE, TE.CL, TE.TE, bodies on
 * refused requests) never deliver a second request to the upstream; oversized
 * headers get 431; non-WebSocket upgrades 400; a slow-headers client is cut off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, bearer, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually, sleep } from '../helpers/stub-upstream.js';
import { jsonOf, openRaw, rawRequest, req } from '../helpers/raw-http.js';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1500;
let gw: TestGateway;
let tok: string;

before(async () => {
  gw = await startTestGateway({ config: (c) => { c.limits = { headers_timeout_ms: HEADERS_TIMEOUT_MS, request_timeout_ms: REQUEST_TIMEOUT_MS }; } });
  tok = await gw.token('u-olivia');
});
after(async () => { await gw?.close(); });

const H = () => ['Host: gateway.test', `Authorization: Bearer ${tok}`];
const smuggled = () => gw.upstream.requests.filter((r) => r.url.includes('smuggled'));

type Case = [name: string, bytes: () => string];
const BAD_FRAMING: Case[] = [
  ['Content-Length and Transfer-Encoding', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: 5', 'Transfer-Encoding: chunked'], '0\r\n\r\n')],
  ['Transfer-Encoding then Content-Length', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked', 'Content-Length: 5'], '0\r\n\r\n')],
  ['duplicate Content-Length, same value', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: 5', 'Content-Length: 5'], 'hello')],
  ['duplicate Content-Length, different values', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: 5', 'Content-Length: 6'], 'hello!')],
  ['Content-Length list', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: 5, 5'], 'hello')],
  ['Content-Length: +5', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: +5'], 'hello')],
  ['Content-Length: -1', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: -1'], 'hello')],
  ['Content-Length: 0x5', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: 0x5'], 'hello')],
  ['obs-fold header', () => req('GET /probe/f HTTP/1.1', [...H(), 'X-Folded: a', ' b'])],
  ['obs-fold with a tab', () => req('GET /probe/f HTTP/1.1', [...H(), 'X-Folded: a', '\tTransfer-Encoding: chunked'])],
  ['obs-fold of Transfer-Encoding', () => req('POST /probe/f HTTP/1.1', [...H(), 'Content-Length: 5', 'X: y', ' Transfer-Encoding: chunked'], 'hello')],
  ['Transfer-Encoding: chunked, identity', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked, identity'], '5\r\nhello\r\n0\r\n\r\n')],
  ['Transfer-Encoding: identity', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: identity'], 'hello')],
  ['Transfer-Encoding: xchunked', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: xchunked'], '5\r\nhello\r\n0\r\n\r\n')],
  ['Transfer-Encoding: gzip', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: gzip'], 'hello')],
  ['space before the colon', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding : chunked'], '0\r\n\r\n')],
  ['header name with a space', () => req('GET /probe/f HTTP/1.1', [...H(), 'X Bad: 1'])],
  ['NUL in a header value', () => req('GET /probe/f HTTP/1.1', [...H(), 'X-Nul: a\x00b'])],
  ['CR inside a header value', () => req('GET /probe/f HTTP/1.1', [...H(), 'X-Cr: a\rb'])],
  ['bare LF line endings', () => `GET /probe/f HTTP/1.1\nHost: gateway.test\nAuthorization: Bearer ${tok}\n\n`],
  ['HTTP/2 preface', () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['HTTP/1.2', () => req('GET /probe/f HTTP/1.2', H())],
];

const BAD_CHUNKS: Case[] = [
  ['chunk size not hex', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], 'zz\r\nhello\r\n0\r\n\r\n')],
  ['negative chunk size', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], '-5\r\nhello\r\n0\r\n\r\n')],
  ['0x prefix', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], '0x5\r\nhello\r\n0\r\n\r\n')],
  ['overflowing chunk size', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], 'fffffffffffffffff1\r\nhello\r\n0\r\n\r\n')],
  ['chunk longer than its size', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], '3\r\nhello\r\n0\r\n\r\n')],
  ['chunk size with a space', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], '5 5\r\nhello\r\n0\r\n\r\n')],
  ['bare LF after chunk size', () => req('POST /probe/f HTTP/1.1', [...H(), 'Transfer-Encoding: chunked'], '5\nhello\r\n0\r\n\r\n')],
];

describe('ambiguous or malformed framing: 400 and the connection closes', () => {
  for (const [name, bytes] of BAD_FRAMING) {
    test(name, async () => {
      gw.upstream.reset();
      const r = await rawRequest(gw.url, bytes(), { timeoutMs: 3000 });
      assert.ok(r.closed, 'connection stayed open');
      const res = r.responses[0];
      assert.ok(res, `no response: ${JSON.stringify(r.text.slice(0, 200))}`);
      assert.equal(res.status, 400, res.body);
      assert.equal(jsonOf(res)?.reason, 'bad_framing', res.body);
      assert.equal(r.responses.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(gw.upstream.requests.length, 0, `upstream saw ${gw.upstream.requests.map((q) => `${q.method} ${q.url}`).join(', ')}`);
    });
  }

  for (const [name, bytes] of BAD_CHUNKS) {
    test(`invalid chunked body: ${name}`, async () => {
      gw.upstream.reset();
      const r = await rawRequest(gw.url, bytes(), { timeoutMs: 3000 });
      assert.ok(r.closed, 'connection stayed open');
      const res = r.responses[0];
      assert.ok(res, `no response: ${JSON.stringify(r.text.slice(0, 200))}`);
      assert.equal(res.status, 400, res.body);
      assert.equal(r.responses.length, 1);
      // the headers may already have gone upstream; the body never completes there
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(gw.upstream.requests.filter((q) => q.complete).map((q) => `${q.method} ${q.url} ${q.bodyBytes}`), []);
    });
  }

  test('two Host headers are refused (RFC 9112 §3.2)', async () => {
    gw.upstream.reset();
    const r = await rawRequest(gw.url, req('GET /probe/f HTTP/1.1', ['Host: gateway.test', 'Host: evil.test', `Authorization: Bearer ${tok}`, 'Connection: close']), { timeoutMs: 3000 });
    assert.equal(r.responses[0]?.status, 400, r.text.slice(0, 300));
    assert.equal(gw.upstream.requests.length, 0);
  });

  test('a request without Host is refused', async () => {
    gw.upstream.reset();
    const r = await rawRequest(gw.url, req('GET /probe/f HTTP/1.1', [`Authorization: Bearer ${tok}`]), { timeoutMs: 3000 });
    assert.equal(r.responses[0]?.status, 400);
    assert.equal(gw.upstream.requests.length, 0);
  });
});

describe('smuggling attempts never deliver a second request upstream', () => {
  const inner = () => req('GET /probe/smuggled HTTP/1.1', [...H(), 'X-Smuggled: 1']);
  const CASES: Case[] = [
    ['CL.TE', () => { const body = `0\r\n\r\n${inner()}`; return req('POST /probe/a HTTP/1.1', [...H(), `Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'], body); }],
    ['TE.CL', () => { const i = inner(); const body = `${i.length.toString(16)}\r\n${i}\r\n0\r\n\r\n`; return req('POST /probe/a HTTP/1.1', [...H(), 'Content-Length: 4', 'Transfer-Encoding: chunked'], body); }],
    ['TE.TE (second TE obfuscated)', () => { const body = `0\r\n\r\n${inner()}`; return req('POST /probe/a HTTP/1.1', [...H(), 'Transfer-Encoding: chunked', 'Transfer-encoding: cow', `Content-Length: ${body.length}`], body); }],
    ['TE with vertical tab', () => { const body = `0\r\n\r\n${inner()}`; return req('POST /probe/a HTTP/1.1', [...H(), 'Transfer-Encoding:\x0bchunked', `Content-Length: ${body.length}`], body); }],
    ['TE with a leading space name', () => { const body = `0\r\n\r\n${inner()}`; return req('POST /probe/a HTTP/1.1', [...H(), ' Transfer-Encoding: chunked', `Content-Length: ${body.length}`], body); }],
    ['CL.0: a body shaped like a request on an authorized GET', () => { const body = inner(); return req('GET /probe/a HTTP/1.1', [...H(), `Content-Length: ${body.length}`], body); }],
    ['a body shaped like a request on a 401', () => { const body = inner(); return req('POST /probe/a HTTP/1.1', ['Host: gateway.test', `Content-Length: ${body.length}`], body); }],
    ['a chunked body shaped like a request on a 401', () => { const i = inner(); return req('POST /probe/a HTTP/1.1', ['Host: gateway.test', 'Transfer-Encoding: chunked'], `${i.length.toString(16)}\r\n${i}\r\n0\r\n\r\n`); }],
    ['a body shaped like a request on a 400 (canonicalization)', () => { const body = inner(); return req('POST /probe/%2e%2e/a HTTP/1.1', [...H(), `Content-Length: ${body.length}`], body); }],
    ['a body shaped like a request on a 403', () => { const body = inner(); return req('POST /nowhere HTTP/1.1', [...H(), `Content-Length: ${body.length}`], body); }],
    ['a body shaped like a request on a 413', () => { const body = inner() + 'x'.repeat(2000); return req('POST /upload/small HTTP/1.1', [...H(), `Content-Length: ${body.length}`], body); }],
    ['an unauthenticated pipelined pair', () => req('GET /probe/a HTTP/1.1', ['Host: gateway.test']) + req('GET /probe/smuggled HTTP/1.1', ['Host: gateway.test'])],
  ];
  for (const [name, bytes] of CASES) {
    test(name, async () => {
      gw.upstream.reset();
      const r = await rawRequest(gw.url, bytes(), { timeoutMs: 1500 });
      assert.ok(r.responses.length >= 1, `no response: ${JSON.stringify(r.text.slice(0, 200))}`);
      assert.ok(r.responses.every((x) => x.status !== 200 || !x.body.includes('smuggled')), r.text.slice(0, 500));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(smuggled().map((q) => `${q.method} ${q.url}`), []);
      assert.ok(gw.upstream.requests.length <= 1, `upstream saw ${gw.upstream.requests.map((q) => `${q.method} ${q.url}`).join(', ')}`);
    });
  }

  test('a legitimately pipelined pair is answered in order, each authorized on its own', async () => {
    gw.upstream.reset();
    const r = await rawRequest(gw.url, req('GET /probe/one HTTP/1.1', H()) + req('GET /api/payouts HTTP/1.1', ['Host: gateway.test', `Authorization: Bearer ${await gw.token('u-adam')}`, 'Connection: close']), { timeoutMs: 3000 });
    assert.deepEqual(r.responses.map((x) => x.status), [200, 403]);
    assert.deepEqual(gw.upstream.requests.map((q) => q.url), ['/probe/one']);
  });
});

describe('limits', () => {
  test('headers larger than max_header_bytes -> 431', async () => {
    gw.upstream.reset();
    const r = await rawRequest(gw.url, req('GET /probe/f HTTP/1.1', [...H(), `X-Big: ${'a'.repeat(20000)}`]), { timeoutMs: 3000 });
    const res = r.responses[0];
    assert.ok(res, JSON.stringify(r.text.slice(0, 200)));
    assert.equal(res.status, 431);
    assert.equal(jsonOf(res)?.reason, 'headers_too_large');
    assert.ok(r.closed);
    assert.equal(gw.upstream.requests.length, 0);
  });

  test('many small headers adding up past the limit -> 431', async () => {
    const lines = Array.from({ length: 1200 }, (_, i) => `X-H${i}: ${'v'.repeat(10)}`);
    const r = await rawRequest(gw.url, req('GET /probe/f HTTP/1.1', [...H(), ...lines]), { timeoutMs: 3000 });
    assert.equal(r.responses[0]?.status, 431);
  });

  const UPGRADES: Case[] = [
    ['Upgrade: h2c with Connection: Upgrade', () => req('GET /probe/f HTTP/1.1', [...H(), 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'])],
    ['Upgrade: h2c without Connection', () => req('GET /probe/f HTTP/1.1', [...H(), 'Upgrade: h2c', 'Connection: close'])],
    ['Upgrade: websocket, h2c', () => req('GET /api/events HTTP/1.1', [...H(), 'Connection: Upgrade', 'Upgrade: websocket, h2c', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='])],
    ['Upgrade: tls/1.2', () => req('GET /probe/f HTTP/1.1', [...H(), 'Connection: Upgrade', 'Upgrade: TLS/1.2'])],
  ];
  for (const [name, bytes] of UPGRADES) {
    test(`${name} -> 400 unsupported_upgrade`, async () => {
      gw.upstream.reset();
      const r = await rawRequest(gw.url, bytes(), { timeoutMs: 3000 });
      const res = r.responses[0];
      assert.ok(res, JSON.stringify(r.text.slice(0, 200)));
      assert.equal(res.status, 400, res.body);
      assert.equal(jsonOf(res)?.reason, 'unsupported_upgrade');
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(gw.upstream.requests.length, 0);
    });
  }

  test(`slow headers are cut off by headers_timeout (${HEADERS_TIMEOUT_MS} ms) and do not hold the gateway`, async () => {
    const started = Date.now();
    const conn = openRaw(gw.url, { timeoutMs: 8000 });
    conn.socket.write('GET /probe/slow HTTP/1.1\r\nHost: gateway.test\r\n');
    let n = 0;
    const drip = setInterval(() => {
      if (conn.socket.destroyed || n++ > 60) return clearInterval(drip);
      conn.socket.write(`X-Drip-${n}: ${'z'.repeat(8)}\r\n`);
    }, 100);
    try {
      // the gateway keeps serving others meanwhile
      const other = await http(`${gw.url}/probe/other`, { headers: bearer(tok), timeoutMs: 3000 });
      assert.equal(other.status, 200);
      const r = await conn.result;
      const elapsed = Date.now() - started;
      assert.ok(r.closed, `slow-headers connection still open after ${elapsed} ms`);
      assert.ok(elapsed < HEADERS_TIMEOUT_MS + 2500, `cut off only after ${elapsed} ms`);
      if (r.responses[0]) assert.equal(r.responses[0].status, 408);
    } finally {
      clearInterval(drip);
      conn.socket.destroy();
    }
    assert.ok(await eventually(() => !gw.upstream.requests.some((q) => q.url === '/probe/slow'), 100));
  });

  test(`a slow body is cut off by request_timeout (${REQUEST_TIMEOUT_MS} ms)`, async () => {
    gw.upstream.reset();
    const started = Date.now();
    const conn = openRaw(gw.url, { timeoutMs: 8000 });
    conn.socket.write(req('POST /probe/slow-body HTTP/1.1', [...H(), 'Content-Length: 1000']));
    let n = 0;
    const drip = setInterval(() => {
      if (conn.socket.destroyed || n++ > 60) return clearInterval(drip);
      conn.socket.write('a');
    }, 100);
    try {
      const r = await conn.result;
      const elapsed = Date.now() - started;
      assert.ok(r.closed, `slow-body connection still open after ${elapsed} ms`);
      assert.ok(elapsed < REQUEST_TIMEOUT_MS + 2500, `cut off only after ${elapsed} ms`);
    } finally {
      clearInterval(drip);
      conn.socket.destroy();
    }
    assert.ok(await eventually(() => gw.upstream.requests.every((q) => !q.complete), 100));
  });

  test('max_connections: connections beyond the limit are refused, the gateway recovers', async () => {
    const small = await startTestGateway({ upstream: gw.upstream, log: 'silent', config: (c) => { c.limits = { max_connections: 2 }; } });
    const held: ReturnType<typeof openRaw>[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = openRaw(small.url, { timeoutMs: 5000 });
        c.socket.write(req('GET /api/public/status HTTP/1.1', ['Host: x']));
        held.push(c);
      }
      await sleep(200);
      const extra = await rawRequest(small.url, req('GET /api/public/status HTTP/1.1', ['Host: x', 'Connection: close']), { timeoutMs: 2000 });
      assert.equal(extra.responses.length, 0, `a third connection was served: ${extra.text.slice(0, 100)}`);
      for (const c of held) c.socket.destroy();
      await sleep(200);
      const later = await http(`${small.url}/api/public/status`, { timeoutMs: 2000 });
      assert.equal(later.status, 200);
    } finally {
      for (const c of held) c.socket.destroy();
      await small.close();
    }
  });
});
