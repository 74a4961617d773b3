import { readdirSync, statSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { YamlSource, ajvDiagnostics, LoadError, type Diagnostic } from '../config/index.js';
import { policySchema } from './schema.js';
import { compilePolicy, type PolicyDocument } from './compile-policy.js';
import type { CompiledPolicy } from './types.js';

/** Policy test suites live beside policies: `portal_test.yaml` or `portal.test.yaml`. */
export const TEST_SUITE = /[._]test\.ya?ml$/;

const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(policySchema);

export interface PolicyLoadOptions { upstreams: ReadonlySet<string> | null; methods: readonly string[] }

/** Policy files named by `paths`: files, or folders whose *.yaml / *.yml are read in name order (test suites `*_test.yaml` skipped). */
export function policyFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try { isDir = statSync(p).isDirectory(); } catch { /* reported when read */ }
    if (!isDir) { out.push(p); continue; }
    for (const f of readdirSync(p).sort()) {
      if (/\.ya?ml$/.test(f) && !TEST_SUITE.test(f)) out.push(join(p, f));
    }
  }
  return out;
}

/** Read, validate and compile every policy file; throws LoadError listing every problem with file:line:key. */
export function loadPolicy(paths: readonly string[], opts: PolicyLoadOptions): CompiledPolicy {
  const files = policyFiles(paths);
  const hash = createHash('sha256');
  const docs: PolicyDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    const src = YamlSource.read(file);
    try { hash.update(file).update('\0').update(readFileSync(file)); } catch { /* YamlSource reported it */ }
    if (src.diagnostics.length === 0) {
      const v = src.value ?? {};
      if (typeof v !== 'object' || Array.isArray(v)) src.error([], 'a policy file must be a YAML mapping');
      else if (!validate(v)) ajvDiagnostics(src, validate.errors);
    }
    if (src.diagnostics.length === 0) docs.push({ src, body: (src.value ?? {}) as PolicyDocument['body'] });
    diagnostics.push(...src.diagnostics);
  }
  if (files.length === 0) diagnostics.push({ file: paths.join(','), line: 0, col: 0, key: 'policy.paths', message: 'no policy files found' });
  if (diagnostics.length) throw new LoadError(diagnostics);
  const digest = hash.digest('hex');
  const policy = compilePolicy(docs, { ...opts, hash: digest, files });
  const problems = docs.flatMap((d) => d.src.diagnostics);
  if (problems.length) throw new LoadError(problems);
  return policy;
}
