import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy, type PolicyLoadOptions } from '../../src/policy/index.js';
import { LoadError } from '../../src/config/index.js';
import { expectLoad, readWants } from '../config/want-diagnostics.js';

// Fixtures stay in the source tree; this file runs from dist/test/policy/.
const COMPILE = fileURLToPath(new URL('../../../test/policy/testdata/compile/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OPTS: PolicyLoadOptions = { upstreams: new Set(['portal']), methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] };

/** A case is `<case>.yaml`, or a folder `<case>/` whose files are loaded together (in name order). */
function cases(): { name: string; files: string[] }[] {
  return readdirSync(COMPILE).sort().flatMap((entry) => {
    const p = join(COMPILE, entry);
    if (statSync(p).isDirectory()) {
      return [{ name: `${entry}/`, files: readdirSync(p).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(p, f)) }];
    }
    return entry.endsWith('.yaml') ? [{ name: entry, files: [p] }] : [];
  });
}

test('compile errors as data: testdata/compile/* state their file:line:key diagnostics', async (t) => {
  const all = cases();
  assert.ok(all.length >= 25, `found ${all.length} cases in ${COMPILE}`);
  for (const c of all) {
    await t.test(c.name, () => {
      const wants = c.files.flatMap(readWants);
      const policy = expectLoad(() => loadPolicy(c.files, OPTS), wants);
      if (wants.length === 0) assert.ok(policy && policy.routes.routes.length + policy.roles.size > 0);
    });
  }
});

test('the shipped policies/portal.yaml compiles cleanly', () => {
  const policy = loadPolicy([join(ROOT, 'policies', 'portal.yaml')], OPTS);
  assert.ok(policy.roles.has('owner'));
  assert.ok(policy.routes.routes.length > 0);
});

test('a policy folder loads its *.yaml in name order and skips *_test.yaml suites', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-policy-'));
  try {
    writeFileSync(join(dir, 'b.yaml'), 'roles:\n  viewer: { grants: ["deals:read"] }\n');
    writeFileSync(join(dir, 'a.yaml'), 'resources:\n  deals: { actions: [read] }\n');
    writeFileSync(join(dir, 'a_test.yaml'), 'this is: [not, a policy\n');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const policy = loadPolicy([dir], OPTS);
    assert.deepEqual(policy.files, [join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
    assert.ok(policy.roles.get('viewer')!.perms[policy.permIndex.get('deals:read')!]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing policy file, or a folder without policies, is a LoadError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-policy-'));
  try {
    const missing = join(dir, 'nope.yaml');
    assert.throws(() => loadPolicy([missing], OPTS), (e: unknown) =>
      e instanceof LoadError && e.diagnostics.length === 1 && e.diagnostics[0]!.file === missing && /cannot read file/.test(e.diagnostics[0]!.message));
    assert.throws(() => loadPolicy([dir], OPTS), (e: unknown) =>
      e instanceof LoadError && /no policy files found/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an alias bomb in a policy file is a LoadError naming the file, not an exception', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-policy-'));
  try {
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, [
      'a0: &a0 [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`),
    ].join('\n'));
    let thrown: unknown;
    try { loadPolicy([file], OPTS); } catch (e) { thrown = e; }
    assert.ok(thrown instanceof LoadError, `expected LoadError, got ${String(thrown)}`);
    assert.ok(thrown.diagnostics.every((d) => d.file === file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
