/**
 * Canonicalization over a raw socket (HTTP clients normalize paths themselves).
 * Every rejected request-target gets a JSON 4xx with its reason and the
 * upstream records nothing; every accepted one reaches the upstream with
 * exactly the authorized path plus the raw query.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { jsonOf, rawRequest, req } from '../helpers/raw-http.js';

let gw: TestGateway;
let owner: string;

before(async () => {
  gw = await startTestGateway();
  owner = await gw.token('u-olivia');
});
after(async () => { await gw?.close(); });

const send = (method: string, target: string, extra: string[] = [], auth = true) =>
  rawRequest(gw.url, req(`${method} ${target} HTTP/1.1`, ['Host: gateway.test', ...(auth ? [`Authorization: Bearer ${owner}`] : []), 'Connection: close', ...extra]), { timeoutMs: 3000 });

type Accepted = [target: string, forwarded: string, note?: string];
const ACCEPTED: Accepted[] = [
  ['/probe/a', '/probe/a'],
  ['/probe/a/b/c', '/probe/a/b/c'],
  ['/%61pi/deals', '/api/deals', '%61 is "a": decoded before matching and forwarded decoded'],
  ['/api/%64eals/d1', '/api/deals/d1'],
  ['/probe/%41%7e', '/probe/A~'],
  ['/api/deals/', '/api/deals/', 'one trailing slash is ignored for matching and forwarded as sent'],
  ['/api/deals/d1/', '/api/deals/d1/'],
  ['/probe/a?x=1', '/probe/a?x=1'],
  ['/probe/a?x=%2e%2e/..;\\%2f', '/probe/a?x=%2e%2e/..;\\%2f', 'the query is split off first and forwarded byte for byte'],
  ['/probe/a?q=1?2&r', '/probe/a?q=1?2&r'],
  ['/probe/a?', '/probe/a?'],
  ['/probe/a%3Fb?c', '/probe/a%3Fb?c', 'an encoded ? stays in the path'],
  ['/probe/a%20b', '/probe/a%20b'],
  ['/probe/%c3%a9', '/probe/%C3%A9', 'escapes kept encoded are upper-cased'],
  ['/probe/a%3ab', '/probe/a%3Ab'],
  ['/probe/.well-known/x', '/probe/.well-known/x'],
  ['/probe/a..b/..c/c..', '/probe/a..b/..c/c..'],
  ["/probe/!$&'()*+,=:@", "/probe/!$&'()*+,=:@"],
  ['/probe/%F0%9F%98%80', '/probe/%F0%9F%98%80'],
];

type Rejected = [target: string, status: number, reasons: string[], method?: string];
const R400 = (target: string, ...reasons: string[]): Rejected => [target, 400, reasons];
const REJECTED: Rejected[] = [
  // encoded separators: %2F %5C %2E %25 %3B
  R400('/probe/%2e%2e/api/payouts', 'encoded_separator'),
  R400('/probe/%2E%2E/api/payouts', 'encoded_separator'),
  R400('/probe/.%2e/api/payouts', 'encoded_separator'),
  R400('/api/deals%2f..%2fpayouts', 'encoded_separator'),
  R400('/probe/a%2fb', 'encoded_separator'),
  R400('/probe/a%2Fb', 'encoded_separator'),
  R400('/probe/a%5cb', 'encoded_separator'),
  R400('/probe/%252e%252e/x', 'encoded_separator'),
  R400('/probe/a%3bb', 'encoded_separator'),
  // dot segments in any spelling
  R400('/probe/./a', 'dot_segment'),
  R400('/probe/../api/payouts', 'dot_segment'),
  R400('/probe/a/..', 'dot_segment'),
  R400('/probe/a/.', 'dot_segment'),
  R400('/probe/..;/api/payouts', 'dot_segment'),
  R400('/probe/..;x/api/payouts', 'dot_segment'),
  R400('/probe/.;/a', 'dot_segment'),
  R400('/probe/...', 'dot_segment'),
  // not origin-form
  R400('//evil.test/probe/a', 'bad_request_target'),
  R400('//', 'bad_request_target'),
  R400('http://evil.test/probe/a', 'bad_request_target'),
  R400('https://evil.test/api/payouts', 'bad_request_target'),
  R400('http://gateway.test/probe/a', 'bad_request_target'),
  R400('evil.test:443', 'bad_request_target', 'bad_framing'),
  ['*', 400, ['bad_request_target', 'bad_framing'], 'OPTIONS'],
  R400('*', 'bad_request_target', 'bad_framing'),
  // fragment
  R400('/probe/a#frag', 'fragment_in_target', 'bad_framing'),
  R400('/probe/a?x=1#frag', 'fragment_in_target', 'bad_framing'),
  R400('/probe/a%23b#', 'fragment_in_target', 'bad_framing'),
  // control bytes and NUL, raw and encoded
  R400('/probe/a\x00b', 'control_character', 'bad_framing'),
  R400('/probe/a%00b', 'control_character'),
  R400('/probe/a%00', 'control_character'),
  R400('/probe/a%0d%0aX-Injected:%201', 'control_character'),
  R400('/probe/a%7f', 'control_character'),
  R400('/probe/a\x7fb', 'control_character', 'bad_framing'),
  R400('/probe/a\x01b', 'control_character', 'bad_framing'),
  R400('/probe/a\tb', 'control_character', 'bad_framing'),
  R400('/probe/a?x=\x01', 'control_character', 'bad_framing'),
  // backslash
  R400('/probe/a\\b', 'backslash_in_path', 'bad_framing'),
  R400('/probe/..\\api/payouts', 'backslash_in_path', 'bad_framing'),
  R400('/probe\\..\\api\\payouts', 'backslash_in_path', 'bad_framing'),
  // invalid and overlong percent-escapes, invalid UTF-8
  R400('/probe/%c0%ae%c0%ae/api', 'invalid_utf8'),
  R400('/probe/%c0%af', 'invalid_utf8'),
  R400('/probe/%e0%80%af', 'invalid_utf8'),
  R400('/probe/%f0%80%80%af', 'invalid_utf8'),
  R400('/probe/%c1%9c', 'invalid_utf8'),
  R400('/probe/%ed%a0%80', 'invalid_utf8'),
  R400('/probe/%ff', 'invalid_utf8'),
  R400('/probe/%80', 'invalid_utf8'),
  R400('/probe/%c3', 'invalid_utf8'),
  R400('/probe/%c3a', 'invalid_utf8'),
  R400('/probe/%zz', 'bad_percent_encoding'),
  R400('/probe/%4', 'bad_percent_encoding'),
  R400('/probe/%', 'bad_percent_encoding'),
  R400('/probe/%u002e%u002e/', 'bad_percent_encoding'),
  // semicolons (matrix params), empty segments, characters a client must encode
  R400('/probe/a;b', 'semicolon_in_path'),
  R400('/probe;/a', 'semicolon_in_path'),
  R400('/api/payouts;x=1', 'semicolon_in_path'),
  R400('/probe/a//b', 'empty_segment'),
  R400('/probe//', 'empty_segment'),
  R400('/probe/\xc3\xa9', 'invalid_path_character', 'bad_framing'),
  R400('/probe/a"b', 'invalid_path_character', 'bad_framing'),
  R400('/probe/<x>', 'invalid_path_character', 'bad_framing'),
  R400('/probe/{x}', 'invalid_path_character', 'bad_framing'),
  R400('/probe/a|b', 'invalid_path_character', 'bad_framing'),
  R400('/probe/a^b', 'invalid_path_character', 'bad_framing'),
  R400('/probe/a`b', 'invalid_path_character', 'bad_framing'),
  R400('/probe/[x]', 'invalid_path_character', 'bad_framing'),
  // method override in the query
  R400('/probe/a?_method=DELETE', 'method_override'),
  R400('/probe/a?x=1&_method=PUT', 'method_override'),
  R400('/probe/a?_METHOD=delete', 'method_override'),
  R400('/probe/a?%5Fmethod=DELETE', 'method_override'),
  R400('/probe/a?_method[]=DELETE', 'method_override'),
  R400('/api/public/status?_method=DELETE', 'method_override'),
  // too long
  [`/probe/${'a'.repeat(5000)}`, 414, ['path_too_long']],
  // matching is case-sensitive: a path in another case is simply not mapped
  ['/API/deals', 403, ['no_route']],
  ['/Api/Payouts', 403, ['no_route']],
];

describe('canonical paths: accepted targets reach the upstream exactly as authorized', () => {
  for (const [target, forwarded, note] of ACCEPTED) {
    test(`${JSON.stringify(target)} -> ${forwarded}${note ? ` (${note})` : ''}`, async () => {
      gw.upstream.reset();
      const r = await send('GET', target);
      assert.equal(r.responses[0]?.status, 200, r.text.slice(0, 400));
      assert.equal(gw.upstream.requests.length, 1);
      assert.equal(gw.upstream.requests[0]!.url, forwarded);
      assert.equal(gw.upstream.requests[0]!.method, 'GET');
    });
  }

  test('a public route needs no token and forwards the canonical path', async () => {
    gw.upstream.reset();
    const r = await send('GET', '/api/%70ublic/status?x=%2f', [], false);
    assert.equal(r.responses[0]?.status, 200, r.text.slice(0, 400));
    assert.deepEqual(gw.upstream.requests.map((q) => q.url), ['/api/public/status?x=%2f']);
  });
});

describe('canonical paths: rejected targets answer JSON and reach nothing', () => {
  for (const [target, status, reasons, method] of REJECTED) {
    test(`${method ?? 'GET'} ${JSON.stringify(target.length > 60 ? `${target.slice(0, 40)}...(${target.length})` : target)} -> ${status} ${reasons.join('|')}`, async () => {
      gw.upstream.reset();
      const r = await send(method ?? 'GET', target);
      const res = r.responses[0];
      assert.ok(res, `no response: ${JSON.stringify(r.text.slice(0, 200))}`);
      assert.equal(res.status, status, res.body);
      assert.match(res.headers.get('content-type')?.[0] ?? '', /^application\/json/);
      const body = jsonOf(res);
      assert.ok(body, `body is not JSON: ${res.body}`);
      assert.ok(reasons.includes(String(body.reason)), `reason ${String(body.reason)} not in ${reasons.join(', ')}`);
      assert.equal(typeof body.request_id, 'string');
      // give a wrongly forwarded request time to show up
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(gw.upstream.requests.length, 0, `upstream saw ${gw.upstream.requests.map((q) => q.url).join(', ')}`);
    });
  }

  test('_method passes when the upstream is configured to ignore it', async () => {
    const relaxed = await startTestGateway({ upstream: gw.upstream, log: 'silent', config: (c) => { c.upstreams.portal.ignores_method_override = true; } });
    try {
      gw.upstream.reset();
      const r = await rawRequest(relaxed.url, req('GET /probe/a?_method=DELETE HTTP/1.1', ['Host: x', `Authorization: Bearer ${owner}`, 'Connection: close']));
      assert.equal(r.responses[0]?.status, 200, r.text.slice(0, 300));
      assert.deepEqual(gw.upstream.requests.map((q) => `${q.method} ${q.url}`), ['GET /probe/a?_method=DELETE']);
    } finally {
      await relaxed.close();
    }
  });

  test('empty_segments: collapse forwards what was matched', async () => {
    const collapsing = await startTestGateway({ upstream: gw.upstream, log: 'silent', config: (c) => { c.http = { empty_segments: 'collapse' }; } });
    try {
      gw.upstream.reset();
      const r = await rawRequest(collapsing.url, req('GET /api//deals///d1 HTTP/1.1', ['Host: x', `Authorization: Bearer ${owner}`, 'Connection: close']));
      assert.equal(r.responses[0]?.status, 200, r.text.slice(0, 300));
      assert.deepEqual(gw.upstream.requests.map((q) => q.url), ['/api/deals/d1']);
      const bad = await rawRequest(collapsing.url, req('GET //evil/api/deals HTTP/1.1', ['Host: x', `Authorization: Bearer ${owner}`, 'Connection: close']));
      assert.equal(jsonOf(bad.responses[0])?.reason, 'bad_request_target');
      assert.equal(gw.upstream.requests.length, 1);
    } finally {
      await collapsing.close();
    }
  });
});
