/**
 * Where `diff` and `replay` read a policy from: a file, a folder, or a path at
 * a git revision. A git source is written to a temp folder with `git show`
 * and loaded from there like any folder; messages name it `REF:path` again.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LoadError } from '../config/index.js';
import { loadPolicy, type CompiledPolicy, type PolicyLoadOptions } from '../policy/index.js';
import { UsageError } from './output.js';

export const SOURCE_SYNTAX = `A policy source is a file, a folder (its *.yaml, as in policy.paths), or a
path at a git revision: git:REF:PATH (or REF:PATH when no such file exists),
PATH relative to the current folder, e.g. git:main:policies, HEAD~1:policies/portal.yaml.`;

export interface LoadedSource { policy: CompiledPolicy; label: string; relabel(text: string): string }

/** Load the policy a source names; LoadError diagnostics name `REF:path`, not the temp copy. */
export function loadPolicySource(spec: string, opts: PolicyLoadOptions): LoadedSource {
  const cwd = process.cwd();
  const git = gitSpec(spec);
  if (!git) {
    const path = resolve(spec);
    return { policy: loadPolicy([path], opts), label: spec, relabel: (t) => t.split(cwd + '/').join('') };
  }
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-policy-'));
  const relabel = (t: string) => t.split(dir + '/').join(`${git.ref}:`).split(cwd + '/').join('');
  try {
    const path = materialize(git.ref, git.path, dir);
    try {
      return { policy: loadPolicy([path], opts), label: spec, relabel };
    } catch (e) {
      if (e instanceof LoadError) throw new LoadError(e.diagnostics.map((d) => ({ ...d, file: relabel(d.file) })));
      throw e;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `git:REF:PATH` always; `REF:PATH` when nothing on disk has that name and REF is a revision git knows. */
function gitSpec(spec: string): { ref: string; path: string } | null {
  const explicit = spec.startsWith('git:');
  const rest = explicit ? spec.slice(4) : spec;
  const colon = rest.indexOf(':');
  if (!explicit) {
    if (existsSync(spec)) return null;
    if (colon <= 0 || !isRevision(rest.slice(0, colon))) throw new UsageError(`"${spec}": no such file or folder, and not a git revision\n${SOURCE_SYNTAX}`);
  } else if (colon <= 0) {
    throw new UsageError(`"${spec}": expected git:REF:PATH`);
  }
  const path = rest.slice(colon + 1).replace(/^\.\/?/, '').replace(/\/$/, '');
  return { ref: rest.slice(0, colon), path };
}

function isRevision(ref: string): boolean {
  try { git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]); return true; } catch { return false; }
}

function git(args: string[]): Buffer {
  return execFileSync('git', args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

/** Writes REF:PATH (a file, or a folder and everything under it) into `dir`, mirroring PATH; returns where PATH landed. */
function materialize(ref: string, path: string, dir: string): string {
  // `REF:./PATH` is relative to the current folder, like a file argument
  const object = `${ref}:./${path}`;
  let type: string;
  try {
    type = git(['cat-file', '-t', object]).toString().trim();
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n')[0];
    throw new UsageError(`git:${ref}:${path}: ${stderr || (e as Error).message}`);
  }
  const target = join(dir, path);
  if (type === 'blob') {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, git(['show', object]));
    return target;
  }
  if (type !== 'tree') throw new UsageError(`git:${ref}:${path} is a ${type}, not a file or folder`);
  mkdirSync(target, { recursive: true });
  const names = git(['ls-tree', '-r', '--name-only', '-z', object]).toString().split('\0').filter(Boolean);
  const prefix = path === '' ? object : `${object}/`;
  for (const name of names) {
    const file = join(target, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, git(['show', prefix + name]));
  }
  return target;
}
