/**
 * "Compile errors as data": a fixture states the diagnostics it must produce in
 * its own comment header, one per line:
 *
 *   # want: LINE KEY MESSAGE-SUBSTRING
 *
 * KEY is the dotted key path of the diagnostic (`-` for none), MESSAGE-SUBSTRING
 * must occur in its message (`*` accepts any message). The file is the fixture
 * holding the line, so a multi-file case puts each expectation in the file it
 * is about. A fixture without `# want:` lines must load cleanly.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import assert from 'node:assert/strict';
import { LoadError, formatDiagnostic, type Diagnostic } from '../../src/config/index.js';

export interface Want { file: string; line: number; key: string; message: string }

const WANT = /^#\s*want:\s*(\d+)\s+(\S+)\s+(.+?)\s*$/;

export function readWants(file: string): Want[] {
  const abs = resolve(file);
  return readFileSync(abs, 'utf8').split('\n').flatMap((l) => {
    const m = WANT.exec(l);
    return m ? [{ file: abs, line: Number(m[1]), key: m[2] === '-' ? '' : m[2]!, message: m[3]! }] : [];
  });
}

const show = (w: Want) => `${w.file}:${w.line}: ${w.key || '-'}: ~"${w.message}"`;

/** Every wanted diagnostic is present (file, line, key exact; message substring), and nothing else is. */
export function assertDiagnostics(actual: readonly Diagnostic[], wants: readonly Want[]): void {
  const left = [...actual];
  const missing: Want[] = [];
  for (const w of wants) {
    const i = left.findIndex((d) => resolve(d.file) === w.file && d.line === w.line && d.key === w.key && (w.message === '*' || d.message.includes(w.message)));
    if (i < 0) missing.push(w);
    else left.splice(i, 1);
  }
  if (missing.length || left.length) {
    assert.fail([
      ...missing.map((w) => `missing  ${show(w)}`),
      ...left.map((d) => `extra    ${formatDiagnostic(d)}`),
      'actual:',
      ...actual.map((d) => `  ${formatDiagnostic(d)}`),
    ].join('\n'));
  }
}

/** Run `load`; it must throw a LoadError (when `wants` is non-empty) carrying exactly `wants`, else succeed. */
export function expectLoad<T>(load: () => T, wants: readonly Want[]): T | undefined {
  let result: T;
  try {
    result = load();
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    if (wants.length === 0) assert.fail(`expected a clean load, got:\n${e.message}`);
    assert.ok(e.diagnostics.length > 0, 'a LoadError carries at least one diagnostic');
    assertDiagnostics(e.diagnostics, wants);
    return undefined;
  }
  if (wants.length) assert.fail(`loaded without error; wanted:\n${wants.map(show).join('\n')}`);
  return result;
}
