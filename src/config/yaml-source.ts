import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node } from 'yaml';
import type { Diagnostic } from './diagnostics.js';

export type KeyPath = readonly (string | number)[];

/**
 * A parsed YAML file that remembers where every value came from, so ajv and
 * semantic checks can report file:line:key.
 */
export class YamlSource {
  readonly file: string;
  readonly value: unknown;
  readonly diagnostics: Diagnostic[] = [];
  private readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(file: string, text: string, opts: { interpolateEnv?: boolean } = {}) {
    this.file = file;
    this.lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      const pos = this.lines.linePos(e.pos[0]);
      const key = e.code === 'DUPLICATE_KEY' ? this.keyAt(e.pos[0]) : '';
      const message = e.message.split('\n')[0] ?? e.message;
      this.diagnostics.push({ file, line: pos.line, col: pos.col, key, message: key ? `duplicate key "${key.split('.').pop()}"` : message });
    }
    if (opts.interpolateEnv && this.doc.errors.length === 0) this.interpolate(this.doc.contents, []);
    let value: unknown;
    if (this.doc.errors.length === 0) {
      try {
        value = this.doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        // alias bombs and similar: a load error at the document, never a crash
        this.diagnostics.push({ file, line: 1, col: 1, key: '', message: `cannot load YAML: ${(e as Error).message}` });
      }
    }
    this.value = value;
  }

  static read(file: string, opts?: { interpolateEnv?: boolean }): YamlSource {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const src = new YamlSource(file, '');
      src.diagnostics.push({ file, line: 0, col: 0, key: '', message: `cannot read file: ${(e as Error).message}` });
      return src;
    }
    return new YamlSource(file, text, opts);
  }

  /** True when `path` is written in the file (not filled by a default). */
  has(path: KeyPath): boolean {
    return this.doc.hasIn(path as (string | number)[]);
  }

  /** The dotted key path of the map key starting at `offset` (for duplicate-key errors). */
  private keyAt(offset: number): string {
    const walk = (node: unknown, path: string[]): string | undefined => {
      if (isMap(node)) {
        for (const p of node.items) {
          if (!isScalar(p.key)) continue;
          const here = [...path, String(p.key.value)];
          if (p.key.range?.[0] === offset) return here.join('.');
          const deeper = walk(p.value, here);
          if (deeper) return deeper;
        }
      } else if (isSeq(node)) {
        for (const [i, item] of node.items.entries()) {
          const deeper = walk(item, [...path, String(i)]);
          if (deeper) return deeper;
        }
      }
      return undefined;
    };
    return walk(this.doc.contents, []) ?? '';
  }

  /** Position of the value at `path`, or of the deepest ancestor that exists. */
  locate(path: KeyPath): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let found: unknown = node;
    for (const k of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(k));
        if (!pair) break;
        node = pair.value ?? pair.key;
        found = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof k === 'number' || isSeq(node) && /^\d+$/.test(String(k))) {
        const item = (node as { items: unknown[] }).items[Number(k)];
        if (item === undefined) break;
        node = item;
        found = item;
      } else break;
    }
    const range = (found as Node | undefined)?.range;
    if (!range) return { line: 1, col: 1 };
    const pos = this.lines.linePos(range[0]);
    return { line: pos.line, col: pos.col };
  }

  /** Position of a map key itself (for "unknown key" errors). */
  locateKey(path: KeyPath, key: string): { line: number; col: number } {
    const parent = this.doc.getIn(path as (string | number)[], true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) {
        const pos = this.lines.linePos(range[0]);
        return { line: pos.line, col: pos.col };
      }
    }
    return this.locate(path);
  }

  error(path: KeyPath, message: string, keyOnly?: string): Diagnostic {
    const pos = keyOnly !== undefined ? this.locateKey(path, keyOnly) : this.locate(path);
    const key = [...path, ...(keyOnly !== undefined ? [keyOnly] : [])].join('.');
    const d = { file: this.file, line: pos.line, col: pos.col, key, message };
    this.diagnostics.push(d);
    return d;
  }

  /** `${NAME}` and `${NAME:-default}` in string scalars, so secrets stay out of files. */
  private interpolate(node: unknown, path: (string | number)[]): void {
    if (isMap(node)) {
      for (const p of node.items) if (isScalar(p.key)) this.interpolate(p.value, [...path, String(p.key.value)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.interpolate(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      node.value = node.value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, dflt?: string) => {
        const v = process.env[name];
        if (v !== undefined && v !== '') return v;
        if (dflt !== undefined) return dflt;
        this.error(path, `environment variable ${name} is not set`);
        return '';
      });
    }
  }
}

/** Map ajv errors to diagnostics at the offending key. */
export function ajvDiagnostics(src: YamlSource, errors: readonly AjvLikeError[] | null | undefined, base: KeyPath = []): void {
  for (const e of errors ?? []) {
    const path = [...base, ...e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))];
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      src.error(path, `unknown key "${String(params.additionalProperty)}"`, String(params.additionalProperty));
    } else if (e.keyword === 'required') {
      src.error([...path, String(params.missingProperty)], `is required`);
    } else if (e.keyword === 'enum') {
      src.error(path, `must be one of ${JSON.stringify(params.allowedValues)}`);
    } else if (e.propertyName !== undefined) {
      src.error(path, `invalid name "${e.propertyName}": ${e.message ?? e.keyword}`, e.propertyName);
    } else if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if' || e.keyword === 'propertyNames') {
      continue; // the branch errors beside it say what is wrong
    } else {
      src.error(path, e.message ?? e.keyword);
    }
  }
}

export interface AjvLikeError { instancePath: string; keyword: string; params: unknown; message?: string; propertyName?: string }
