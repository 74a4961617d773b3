import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, LoadError, type Config } from '../../src/config/index.js';
import { expectLoad, readWants } from './want-diagnostics.js';

// Fixtures stay in the source tree; this file runs from dist/test/config/.
const TESTDATA = fileURLToPath(new URL('../../../test/config/testdata/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rolegate-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
function writeConfig(text: string, name = `c${++seq}.yaml`, dir = tmp): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Run with these environment variables set (undefined: unset), restoring them after. */
function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(env);
  try { return fn(); } finally { apply(saved); }
}

function loadError(file: string): LoadError {
  try {
    loadConfig(file);
  } catch (e) {
    assert.ok(e instanceof LoadError, `expected LoadError, got ${String(e)}`);
    return e;
  }
  assert.fail(`${file} loaded without error`);
}

test('a minimal config gets every default', () => {
  const file = join(TESTDATA, 'minimal.yaml');
  const cfg = loadConfig(file);
  const expected: Config = {
    file,
    dir: dirname(file),
    listen: { host: '127.0.0.1', port: 8080 },
    ops: { host: '127.0.0.1', port: 9090 },
    upstreams: {
      portal: { url: 'http://127.0.0.1:3000', timeout_ms: 30000, connect_timeout_ms: 5000, connections: 64, ignores_method_override: false },
    },
    auth: {
      jwt: {
        issuer: 'https://idp.example.test/',
        audience: 'partner-portal',
        algorithms: ['RS256'],
        jwks_url: 'https://idp.example.test/jwks',
        discovery: false,
        typ: [],
        clock_tolerance_s: 30,
        max_token_bytes: 8192,
        jwks_cache_ttl_s: 600,
        jwks_refetch_interval_s: 30,
        jwks_timeout_ms: 5000,
        token_cache: { max_entries: 10000 },
        claims: { subject: 'sub', org: 'org_id', kind: 'kind', roles: 'roles', groups: 'groups', email: 'email' },
      },
    },
    policy: { paths: [join(dirname(file), 'policies/portal.yaml')], watch: false },
    store: { cache: { max_entries: 100000, ttl_ms: 30000 }, stale_if_error_ms: 0 },
    headers: { prefix: 'x-rolegate-', forward_authorization: true, strip: [] },
    limits: {
      max_header_bytes: 16384, headers_timeout_ms: 10000, request_timeout_ms: 300000, keep_alive_timeout_ms: 5000,
      max_connections: 10000, max_body_bytes: 0, max_path_bytes: 4096, shutdown_grace_ms: 10000,
    },
    http: { methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], empty_segments: 'reject', allow_semicolon: false, trust_proxy: false },
    log: { level: 'info', decisions: true },
  };
  assert.deepEqual(cfg, expected);
  assert.equal(cfg.admin, undefined, 'admin listener is off unless configured');
  assert.equal(cfg.store.seed, undefined);
  assert.equal(cfg.store.redis, undefined);
});

test('invalid configs: each fixture states the diagnostics it must produce', async (t) => {
  const dir = join(TESTDATA, 'invalid');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 20, `fixtures found in ${dir}`);
  const unset = { ROLEGATE_TEST_UNSET_A: undefined, ROLEGATE_TEST_UNSET_B: undefined, ROLEGATE_TEST_UNSET_C: undefined };
  for (const f of files) {
    await t.test(f, () => {
      const file = join(dir, f);
      const wants = readWants(file);
      assert.ok(wants.length > 0, `${f} states at least one "# want:" line`);
      withEnv(unset, () => expectLoad(() => loadConfig(file), wants));
    });
  }
});

test('diagnostics are sorted by line and formatted file:line:col: key: message', () => {
  const file = join(TESTDATA, 'invalid', 'wrong-type.yaml');
  const e = loadError(file);
  const lines = e.diagnostics.map((d) => d.line);
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
  const first = e.message.split('\n')[0]!;
  assert.match(first, /^\/.+\/wrong-type\.yaml:6:\d+: listen\.port: must be integer$/);
  assert.ok(e.diagnostics.every((d) => d.file === file && d.col > 0));
});

test('an unreadable config file is a LoadError naming the file', () => {
  const file = join(tmp, 'does-not-exist.yaml');
  const e = loadError(file);
  assert.equal(e.diagnostics.length, 1);
  assert.equal(e.diagnostics[0]!.file, file);
  assert.match(e.diagnostics[0]!.message, /cannot read file/);
});

// --- ${ENV} interpolation -------------------------------------------------------

const withIssuer = (scalar: string, extra = '') => `upstreams:
  portal: { url: "http://127.0.0.1:3000" }
auth:
  jwt:
    issuer: ${scalar}
    audience: partner-portal
    algorithms: [RS256]
    jwks_url: "https://idp.example.test/jwks"
policy: { paths: [p.yaml] }
${extra}`;
const ISSUER_LINE = 5;

interface EnvRow { name: string; scalar: string; env: Record<string, string | undefined>; issuer?: string; errors?: string[]; extra?: string }
const ENV_ROWS: EnvRow[] = [
  { name: '${X} set', scalar: '"${RG_T_HOST}"', env: { RG_T_HOST: 'idp.test' }, issuer: 'idp.test' },
  { name: 'plain scalar', scalar: '${RG_T_HOST}', env: { RG_T_HOST: 'idp.test' }, issuer: 'idp.test' },
  { name: 'single-quoted scalar', scalar: "'${RG_T_HOST}'", env: { RG_T_HOST: 'idp.test' }, issuer: 'idp.test' },
  { name: 'two variables inside text', scalar: '"https://${RG_T_HOST}/realms/${RG_T_REALM}/"', env: { RG_T_HOST: 'idp.test', RG_T_REALM: 'acme' }, issuer: 'https://idp.test/realms/acme/' },
  { name: '${X:-default}, X unset', scalar: '"${RG_T_UNSET:-https://fallback.test/}"', env: { RG_T_UNSET: undefined }, issuer: 'https://fallback.test/' },
  { name: '${X:-default}, X set', scalar: '"${RG_T_HOST:-fallback}"', env: { RG_T_HOST: 'idp.test' }, issuer: 'idp.test' },
  { name: '${X:-default}, X empty', scalar: '"${RG_T_EMPTY:-fallback}"', env: { RG_T_EMPTY: '' }, issuer: 'fallback' },
  { name: '${X:-} (empty default)', scalar: '"https://idp${RG_T_UNSET:-}.test/"', env: { RG_T_UNSET: undefined }, issuer: 'https://idp.test/' },
  { name: 'default may contain ":" and "/"', scalar: '"${RG_T_UNSET:-http://a:1/b}"', env: { RG_T_UNSET: undefined }, issuer: 'http://a:1/b' },
  { name: 'a value is not interpolated again', scalar: '"${RG_T_HOST}"', env: { RG_T_HOST: '${RG_T_OTHER}', RG_T_OTHER: 'no' }, issuer: '${RG_T_OTHER}' },
  {
    name: 'a value cannot inject YAML', scalar: '"${RG_T_HOST}"', env: { RG_T_HOST: 'x"\nlisten: { port: 1 }\n#' },
    issuer: 'x"\nlisten: { port: 1 }\n#',
  },
  { name: '$X without braces is literal', scalar: '"$RG_T_HOST"', env: { RG_T_HOST: 'idp.test' }, issuer: '$RG_T_HOST' },
  { name: 'unterminated ${ is literal', scalar: '"${RG_T_HOST"', env: { RG_T_HOST: 'idp.test' }, issuer: '${RG_T_HOST' },
  { name: 'comments are not interpolated', scalar: 'idp # ${RG_T_UNSET}', env: { RG_T_UNSET: undefined }, issuer: 'idp' },
  { name: '${X} unset', scalar: '"${RG_T_UNSET}"', env: { RG_T_UNSET: undefined }, errors: ['environment variable RG_T_UNSET is not set'] },
  {
    name: 'every unset variable is reported', scalar: '"${RG_T_UNSET}/${RG_T_UNSET2}"', env: { RG_T_UNSET: undefined, RG_T_UNSET2: undefined },
    errors: ['environment variable RG_T_UNSET is not set', 'environment variable RG_T_UNSET2 is not set'],
  },
];

test('${ENV} and ${ENV:-default} interpolation', async (t) => {
  for (const row of ENV_ROWS) {
    await t.test(row.name, () => {
      const file = writeConfig(withIssuer(row.scalar, row.extra));
      withEnv(row.env, () => {
        if (row.errors) {
          const e = loadError(file);
          assert.deepEqual(e.diagnostics.map((d) => [d.line, d.key, d.message]), row.errors.map((m) => [ISSUER_LINE, 'auth.jwt.issuer', m]));
        } else {
          const cfg = loadConfig(file);
          assert.equal(cfg.auth.jwt.issuer, row.issuer);
          assert.equal(cfg.listen.port, 8080);
        }
      });
    });
  }
});

test('${ENV} in a list item and in a path that is then resolved', () => {
  const file = writeConfig(`upstreams:
  portal: { url: "\${RG_T_URL:-http://127.0.0.1:3000}" }
auth:
  jwt:
    issuer: "https://idp.example.test/"
    audience: [a, "\${RG_T_AUD}"]
    algorithms: [RS256]
    jwks_url: "https://idp.example.test/jwks"
policy: { paths: ["\${RG_T_DIR:-policies}/portal.yaml"] }
`, 'env-paths.yaml', join(tmp, 'envdir'));
  const cfg = withEnv({ RG_T_URL: 'http://10.0.0.7:81/', RG_T_AUD: 'b', RG_T_DIR: undefined }, () => loadConfig(file));
  assert.equal(cfg.upstreams.portal!.url, 'http://10.0.0.7:81');
  assert.deepEqual(cfg.auth.jwt.audience, ['a', 'b']);
  assert.deepEqual(cfg.policy.paths, [join(tmp, 'envdir', 'policies', 'portal.yaml')]);
});

// --- paths ------------------------------------------------------------------------

test('relative paths resolve against the config file folder, absolute ones stay', async (t) => {
  const dir = join(tmp, 'deploy', 'conf');
  const abs = join(tmp, 'elsewhere', 'c.yaml');
  const head = `upstreams:
  portal: { url: "http://127.0.0.1:3000" }
policy: { paths: [policies/a.yaml, ../shared/b.yaml, "${abs}", ./c/] }
store: { seed: seed/members.yaml }
`;
  const jwt = (source: string) => `auth:
  jwt:
    issuer: "https://idp.example.test/"
    audience: partner-portal
    algorithms: [RS256]
    ${source}
`;
  const rows = [
    { name: 'jwks_file', source: 'jwks_file: keys/jwks.json', check: (c: Config) => assert.equal(c.auth.jwt.jwks_file, join(dir, 'keys', 'jwks.json')) },
    { name: 'public_key_file', source: 'public_key_file: ../keys/idp.pem', check: (c: Config) => assert.equal(c.auth.jwt.public_key_file, join(tmp, 'deploy', 'keys', 'idp.pem')) },
    { name: 'jwks_url is a URL, not a path', source: 'jwks_url: "https://idp.example.test/jwks"', check: (c: Config) => assert.equal(c.auth.jwt.jwks_url, 'https://idp.example.test/jwks') },
  ];
  for (const row of rows) {
    await t.test(row.name, () => {
      const file = writeConfig(head + jwt(row.source), `${row.name}.yaml`, dir);
      // loading by a path relative to the working directory changes nothing
      for (const given of [file, relative(process.cwd(), file)]) {
        const cfg = loadConfig(given);
        assert.equal(cfg.file, file);
        assert.equal(cfg.dir, dir);
        assert.deepEqual(cfg.policy.paths, [join(dir, 'policies/a.yaml'), join(tmp, 'deploy', 'shared', 'b.yaml'), abs, resolve(dir, 'c')]);
        assert.equal(cfg.store.seed, join(dir, 'seed', 'members.yaml'));
        row.check(cfg);
      }
    });
  }
});

// --- frozen ---------------------------------------------------------------------------

function assertDeepFrozen(v: unknown, path: string): void {
  if (v === null || typeof v !== 'object') return;
  assert.ok(Object.isFrozen(v), `${path} is frozen`);
  for (const [k, child] of Object.entries(v)) assertDeepFrozen(child, `${path}.${k}`);
}

test('the result is deeply frozen, defaults included', () => {
  const file = writeConfig(`upstreams:
  portal: { url: "http://127.0.0.1:3000" }
auth:
  jwt:
    issuer: "https://idp.example.test/"
    audience: [a, b]
    algorithms: [RS256, ES256]
    jwks_url: "https://idp.example.test/jwks"
policy: { paths: [p.yaml] }
admin: { port: 9091 }
store: { redis: { url: "redis://127.0.0.1:6379" } }
`);
  const cfg = loadConfig(file);
  assertDeepFrozen(cfg, 'config');
  const mutations: [string, () => void][] = [
    ['top-level key', () => { (cfg as { listen: unknown }).listen = {}; }],
    ['nested default', () => { (cfg.listen as { port: number }).port = 1; }],
    ['default array', () => { (cfg.http.methods as string[]).push('TRACE'); }],
    ['list in file', () => { (cfg.auth.jwt.algorithms as string[])[0] = 'none'; }],
    ['upstream entry', () => { (cfg.upstreams as Record<string, unknown>).evil = { url: 'http://evil' }; }],
    ['delete a key', () => { delete (cfg.auth.jwt as { jwks_url?: string }).jwks_url; }],
    ['redis default', () => { (cfg.store.redis as { prefix: string }).prefix = 'x'; }],
  ];
  for (const [name, mutate] of mutations) assert.throws(mutate, TypeError, name);
  assert.equal(cfg.store.redis!.prefix, 'rolegate:');
});

test('defaults are not shared between loads', () => {
  const a = loadConfig(join(TESTDATA, 'minimal.yaml'));
  const b = loadConfig(join(TESTDATA, 'minimal.yaml'));
  assert.notEqual(a, b);
  assert.notEqual(a.http.methods, b.http.methods);
  assert.notEqual(a.listen, b.listen);
  assert.deepEqual(a, b);
});

// --- hostile YAML -------------------------------------------------------------------------

/** Ten aliases of ten aliases of ...: a few hundred bytes that expand to 10^8 nodes. */
const ALIAS_BOMB = [
  'a0: &a0 [x, x, x, x, x, x, x, x, x, x]',
  ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`),
  'upstreams: { portal: { url: "http://127.0.0.1:3000" } }',
].join('\n');

test('an alias bomb is refused with a LoadError naming the file, not an exception', () => {
  const file = writeConfig(ALIAS_BOMB, 'alias-bomb.yaml');
  let thrown: unknown;
  try { loadConfig(file); } catch (e) { thrown = e; }
  assert.ok(thrown instanceof LoadError, `expected LoadError, got ${String(thrown)}`);
  assert.ok(thrown.diagnostics.length > 0 && thrown.diagnostics.every((d) => d.file === file));
  assert.match(thrown.message, /alias/i);
});

test('a few ordinary aliases are fine', () => {
  const file = writeConfig(`x-url: &portal "http://127.0.0.1:3000"
upstreams:
  portal: { url: *portal }
auth:
  jwt:
    issuer: "https://idp.example.test/"
    audience: partner-portal
    algorithms: [RS256]
    jwks_url: "https://idp.example.test/jwks"
policy: { paths: [p.yaml] }
`);
  const e = loadError(file);
  assert.deepEqual(e.diagnostics.map((d) => [d.line, d.key, d.message]), [[1, 'x-url', 'unknown key "x-url"']]);
});
