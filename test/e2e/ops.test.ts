/**
 * The ops listener (/healthz, /readyz, /metrics with bounded labels and a
 * promtool-clean exposition), the request log (one JSON line per request,
 * never a token or cookie), and graceful shutdown of the built CLI on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { bearer, http, spawnGateway, startTestGateway, type HttpResult, type TestGateway } from '../helpers/gateway.js';
import { eventually, header, sleep } from '../helpers/stub-upstream.js';
import { openRaw, req } from '../helpers/raw-http.js';

const PROMTOOL = '/usr/bin/promtool';
const METRICS = [
  'rolegate_http_requests_total',
  'rolegate_http_request_duration_seconds',
  'rolegate_authz_decisions_total',
  'rolegate_upstream_request_duration_seconds',
  'rolegate_upstream_errors_total',
  'rolegate_token_verifications_total',
  'rolegate_policy_info',
];

let gw: TestGateway;
const secrets: string[] = [];
const COOKIE_SECRET = 'cookie-secret-4f1d9a';
/** [response, what the upstream saw for it (if forwarded)] for every request this file sent to gw. */
const sent: { res: HttpResult; forwardedId?: string }[] = [];

before(async () => {
  gw = await startTestGateway();
  const t = {
    olivia: await gw.token('u-olivia'),
    pat: await gw.token('u-pat'),
    vera: await gw.token('u-vera'),
    expired: await gw.token('u-vera', { ttlSeconds: -120 }),
  };
  secrets.push(...Object.values(t));
  const calls: [string, Record<string, string>, string?][] = [
    ['/api/deals/d1', bearer(t.olivia)],
    ['/api/deals/d-secret-42', bearer(t.olivia)],
    ['/api/users/u-pat/profile', bearer(t.pat)],
    ['/api/users/u-olivia/profile', bearer(t.pat)],
    ['/api/partners/p-42/deals', { cookie: `session=${t.pat}; tracking=${COOKIE_SECRET}` }],
    ['/api/payouts', bearer(t.vera)],
    ['/api/deals', bearer(t.expired)],
    ['/api/deals', { authorization: `Bearer ${t.vera.slice(0, -4)}AAAA` }],
    ['/api/deals', {}],
    ['/api/unmapped/u-olivia', bearer(t.olivia)],
    ['/dead/x', bearer(t.olivia)],
    ['/api/public/status', {}],
    ['/probe/%2e%2e/x', bearer(t.olivia)],
  ];
  for (const [path, headers] of calls) {
    const before = gw.upstream.requests.length;
    const res = await http(`${gw.url}${path}`, { headers });
    const rec = gw.upstream.requests[before];
    sent.push({ res, forwardedId: rec ? header(rec, 'x-rolegate-request-id')[0] : undefined });
  }
  secrets.push(t.vera.slice(0, -4));
});
after(async () => { await gw?.close(); });

describe('health', () => {
  test('/healthz 200', async () => {
    const res = await http(`${gw.opsUrl}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.json?.status, 'ok');
  });

  test('/readyz 200 with its checks', async () => {
    const res = await http(`${gw.opsUrl}/readyz`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json?.status, 'ready');
    assert.deepEqual(Object.keys(res.json?.checks ?? {}).sort(), ['custom_roles', 'keys', 'policy', 'store', 'upstreams']);
    assert.ok(Object.values(res.json.checks).every((v) => v === true));
  });

  test('/readyz 503 while signing keys cannot be loaded; tokens get keys_unavailable', async () => {
    const down = await startTestGateway({
      upstream: gw.upstream, log: 'silent',
      config: (c) => { delete c.auth.jwt.jwks_file; c.auth.jwt.jwks_url = 'http://127.0.0.1:9/jwks.json'; c.auth.jwt.jwks_timeout_ms = 500; },
    });
    try {
      const res = await http(`${down.opsUrl}/readyz`);
      assert.equal(res.status, 503);
      assert.equal(res.json?.checks?.keys, false);
      assert.equal((await http(`${down.opsUrl}/healthz`)).status, 200);
      const denied = await http(`${down.url}/api/deals`, { headers: bearer(await down.token('u-vera')) });
      assert.equal(denied.status, 401);
      assert.equal(denied.json?.reason, 'keys_unavailable');
      assert.equal((await http(`${down.url}/api/public/status`)).status, 200);
    } finally {
      await down.close();
    }
  });

  test('ops endpoints are not on the traffic listener', async () => {
    const res = await http(`${gw.url}/metrics`);
    sent.push({ res });
    assert.notEqual(res.status, 200);
  });
});

describe('/metrics', () => {
  let text: string;
  let contentType: string;
  before(async () => {
    const res = await http(`${gw.opsUrl}/metrics`);
    assert.equal(res.status, 200);
    text = res.text;
    contentType = String(res.headers['content-type']);
  });

  test('Prometheus text format', () => {
    assert.match(contentType, /^text\/plain/);
  });

  for (const name of METRICS) {
    test(`exposes ${name}`, () => {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
      assert.match(text, new RegExp(`^${name}(_bucket|_sum|_count)?\\{`, 'm'), `no ${name} sample`);
    });
  }

  test('default process metrics', () => {
    assert.match(text, /^(rolegate_)?process_cpu_user_seconds_total /m);
    assert.match(text, /^(rolegate_)?process_resident_memory_bytes /m);
    assert.match(text, /^(rolegate_)?nodejs_heap_size_used_bytes /m);
  });

  test('policy_info carries the policy version', () => {
    assert.match(text, /^rolegate_policy_info\{[^}]*version="e2e-1"[^}]*\} 1$/m);
  });

  test('requests are counted by route template, decision and code', () => {
    assert.match(text, /^rolegate_http_requests_total\{route="GET \/api\/deals\/:dealId",method="GET",decision="allow",code="200"\} 2$/m);
    assert.match(text, /^rolegate_http_requests_total\{route="GET \/api\/users\/:userId\/profile",method="GET",decision="deny",code="403"\} 1$/m);
    assert.match(text, /^rolegate_authz_decisions_total\{resource="payouts",action="list",decision="deny",reason="excluded_by_tag"\} 1$/m);
    assert.match(text, /^rolegate_token_verifications_total\{result="token_expired"\} 1$/m);
    assert.match(text, /^rolegate_upstream_errors_total\{upstream="dead",kind="refused"\} 1$/m);
  });

  test('labels are bounded: route templates, never a raw path, user id or token', () => {
    const routes = new Set(gw.gateway.policy().routes.routes.map((r) => r.id));
    const values: string[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || !line.startsWith('rolegate_')) continue;
      const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
      for (const m of labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        values.push(`${m[1]}=${m[2]}`);
        if (m[1] === 'route') assert.ok(routes.has(m[2]!) || m[2] === 'none', `route label ${m[2]} is not a template id`);
      }
    }
    for (const v of values) {
      assert.doesNotMatch(v, /d-secret-42|\/api\/deals\/d1|u-olivia|u-pat|u-vera|p-42|%2e|unmapped/, v);
      for (const s of secrets) assert.ok(!v.includes(s.slice(0, 24)), `a token reached a label: ${v.slice(0, 60)}`);
    }
  });

  test('promtool check metrics has no complaint (when promtool is installed)', (t) => {
    if (!existsSync(PROMTOOL)) return t.diagnostic(`${PROMTOOL} not installed: exposition not linted`);
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  });
});

describe('request log', () => {
  let lines: Record<string, unknown>[];
  let raw: string;
  before(async () => {
    assert.ok(await eventually(() => gw.logLines().filter((l) => l.msg === 'request').length >= sent.length, 2000));
    raw = readFileSync(gw.logFile, 'utf8');
    lines = gw.logLines().filter((l) => l.msg === 'request');
  });

  test('one JSON line per request', () => {
    assert.equal(lines.length, sent.length);
  });

  test('each line has request_id, principal, route, decision, reason, status, duration', () => {
    for (const l of lines) {
      assert.match(String(l.request_id), /^[0-9a-f-]{36}$/);
      assert.equal(typeof l.route, 'string');
      assert.ok(l.decision === 'allow' || l.decision === 'deny');
      assert.equal(typeof l.reason, 'string');
      assert.equal(typeof l.status, 'number');
      assert.equal(typeof l.duration_ms, 'number');
    }
    const byId = new Map(lines.map((l) => [l.request_id, l]));
    for (const { res, forwardedId } of sent) {
      const id = (res.headers['x-rolegate-request-id'] as string | undefined) ?? forwardedId;
      assert.ok(id, `no request id for a ${res.status}`);
      const l = byId.get(id);
      assert.ok(l, `no log line for request ${id} (${res.status})`);
      assert.equal(l.status, res.status);
    }
  });

  test('the fields carry the right facts', () => {
    const find = (pred: (l: Record<string, unknown>) => boolean) => lines.find(pred);
    assert.ok(find((l) => l.principal === 'u-olivia' && l.route === 'GET /api/deals/:dealId' && l.decision === 'allow' && l.status === 200 && l.resource === 'deals' && l.action === 'read'));
    assert.ok(find((l) => l.principal === 'u-vera' && l.reason === 'excluded_by_tag' && l.status === 403));
    assert.ok(find((l) => l.reason === 'token_expired' && l.status === 401));
    assert.ok(find((l) => l.reason === 'upstream_unavailable' && l.status === 502));
    assert.ok(find((l) => l.principal === 'u-pat' && l.route === 'GET /api/partners/:partnerId/deals' && l.status === 200));
  });

  test('never contains a token or a cookie value', () => {
    for (const s of secrets) {
      for (const part of s.split('.').filter((p) => p.length > 16)) assert.ok(!raw.includes(part), 'a token segment is in the log');
    }
    assert.ok(!raw.includes(COOKIE_SECRET), 'a cookie value is in the log');
    assert.doesNotMatch(raw, /eyJ[A-Za-z0-9_-]{10,}/);
  });
});

describe('graceful shutdown (built CLI)', () => {
  test('SIGTERM: in-flight request completes, new connections are refused, exit 0', async () => {
    const child = await spawnGateway();
    try {
      child.upstream.on('/probe/slow-term', { delayMs: 1500 });
      const tok = await child.token('u-olivia');
      // an idle keep-alive connection must not hold shutdown up
      const idle = openRaw(child.url, { timeoutMs: 12000 });
      idle.socket.write(req('GET /probe/idle HTTP/1.1', ['Host: x', `Authorization: Bearer ${tok}`]));
      await child.upstream.waitFor(1, 3000);

      const inflight = http(`${child.url}/probe/slow-term`, { headers: bearer(tok), timeoutMs: 12000 });
      await child.upstream.waitFor(2, 3000);
      const signalled = Date.now();
      child.child.kill('SIGTERM');

      await sleep(300);
      const refused = await http(`${child.url}/api/public/status`, { timeoutMs: 2000 }).then((r) => `answered ${r.status}`, (e: NodeJS.ErrnoException) => e.code ?? e.message);
      const res = await inflight;
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json?.url, '/probe/slow-term');
      assert.match(refused, /ECONNREFUSED|ECONNRESET/, `a new request during shutdown was ${refused}`);

      const code = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('still running'), 10000))]);
      assert.equal(code, 0, `exit: ${String(code)}\n${child.stderr()}`);
      assert.ok(Date.now() - signalled < 5000, `exit took ${Date.now() - signalled} ms`);
      idle.socket.destroy();
    } finally {
      await child.close();
    }
  });
});
