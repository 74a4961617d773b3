import { readdirSync, statSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { lazyValidator, YamlSource, ajvDiagnostics, LoadError, type Diagnostic } from '../config/index.js';
import { policySchema } from './schema.js';
import { compilePolicy, type CompileOptions, type PolicyDocument } from './compile-policy.js';
import type { CompiledPolicy } from './types.js';

/** Policy test suites live beside policies: `portal_test.yaml` or `portal.test.yaml`. */
export const TEST_SUITE = /[._]test\.ya?ml$/;

const validate = lazyValidator({ allErrors: true, strict: true, allowUnionTypes: true }, policySchema);

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

/** Policy files read and schema-checked, ready to compile (again, with an admin overlay). */
export interface PolicySources {
  readonly docs: readonly PolicyDocument[];
  readonly files: readonly string[];
  /** sha256 over every file's name and bytes. */
  readonly hash: string;
}

/** Read and schema-check every policy file; throws LoadError listing every problem with file:line:key. */
export function readPolicySources(paths: readonly string[]): PolicySources {
  const files = policyFiles(paths);
  const hash = createHash('sha256');
  const docs: PolicyDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    const src = YamlSource.read(file);
    try { hash.update(file).update('\0').update(readFileSync(file)); } catch { /* YamlSource reported it */ }
    const doc = checkPolicyDocument(src);
    if (doc) docs.push(doc);
    diagnostics.push(...src.diagnostics);
  }
  if (files.length === 0) diagnostics.push({ file: paths.join(','), line: 0, col: 0, key: 'policy.paths', message: 'no policy files found' });
  if (diagnostics.length) throw new LoadError(diagnostics);
  return { docs, files, hash: hash.digest('hex') };
}

/** A parsed source as a policy document, or null with the schema problems recorded on the source. */
export function checkPolicyDocument(src: YamlSource): PolicyDocument | null {
  if (src.diagnostics.length === 0) {
    const v = src.value ?? {};
    if (typeof v !== 'object' || Array.isArray(v)) src.error([], 'a policy file must be a YAML mapping');
    else if (!validate(v)) ajvDiagnostics(src, validate.errors);
  }
  return src.diagnostics.length === 0 ? { src, body: (src.value ?? {}) as PolicyDocument['body'] } : null;
}

/** Compile read sources (plus extra documents, such as the admin overlay); throws LoadError on any problem. */
export function compileSources(sources: PolicySources, opts: PolicyLoadOptions, extra: { docs?: readonly PolicyDocument[]; hash?: string; defaultRoles?: CompileOptions['defaultRoles'] } = {}): CompiledPolicy {
  const docs = [...sources.docs, ...(extra.docs ?? [])];
  for (const d of docs) d.src.diagnostics.length = 0;
  const policy = compilePolicy(docs, { ...opts, hash: extra.hash ?? sources.hash, files: sources.files, defaultRoles: extra.defaultRoles });
  const problems = docs.flatMap((d) => d.src.diagnostics);
  if (problems.length) throw new LoadError(problems);
  return policy;
}

/** Read, validate and compile every policy file; throws LoadError listing every problem with file:line:key. */
export function loadPolicy(paths: readonly string[], opts: PolicyLoadOptions): CompiledPolicy {
  return compileSources(readPolicySources(paths), opts);
}
