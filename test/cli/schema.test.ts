/** `rolegate schema`: the printed schemas are the ones validation uses, and the shipped files pass them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { policySchema, suiteSchema, decisionRecordSchema } from '../../src/policy/index.js';
import { ROOT, json, rolegate } from './workspace.js';

const schemaOf = (kind: string) => json(rolegate(['schema', kind]));

test('each kind prints $schema, title and the validation schema itself', () => {
  for (const [kind, source] of [['config', configSchema], ['policy', policySchema], ['tests', suiteSchema], ['decision-log', decisionRecordSchema]] as const) {
    const s = schemaOf(kind);
    assert.equal(s.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.match(s.title, /^rolegate /);
    const { $schema: _a, title: _b, description: _c, ...rest } = s;
    assert.deepEqual(rest, JSON.parse(JSON.stringify(source)), kind);
  }
  const bad = rolegate(['schema', 'nope']);
  assert.equal(bad.code, 2);
});

test('the shipped policies, suites and config validate against the printed schemas (as an editor would)', () => {
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  const policy = ajv.compile(schemaOf('policy'));
  const tests = ajv.compile(schemaOf('tests'));
  const config = ajv.compile(schemaOf('config'));
  const files = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, dir, f));
  let n = 0;
  for (const f of [...files('policies'), ...files('policies/examples')]) {
    const v = /[._]test\.ya?ml$/.test(f) ? tests : policy;
    assert.ok(v(parse(readFileSync(f, 'utf8'))), `${f}: ${JSON.stringify(v.errors)}`);
    n++;
  }
  // an editor sees `${NAME:-default}` as written, so pattern-checked fields with one are flagged (docs/editor-support.md); loadConfig sees the default
  const text = readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8');
  assert.ok(!config(parse(text)));
  assert.ok(config(parse(text.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, '$1'))), JSON.stringify(config.errors));
  assert.ok(!policy({ roles: { r: { grants: ['not a grant'] } } }));
  assert.ok(n >= 2);
});
