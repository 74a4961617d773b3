/**
 * WebSocket upgrades go through authenticate, map and decide before anything
 * reaches the upstream; allowed ones are tunnelled after the upstream's 101,
 * denied ones get a plain HTTP answer, a refused upgrade is relayed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually, header } from '../helpers/stub-upstream.js';
import { jsonOf, rawRequest, req } from '../helpers/raw-http.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway();
  gw.upstream.on('/api/events?refuse', { wsRefuseStatus: 400 });
  gw.upstream.on('/ws-slow', { wsHang: true });
});
after(async () => { await gw?.close(); });

const upgrade = (target: string, extra: string[], method = 'GET') => req(`${method} ${target} HTTP/1.1`, [
  'Host: gateway.test', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${KEY}`, ...extra,
]);

/** Split what came back into the HTTP head and the bytes after it. */
function split(text: string): { head: string; rest: Buffer } {
  const i = text.indexOf('\r\n\r\n');
  return i < 0 ? { head: text, rest: Buffer.alloc(0) } : { head: text.slice(0, i), rest: Buffer.from(text.slice(i + 4), 'latin1') };
}

describe('allowed upgrade', () => {
  test('is tunnelled: 101, the upstream frame, the identity header and not a spoofed one', async () => {
    gw.upstream.reset();
    const t = await gw.token('u-vera');
    const r = await rawRequest(gw.url, upgrade('/api/events', [`Authorization: Bearer ${t}`, 'x-rolegate-user: SPOOF', 'x_rolegate_user: SPOOF', 'X-Forwarded-For: SPOOF']), { timeoutMs: 4000, responses: 1, settleMs: 300 });
    const { head, rest } = split(r.text);
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, new RegExp(`sec-websocket-accept: ${ACCEPT.replace(/[+/]/g, '\\$&')}`, 'i'));
    assert.equal(rest[0], 0x81, 'first byte after the 101 is not an unmasked text frame');
    const frame = JSON.parse(rest.subarray(2, 2 + rest[1]!).toString()) as { hello: string[] };
    assert.deepEqual(frame.hello, ['u-vera']);
    const rec = gw.upstream.requests.find((q) => q.upgrade);
    assert.ok(rec);
    assert.equal(rec.url, '/api/events');
    assert.deepEqual(header(rec, 'x-rolegate-user'), ['u-vera']);
    assert.deepEqual(header(rec, 'x-forwarded-for'), ['127.0.0.1']);
    for (let i = 0; i < rec.rawHeaders.length; i += 2) assert.doesNotMatch(rec.rawHeaders[i + 1]!, /SPOOF/, rec.rawHeaders[i]);
  });

  test('a real client (ws) connects and gets the message', async () => {
    const t = await gw.token('u-olivia');
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/api/events`, { headers: { authorization: `Bearer ${t}` } });
    const msg = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 3 s')), 3000);
      ws.once('message', (m) => { clearTimeout(timer); resolve(String(m)); });
      ws.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    ws.terminate();
    assert.deepEqual(JSON.parse(msg), { hello: ['u-olivia'] });
  });

  test('the session cookie authenticates an upgrade too', async () => {
    const t = await gw.token('u-vera');
    const r = await rawRequest(gw.url, upgrade('/api/events', [`Cookie: session=${t}`]), { timeoutMs: 3000, responses: 1, settleMs: 100 });
    assert.match(r.text, /^HTTP\/1\.1 101 /);
  });
});

describe('denied upgrades never reach the upstream', () => {
  type Row = [name: string, who: string | null, target: string, status: number, reason: string, method?: string];
  const ROWS: Row[] = [
    ['no token', null, '/api/events', 401, 'missing_token'],
    ['bad token', 'forged', '/api/events', 401, 'malformed_token'],
    ['wrong role (partner without org)', 'u-pat', '/api/events', 403, 'condition_failed'],
    ['pending member', 'u-ivy', '/api/events', 403, 'member_pending'],
    ['not a member', 'u-stranger', '/api/events', 403, 'not_a_member'],
    ['route without websocket: true', 'u-olivia', '/api/deals', 400, 'websocket_not_allowed'],
    ['public route without websocket: true', null, '/api/public/ws', 400, 'websocket_not_allowed'],
    ['unmapped path', 'u-olivia', '/api/nowhere', 403, 'no_route'],
    ['path trick', 'u-olivia', '/api/%2e%2e/api/events', 400, 'encoded_separator'],
    ['dot segment', 'u-olivia', '/api/x/../events', 400, 'dot_segment'],
    ['POST upgrade', 'u-olivia', '/api/events', 403, 'no_route', 'POST'],
  ];
  for (const [name, who, target, status, reason, method] of ROWS) {
    test(`${name} -> plain HTTP ${status} ${reason}`, async () => {
      gw.upstream.reset();
      const t = who === null ? null : who === 'forged' ? 'forged' : await gw.token(who);
      const r = await rawRequest(gw.url, upgrade(target, t ? [`Authorization: Bearer ${t}`] : [], method), { timeoutMs: 3000 });
      const res = r.responses[0];
      assert.ok(res, JSON.stringify(r.text.slice(0, 200)));
      assert.equal(res.status, status, res.body);
      assert.equal(jsonOf(res)?.reason, reason);
      if (status === 401) assert.match(res.headers.get('www-authenticate')?.[0] ?? '', /^Bearer/);
      assert.ok(r.closed, 'connection left open after a denied upgrade');
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(gw.upstream.requests.length, 0);
    });
  }
});

describe('upstream failures on an allowed upgrade', () => {
  test('upstream refused (closed port) -> 502 JSON, not a silent close', async () => {
    const t = await gw.token('u-vera');
    const r = await rawRequest(gw.url, upgrade('/ws-dead', [`Authorization: Bearer ${t}`]), { timeoutMs: 4000 });
    const res = r.responses[0];
    assert.ok(res, `no HTTP answer, connection ${r.closed ? 'closed' : 'open'}: ${JSON.stringify(r.text.slice(0, 100))}`);
    assert.equal(res.status, 502);
    assert.equal(jsonOf(res)?.reason, 'upstream_unavailable');
  });

  test('upstream never answers the upgrade -> 504 within timeout_ms (400 ms), sockets released', async () => {
    const t = await gw.token('u-vera');
    const started = Date.now();
    const r = await rawRequest(gw.url, upgrade('/ws-slow', [`Authorization: Bearer ${t}`]), { timeoutMs: 4000 });
    const elapsed = Date.now() - started;
    assert.ok(r.closed, `client connection still open after ${elapsed} ms`);
    const res = r.responses[0];
    assert.ok(res, `no HTTP answer after ${elapsed} ms`);
    assert.equal(res.status, 504);
    assert.equal(jsonOf(res)?.reason, 'upstream_timeout');
  });
});

describe('upstream refuses the upgrade', () => {
  test('its answer is relayed and nothing is tunnelled', async () => {
    gw.upstream.reset();
    const t = await gw.token('u-vera');
    const r = await rawRequest(gw.url, upgrade('/api/events?refuse=1', [`Authorization: Bearer ${t}`]), { timeoutMs: 3000 });
    const res = r.responses[0];
    assert.ok(res, JSON.stringify(r.text.slice(0, 200)));
    assert.equal(res.status, 400);
    assert.deepEqual(jsonOf(res), { refused: true });
    assert.doesNotMatch(r.text, / 101 /);
    assert.ok(r.closed);
    assert.equal(gw.upstream.requests.length, 1);
  });

  test('the request log records the status the client got, not 101', async () => {
    gw.upstream.reset();
    const t = await gw.token('u-vera');
    const before = gw.logLines().length;
    await rawRequest(gw.url, upgrade('/api/events?refuse=2', [`Authorization: Bearer ${t}`]), { timeoutMs: 3000 });
    assert.ok(await eventually(() => gw.logLines().length > before, 1000));
    const lines = gw.logLines().slice(before).filter((l) => l.msg === 'request');
    assert.equal(lines.length, 1);
    assert.notEqual(lines[0]!.status, 101, JSON.stringify(lines[0]));
  });

  test('the gateway keeps serving', async () => {
    const t = await gw.token('u-vera');
    const r = await rawRequest(gw.url, upgrade('/api/events', [`Authorization: Bearer ${t}`]), { timeoutMs: 3000, responses: 1, settleMs: 50 });
    assert.match(r.text, /^HTTP\/1\.1 101 /);
  });
});
