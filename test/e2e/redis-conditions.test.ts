/**
 * Record conditions (assigned, collaborator, group, own_org) and list filtering
 * over HTTP, with a real redis-server behind the gateway's cached store. The
 * gateway runs in-process (loadConfig + startGateway); assignments are written
 * with AssignmentWriter, as the CLI does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { AssignmentWriter, buildAssignmentStore } from '../../src/store/index.js';
import { GatewayError } from '../../src/errors.js';
import { http, bearer } from '../helpers/gateway.js';
import { freePort, httpGet, quietLogger, recordingStoreHooks, redisConfig, sleep, startRedis, storeOnlyConfig, testSigner, untilHealthy, type TestRedis } from '../helpers/redis.js';

const POLICY = `
version: "conditions-1"
resources:
  deals: { actions: [list, read, update] }
roles:
  manager:
    grants:
      - "deals:read"
      - { allow: "deals:update", when: assigned }
  collab:
    grants:
      - { allow: "deals:list,read", when: collaborator }
  groupie:
    grants:
      - { allow: "deals:read", when: group }
  orgie:
    grants:
      - { allow: "deals:read", when: own_org }
  lister:
    grants: ["deals:list"]
routes:
  - { match: "GET /api/deals", resource: deals, action: list, upstream: portal, list: { items: /data, id: id, total: /total } }
  - { match: "GET /api/deals/:dealId", resource: deals, action: read, record: dealId, upstream: portal }
  - { match: "PUT /api/deals/:dealId", resource: deals, action: update, record: dealId, upstream: portal }
`;

/** The list body, byte for byte (odd spacing on purpose: an unfiltered answer must keep it). */
const LIST_BODY = '{ "data": [{"id":"d1"}, {"id":"d2"}, {"id":"d3"}],  "total": 3 }';

const INTERNAL = { kind: 'internal', org_id: 'acme' };
const PARTNER_P1 = { kind: 'partner', org_id: 'p-1' };

describe('e2e: record conditions and list filtering with Redis', () => {
  let dir: string;
  let redis: TestRedis;
  let upstream: Server;
  let upstreamUrl: string;
  let signer: Awaited<ReturnType<typeof testSigner>>;
  let writer: AssignmentWriter;
  let gw: RunningGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-conditions-'));
    redis = await startRedis();
    upstream = createServer((req, res) => {
      req.resume();
      const url = new URL(req.url ?? '/', 'http://upstream');
      if (url.pathname === '/api/deals') {
        if (url.searchParams.get('bad') === 'type') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>deals</html>');
        if (url.searchParams.get('bad') === 'json') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": [ not json');
        return void res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(LIST_BODY)) }).end(LIST_BODY);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, method: req.method, path: url.pathname }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    signer = await testSigner(dir);

    writer = await AssignmentWriter.open(redisConfig(redis.url));
    await writer.setMember('u-man', { roles: ['manager'], org: 'acme', kind: 'internal' });
    await writer.setMember('u-collab', { roles: ['collab'], org: 'acme', kind: 'internal' });
    await writer.setMember('u-group', { roles: ['groupie'], groups: ['emea'], org: 'acme', kind: 'internal' });
    await writer.setMember('u-org', { roles: ['orgie'], org: 'p-1', kind: 'partner' });
    await writer.setMember('u-list', { roles: ['lister'], org: 'acme', kind: 'internal' });
    await writer.setRelations('deals/d1', { assignees: ['u-man'], collaborators: ['u-collab'], partner: 'p-1' });
    await writer.setRelations('deals/d2', { assignees: [], collaborators: [], partner: 'p-2' });
    await writer.setRelations('deals/d3', { assignees: [], collaborators: ['u-collab'], partner: 'p-2' });
    await writer.setPartnerGroups('p-1', ['emea']);
    await writer.setPartnerGroups('p-2', ['apac']);

    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    writeFileSync(join(dir, 'gateway.yaml'), `listen: { host: 127.0.0.1, port: 0 }
ops: { host: 127.0.0.1, port: 0 }
upstreams:
  portal: { url: "${upstreamUrl}", timeout_ms: 5000 }
auth:
  jwt:
    issuer: "https://issuer.test"
    audience: "rolegate-tests"
    algorithms: [ES256]
    jwks_file: "${signer.jwksFile}"
policy: { paths: ["${join(dir, 'policy.yaml')}"], watch: false }
store:
  redis: { url: "${redis.url}", prefix: "rolegate:", command_timeout_ms: 500, connect_timeout_ms: 2000 }
  cache: { max_entries: 1000, ttl_ms: 30000 }
  stale_if_error_ms: 0
log: { level: warn, decisions: false }
`);
    gw = await startGateway(loadConfig(join(dir, 'gateway.yaml')), { logger: pino({ level: 'silent' }) });
    // connected and subscribed to invalidations
    const deadline = Date.now() + 5000;
    while ((await httpGet(`${gw.opsUrl}/readyz`)).status !== 200) {
      if (Date.now() > deadline) assert.fail('gateway not ready');
      await sleep(20);
    }
  });

  after(async () => {
    await gw?.close();
    await writer?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
    await redis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const call = async (who: string, method: string, path: string, claims: Record<string, unknown> = INTERNAL) =>
    http(gw.url + path, { method, headers: { ...bearer(await signer.token(who, claims)), ...(method === 'PUT' ? { 'content-length': '0' } : {}) } });

  test('record conditions over HTTP', async () => {
    const cases: { name: string; who: string; claims?: Record<string, unknown>; method: string; path: string; status: number; reason?: string }[] = [
      { name: 'assigned: unconditional read', who: 'u-man', method: 'GET', path: '/api/deals/d2', status: 200 },
      { name: 'assigned: allows', who: 'u-man', method: 'PUT', path: '/api/deals/d1', status: 200 },
      { name: 'assigned: denies', who: 'u-man', method: 'PUT', path: '/api/deals/d2', status: 403, reason: 'condition_failed' },
      { name: 'collaborator: allows', who: 'u-collab', method: 'GET', path: '/api/deals/d1', status: 200 },
      { name: 'collaborator: denies', who: 'u-collab', method: 'GET', path: '/api/deals/d2', status: 403, reason: 'condition_failed' },
      { name: 'collaborator: no update grant', who: 'u-collab', method: 'PUT', path: '/api/deals/d1', status: 403 },
      { name: 'group: partner p-1 is in emea', who: 'u-group', method: 'GET', path: '/api/deals/d1', status: 200 },
      { name: 'group: partner p-2 is apac only', who: 'u-group', method: 'GET', path: '/api/deals/d2', status: 403, reason: 'condition_failed' },
      { name: 'own_org: record partner is my org', who: 'u-org', claims: PARTNER_P1, method: 'GET', path: '/api/deals/d1', status: 200 },
      { name: 'own_org: record partner is another org', who: 'u-org', claims: PARTNER_P1, method: 'GET', path: '/api/deals/d2', status: 403, reason: 'condition_failed' },
      { name: 'unknown record: assigned', who: 'u-man', method: 'PUT', path: '/api/deals/d9', status: 403, reason: 'condition_failed' },
      { name: 'unknown record: collaborator', who: 'u-collab', method: 'GET', path: '/api/deals/d9', status: 403, reason: 'condition_failed' },
      { name: 'unknown record: group', who: 'u-group', method: 'GET', path: '/api/deals/d9', status: 403, reason: 'condition_failed' },
      { name: 'unknown record: own_org', who: 'u-org', claims: PARTNER_P1, method: 'GET', path: '/api/deals/d9', status: 403, reason: 'condition_failed' },
    ];
    for (const c of cases) {
      const r = await call(c.who, c.method, c.path, c.claims);
      assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
      if (c.reason) assert.equal(r.json?.reason, c.reason, c.name);
      if (c.status === 200) assert.equal(r.json?.path, c.path, c.name);
    }
  });

  test('a collaborator listing deals sees exactly their records, total fixed', async () => {
    const r = await call('u-collab', 'GET', '/api/deals');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { data: [{ id: 'd1' }, { id: 'd3' }], total: 2 });
  });

  test('an unconditional lister gets the upstream bytes unchanged', async () => {
    const r = await call('u-list', 'GET', '/api/deals');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, LIST_BODY);
  });

  test('a principal with no list grant is denied the list', async () => {
    const r = await call('u-group', 'GET', '/api/deals');
    assert.equal(r.status, 403, r.text);
  });

  test('a relation change written through the writer takes effect on the next request', async () => {
    // warm the cache with the old answers first
    assert.equal((await call('u-collab', 'GET', '/api/deals/d2')).status, 403);
    assert.equal((await call('u-man', 'PUT', '/api/deals/d1')).status, 200);

    await writer.setRelations('deals/d2', { collaborators: ['u-collab'] });
    await writer.setRelations('deals/d1', { assignees: [] });
    assert.equal((await call('u-collab', 'GET', '/api/deals/d2')).status, 200);
    const denied = await call('u-man', 'PUT', '/api/deals/d1');
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json?.reason, 'condition_failed');
    assert.deepEqual((await call('u-collab', 'GET', '/api/deals')).json, { data: [{ id: 'd1' }, { id: 'd2' }, { id: 'd3' }], total: 3 });

    await writer.setRelations('deals/d3', { collaborators: [] });
    assert.deepEqual((await call('u-collab', 'GET', '/api/deals')).json, { data: [{ id: 'd1' }, { id: 'd2' }], total: 2 });
    const gone = await call('u-collab', 'GET', '/api/deals/d3');
    assert.equal(gone.status, 403, gone.text);

    // the partner's groups too
    await writer.setPartnerGroups('p-2', ['apac', 'emea']);
    assert.equal((await call('u-group', 'GET', '/api/deals/d2')).status, 200);
  });

  test('a list body that is not JSON fails closed for a filtered principal', async () => {
    for (const bad of ['type', 'json']) {
      const r = await call('u-collab', 'GET', `/api/deals?bad=${bad}`);
      assert.equal(r.status, 502, `${bad}: ${r.text}`);
      assert.equal(r.json?.reason, 'list_unfilterable', bad);
    }
    // an unfiltered lister gets it as is
    const r = await call('u-list', 'GET', '/api/deals?bad=type');
    assert.equal(r.status, 200);
    assert.equal(r.text, '<html>deals</html>');
  });

  test('the gateway store reads principal record sets from the reverse index, and fails closed', async () => {
    const store = buildAssignmentStore(storeOnlyConfig(redisConfig(redis.url)), recordingStoreHooks().hooks, quietLogger);
    try {
      await untilHealthy(store);
      assert.ok(store.getPrincipalRecords, 'the cached Redis store implements getPrincipalRecords');
      await writer.setRelations('deals/d7', { assignees: ['u-x'], collaborators: ['u-y'] });
      assert.deepEqual([...await store.getPrincipalRecords('u-x', 'deals', 'assigned')], ['d7']);
      assert.deepEqual([...await store.getPrincipalRecords('u-x', 'deals', 'collaborator')], []);
      assert.deepEqual([...await store.getPrincipalRecords('u-y', 'deals', 'collaborator')], ['d7']);
    } finally {
      await store.close();
    }
    const dead = buildAssignmentStore(storeOnlyConfig(redisConfig(`redis://127.0.0.1:${await freePort()}`, { connect_timeout_ms: 200, command_timeout_ms: 200 })), recordingStoreHooks().hooks, quietLogger);
    try {
      await assert.rejects(async () => dead.getPrincipalRecords!('u-x', 'deals', 'assigned'), (e: unknown) => e instanceof GatewayError && e.reason === 'store_unavailable');
    } finally {
      await dead.close();
    }
  });
});
