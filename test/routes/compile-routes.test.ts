import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRoutes, type CompiledRoute, type RouteSpec, type RouteTable, type RouteContext } from '../../src/routes/compile-routes.js';
import { canonicalPath } from '../../src/routes/canonical-path.js';

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const RESOURCES: Record<string, string[]> = {
  deals: ['list', 'read', 'create', 'update', 'delete'],
  docs: ['read', 'create', 'update', 'delete'],
  settings: ['read', 'update'],
  profile: ['read', 'update'],
};
const PERMS = new Map(Object.entries(RESOURCES).flatMap(([r, actions]) => actions.map((a) => `${r}:${a}`)).map((k, i) => [k, i] as const));

interface Problem { index: number; key: string; message: string }

function build(specs: readonly RouteSpec[], methods: readonly string[] = ALL_METHODS): { table: RouteTable; problems: Problem[] } {
  const problems: Problem[] = [];
  const ctx: RouteContext = {
    methods,
    upstreams: new Set(['portal']),
    permission: (res, action) => PERMS.get(`${res}:${action}`),
    hasResource: (res) => res in RESOURCES,
    report: (index, key, message) => { problems.push({ index, key, message }); },
    source: (index) => `routes.yaml:${index + 1}`,
  };
  return { table: compileRoutes(specs, ctx), problems };
}

function buildClean(specs: readonly RouteSpec[]): RouteTable {
  const { table, problems } = build(specs);
  assert.deepEqual(problems, [], 'the route set compiles without problems');
  return table;
}

const route = (id: string, match: string, extra: Partial<RouteSpec> = {}): RouteSpec =>
  ({ id, match, upstream: 'portal', ...(extra.public ? {} : { resource: 'deals', action: 'read' }), ...extra });

const segmentsOf = (path: string) => canonicalPath(path, { emptySegments: 'reject', allowSemicolon: false, maxPathBytes: 4096 }).segments;

// --- matching --------------------------------------------------------------------------

const MATCH_ROUTES: RouteSpec[] = [
  route('root', 'GET /', { public: true }),
  route('a-x-c', 'GET /a/:x/c'),
  route('a-b-d', 'GET /a/b/d'),
  route('a-b', 'GET /a/b'),
  route('files', 'GET /files/**', { public: true }),
  route('user', 'GET /u/:id', { user: 'id', resource: 'profile', action: 'read' }),
  route('post', 'GET /u/:id/posts/:post', { record: 'post' }),
  route('case', 'GET /Case'),
  route('deal-new', 'POST /deals', { action: 'create' }),
  route('deal-edit', 'PUT,PATCH /deals/:id', { action: 'update', record: 'id' }),
  route('deal-del', 'DELETE /deals/:id', { action: 'delete', record: 'id' }),
  route('deal-get', 'GET /deals/:id', { record: 'id' }),
  route('deals-static', 'GET /deals/mine/all'),
  route('p-rest', 'GET /p/:org/**', { org: 'org' }),
  route('opt', 'OPTIONS /opt', { public: true }),
  route('settings', '* /s/**', { resource: 'settings', action: '{method}' }),
  route('docs', '* /d/**', { resource: 'docs', action: '{method}' }),
];

interface MatchRow { method: string; path?: string; segments?: string[]; id: string | null; values?: string[]; note?: string }
const MATCH_ROWS: MatchRow[] = [
  { method: 'GET', path: '/', id: 'root', values: [] },
  { method: 'GET', path: '/a/b/d', id: 'a-b-d', values: [] },
  { method: 'GET', path: '/a/b/c', id: 'a-x-c', values: ['b'], note: 'static "b" leads nowhere: backtrack to :x' },
  { method: 'GET', path: '/a/z/c', id: 'a-x-c', values: ['z'] },
  { method: 'GET', path: '/a/b', id: 'a-b', values: [] },
  { method: 'GET', path: '/a/z', id: null, note: 'no /a/:x route' },
  { method: 'GET', path: '/a/b/d/e', id: null },
  { method: 'GET', path: '/a/z/d', id: null },
  { method: 'GET', path: '/a', id: null },
  { method: 'GET', path: '/files', id: 'files', values: [], note: '"**" matches zero segments' },
  { method: 'GET', path: '/files/', id: 'files', values: [] },
  { method: 'GET', path: '/files/a', id: 'files', values: [] },
  { method: 'GET', path: '/files/a/b/c.txt', id: 'files', values: [] },
  { method: 'GET', path: '/filesx', id: null },
  { method: 'GET', path: '/p/acme', id: 'p-rest', values: ['acme'] },
  { method: 'GET', path: '/p/acme/x/y', id: 'p-rest', values: ['acme'] },
  { method: 'GET', path: '/p', id: null },
  { method: 'GET', path: '/u/7', id: 'user', values: ['7'] },
  { method: 'GET', path: '/u/7/', id: 'user', values: ['7'], note: 'trailing slash ignored' },
  { method: 'GET', path: '/u/7/posts/9', id: 'post', values: ['7', '9'] },
  { method: 'GET', path: '/u/7/posts', id: null },
  { method: 'GET', path: '/u/%61b', id: 'user', values: ['ab'], note: 'decoded before matching' },
  { method: 'GET', path: '/u/a%20b', id: 'user', values: ['a b'] },
  { method: 'GET', segments: ['u', ''], id: null, note: ':param never matches an empty segment' },
  { method: 'GET', segments: ['a', '', 'c'], id: null },
  { method: 'GET', segments: ['u', '', 'posts', '9'], id: null },
  { method: 'GET', segments: ['files', '', 'x'], id: 'files', values: [] },
  { method: 'GET', path: '/Case', id: 'case', values: [] },
  { method: 'GET', path: '/case', id: null, note: 'case-sensitive' },
  { method: 'GET', path: '/CASE', id: null },
  { method: 'GET', path: '/U/7', id: null },
  { method: 'get', path: '/Case', id: null, note: 'methods are case-sensitive too' },
  { method: 'HEAD', path: '/Case', id: 'case', values: [], note: 'HEAD answered by GET routes' },
  { method: 'HEAD', path: '/u/7/', id: 'user', values: ['7'] },
  { method: 'HEAD', path: '/files/x', id: 'files', values: [] },
  { method: 'POST', path: '/Case', id: null },
  { method: 'POST', path: '/deals', id: 'deal-new', values: [] },
  { method: 'GET', path: '/deals', id: null },
  { method: 'PUT', path: '/deals/1', id: 'deal-edit', values: ['1'] },
  { method: 'PATCH', path: '/deals/1', id: 'deal-edit', values: ['1'] },
  { method: 'DELETE', path: '/deals/1', id: 'deal-del', values: ['1'] },
  { method: 'GET', path: '/deals/1', id: 'deal-get', values: ['1'] },
  { method: 'GET', path: '/deals/mine', id: 'deal-get', values: ['mine'] },
  { method: 'GET', path: '/deals/mine/all', id: 'deals-static', values: [] },
  { method: 'GET', path: '/deals/other/all', id: null },
  { method: 'POST', path: '/deals/1', id: null },
  { method: 'OPTIONS', path: '/opt', id: 'opt', values: [] },
  { method: 'GET', path: '/opt', id: null },
  { method: 'TRACE', path: '/opt', id: null },
  { method: 'GET', path: '/s', id: 'settings', values: [] },
  { method: 'PUT', path: '/s/a/b', id: 'settings', values: [] },
  { method: 'POST', path: '/s/a', id: null, note: '* with {method}: settings has no create' },
  { method: 'DELETE', path: '/s/a', id: null },
  { method: 'OPTIONS', path: '/s/a', id: null },
  { method: 'OPTIONS', path: '/d/a', id: null, note: 'OPTIONS maps to no action' },
  { method: 'DELETE', path: '/d/a', id: 'docs', values: [] },
];

test('matching table', () => {
  const table = buildClean(MATCH_ROUTES);
  for (const row of MATCH_ROWS) {
    const segments = row.segments ?? segmentsOf(row.path!);
    const label = `${row.method} ${row.path ?? JSON.stringify(row.segments)}${row.note ? ` (${row.note})` : ''}`;
    const m = table.match(row.method, segments);
    assert.equal(m?.route.id ?? null, row.id, label);
    if (m) assert.deepEqual(m.values, row.values, `${label}: values`);
  }
});

test('{method} maps GET/HEAD->read, POST->create, PUT/PATCH->update, DELETE->delete', () => {
  const table = buildClean([
    route('docs', '* /d/**', { resource: 'docs', action: '{method}' }),
    route('settings', '* /s/**', { resource: 'settings', action: '{method}' }),
    route('explicit', 'GET,POST,PUT,PATCH,DELETE /e', { resource: 'deals', action: '{method}' }),
    route('fixed', 'GET /f', { resource: 'deals', action: 'list' }),
  ]);
  const actions = (id: string) => Object.fromEntries([...table.routes.find((r) => r.id === id)!.actions].map(([m, [a, perm]]) => {
    assert.equal(perm, PERMS.get(`${table.routes.find((r) => r.id === id)!.resource}:${a}`), `${id} ${m}: permission index`);
    return [m, a];
  }));
  assert.deepEqual(actions('docs'), { GET: 'read', HEAD: 'read', POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' });
  assert.deepEqual(actions('settings'), { GET: 'read', HEAD: 'read', PUT: 'update', PATCH: 'update' }, '"*" skips methods whose action the resource lacks');
  assert.deepEqual(actions('explicit'), { GET: 'read', HEAD: 'read', POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' });
  assert.deepEqual(actions('fixed'), { GET: 'list', HEAD: 'list' }, 'HEAD is authorized exactly as the GET');
});

test('a compiled route carries its params, flags and defaults', () => {
  const table = buildClean([
    { match: 'GET /api/partners/:partnerId/deals/:dealId', resource: 'deals', action: 'read', org: 'partnerId', record: 'dealId', upstream: 'portal' },
    { id: 'me', match: 'PUT /api/users/:userId/profile', resource: 'profile', action: 'update', user: 'userId', upstream: 'portal', max_body_bytes: 1024 },
    { id: 'ws', match: 'GET /events', resource: 'deals', action: 'list', upstream: 'portal', websocket: true },
    { id: 'pub', match: 'GET /pub/**', public: true, upstream: 'portal' },
  ]);
  const [a, me, ws, pub] = table.routes;
  const pickFields = (r: CompiledRoute) => ({
    id: r.id, template: r.template, public: r.public, websocket: r.websocket, upstream: r.upstream, resource: r.resource,
    actions: [...r.actions.keys()], recordParam: r.recordParam, orgParam: r.orgParam, userParam: r.userParam, maxBodyBytes: r.maxBodyBytes, source: r.source,
  });
  assert.deepEqual(pickFields(a!), {
    id: 'GET /api/partners/:partnerId/deals/:dealId', template: '/api/partners/:partnerId/deals/:dealId', public: false, websocket: false,
    upstream: 'portal', resource: 'deals', actions: ['GET', 'HEAD'], recordParam: 1, orgParam: 0, userParam: -1, maxBodyBytes: 0, source: 'routes.yaml:1',
  });
  assert.equal(me!.userParam, 0);
  assert.equal(me!.maxBodyBytes, 1024);
  assert.deepEqual([...me!.actions.keys()], ['PUT']);
  assert.equal(ws!.websocket, true);
  assert.equal(pub!.public, true);
  assert.equal(pub!.actions.size, 0, 'a public route needs no permission');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(table));
});

test('HEAD is not added when http.methods leaves it out', () => {
  const { table, problems } = build([route('g', 'GET /g')], ['GET', 'POST']);
  assert.deepEqual(problems, []);
  assert.equal(table.match('HEAD', ['g']), null);
  assert.equal(table.match('GET', ['g'])?.route.id, 'g');
});

// --- overlap detection --------------------------------------------------------------------

test('overlap detection table: two routes that can match the same request', () => {
  const settings = { resource: 'settings', action: '{method}' };
  const rows: [RouteSpec, RouteSpec, boolean][] = [
    [route('1', 'GET /a/:x'), route('2', 'GET /a/b'), true],
    [route('1', '* /s/**'), route('2', 'GET /s/x'), true],
    [route('1', 'GET /h'), route('2', 'HEAD /h'), true],
    [route('1', 'HEAD /h'), route('2', 'GET /h'), true],
    [route('1', 'GET /a'), route('2', 'POST /a'), false],
    [route('1', 'GET,POST /a'), route('2', 'DELETE,PUT /a'), false],
    [route('1', 'PUT,PATCH /d/:id'), route('2', 'PATCH /d/1'), true],
    [route('1', 'GET /a/:x/c'), route('2', 'GET /a/b/d'), false],
    [route('1', 'GET /a/**'), route('2', 'GET /a'), true],
    [route('1', 'GET /a/:x'), route('2', 'GET /a'), false],
    [route('1', 'GET /:x/b'), route('2', 'GET /a/:y'), true],
    [route('1', 'GET /'), route('2', 'GET /**'), true],
    [route('1', 'GET /a/b'), route('2', 'GET /a/b/'), true],
    [route('1', 'GET /x'), route('2', 'GET /X'), false],
    [route('1', '* /s/**', settings), route('2', 'POST /s/x'), false],
    [route('1', '* /s/**', settings), route('2', 'PATCH /s/x'), true],
    [route('1', '* /s/**', settings), route('2', 'HEAD /s'), true],
    [route('1', 'GET /a/:x/:y'), route('2', 'GET /a/:z'), false],
    [route('1', 'GET /a/**', { public: true }), route('2', 'GET /b/**', { public: true }), false],
    [route('1', '* /o', { public: true }), route('2', 'OPTIONS /o', { public: true }), true],
  ];
  for (const [a, b, want] of rows) {
    const { problems } = build([a, b]);
    const overlaps = problems.filter((p) => /overlaps route/.test(p.message));
    const label = `${a.match} vs ${b.match}`;
    assert.deepEqual(problems.filter((p) => !/overlaps route/.test(p.message)), [], `${label}: no other problem`);
    if (want) assert.deepEqual(overlaps.map((p) => [p.index, p.key]), [[1, 'match']], `${label}: overlap reported at the second route`);
    else assert.deepEqual(overlaps, [], `${label}: no overlap`);
    if (want) assert.match(overlaps[0]!.message, /overlaps route "1" at routes\.yaml:1/);
  }
});

// --- property: the trie picks exactly what a brute-force matcher picks ----------------------

/** mulberry32: small, seeded, good enough to spread test cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Seg = string; // 'a' | 'b' | 'c' static, ':pN' param, '**' rest
interface Candidate { id: string; segs: Seg[]; methods: string[] }

/** Independent of src/routes: a template matches when every segment fits and nothing is left over. */
function bruteMatch(segs: readonly Seg[], path: readonly string[]): string[] | null {
  const values: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '**') return values;
    const v = path[i];
    if (v === undefined) return null;
    if (s.startsWith(':')) {
      if (v === '') return null;
      values.push(v);
    } else if (s !== v) return null;
  }
  return path.length === segs.length ? values : null;
}

const effective = (methods: readonly string[]) => (methods.includes('GET') ? [...methods, 'HEAD'] : [...methods]);

test('property: match() returns exactly the route a brute-force matcher picks', () => {
  const SEED = 0x5eed2024;
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const STATIC = ['a', 'b', 'c'];
  const METHODS = ['GET', 'POST', 'DELETE'];

  // Every path over {a,b,c,z} of length <= 5 witnesses any overlap between templates of <= 4 segments.
  const universe: string[][] = [[]];
  for (let len = 1, frontier: string[][] = [[]]; len <= 5; len++) {
    frontier = frontier.flatMap((p) => ['a', 'b', 'c', 'z'].map((x) => [...p, x]));
    universe.push(...frontier);
  }
  const overlapBrute = (x: Candidate, y: Candidate) =>
    effective(x.methods).some((m) => effective(y.methods).includes(m)) &&
    universe.some((p) => bruteMatch(x.segs, p) !== null && bruteMatch(y.segs, p) !== null);

  const randomTemplate = (): Seg[] => {
    const len = Math.floor(rand() * 5); // 0..4 segments
    const segs: Seg[] = [];
    for (let i = 0; i < len; i++) {
      const r = rand();
      segs.push(r < 0.55 ? pick(STATIC) : r < 0.85 || i < len - 1 ? `:p${i}` : '**');
    }
    return segs;
  };
  const spec = (c: Candidate): RouteSpec => ({ id: c.id, match: `${c.methods.join(',')} /${c.segs.join('/')}`, public: true, upstream: 'portal' });

  let matches = 0;
  let found = 0;
  let overlapChecks = 0;
  for (let set = 0; set < 20; set++) {
    const chosen: Candidate[] = [];
    const rejected: Candidate[] = [];
    for (let k = 0; k < 40; k++) {
      const methods = METHODS.filter(() => rand() < 0.5);
      if (methods.length === 0) methods.push(pick(METHODS));
      const c: Candidate = { id: `r${set}-${k}`, segs: randomTemplate(), methods };
      (chosen.some((o) => overlapBrute(o, c)) ? rejected : chosen).push(c);
    }
    const ctx = `seed ${SEED}, set ${set}: ${chosen.map((c) => spec(c).match).join(' | ')}`;

    // the compiler agrees on overlap: the chosen set is clean, each rejected route is refused
    const { table, problems } = build(chosen.map(spec));
    assert.deepEqual(problems, [], `${ctx}: no false overlap`);
    for (const r of rejected.slice(0, 5)) {
      const { problems: p } = build([...chosen, r].map(spec));
      overlapChecks++;
      assert.ok(p.some((x) => x.index === chosen.length && /overlaps route/.test(x.message)), `${ctx}: ${spec(r).match} must be refused as overlapping`);
    }

    for (let q = 0; q < 100; q++) {
      const len = Math.floor(rand() * 6);
      const path = Array.from({ length: len }, () => pick(['a', 'b', 'c', 'z', 'A', '', 'a']));
      const method = pick(['GET', 'HEAD', 'POST', 'DELETE', 'PUT']);
      const hits = chosen.flatMap((c) => {
        if (!effective(c.methods).includes(method)) return [];
        const values = bruteMatch(c.segs, path);
        return values ? [{ id: c.id, values }] : [];
      });
      assert.ok(hits.length <= 1, `${ctx}: brute force found ${hits.length} routes; the set is not overlap-free`);
      const got = table.match(method, path);
      const label = `${ctx}: ${method} ${JSON.stringify(path)}`;
      assert.equal(got?.route.id ?? null, hits[0]?.id ?? null, label);
      if (got) assert.deepEqual(got.values, hits[0]!.values, `${label}: values`);
      matches++;
      if (got) found++;
    }
  }
  assert.equal(matches, 2000);
  assert.ok(found >= 400, `enough paths hit a route to mean something: ${found}`);
  assert.ok(overlapChecks >= 20, `overlap refusals checked: ${overlapChecks}`);
});
