import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { LoadError, YamlSource, formatDiagnostic, type Diagnostic } from '../config/index.js';
import type { CustomRole, PolicyOverlay } from '../store/index.js';
import { checkPolicyDocument, compileSources, type PolicyLoadOptions, type PolicySources } from './load-policy.js';
import type { CompiledPolicy } from './types.js';

/** The file name custom-role problems are reported under. */
export const OVERLAY_FILE = 'admin:custom-roles';

/** A custom role (or the default-roles override, named `default_roles`) left out because it does not compile. */
export interface RejectedRole { readonly role: string; readonly problems: readonly Diagnostic[] }

export interface OverlayCompilation { readonly policy: CompiledPolicy; readonly rejected: readonly RejectedRole[] }

/**
 * The YAML policy plus what the admin API keeps in the store: custom roles and
 * default-role overrides. A custom role that does not compile (it inherits a
 * deleted role, grants a resource a YAML edit removed) is left out and
 * reported, so one bad row can neither stop the YAML from loading nor take the
 * other custom roles with it. Problems in the YAML itself still throw.
 */
export function compileWithOverlay(sources: PolicySources, opts: PolicyLoadOptions, overlay: PolicyOverlay): OverlayCompilation {
  if (overlay.roles.length === 0 && overlay.defaultRoles === null) return { policy: compileSources(sources, opts), rejected: [] };
  const rejected: RejectedRole[] = [];
  let roles = overlay.roles;
  let defaults = overlay.defaultRoles;
  // each round drops at least one role or the override, so this ends
  for (let round = 0; round <= overlay.roles.length + 1; round++) {
    const src = new YamlSource(OVERLAY_FILE, stringify({ roles: Object.fromEntries(roles.map((r) => [r.name, r.body])) }));
    let problems: Diagnostic[];
    const doc = checkPolicyDocument(src);
    if (doc) {
      try {
        const policy = compileSources(sources, opts, {
          docs: [doc], hash: overlayHash(sources.hash, roles, defaults), defaultRoles: defaults ? { value: defaults, src } : undefined,
        });
        return { policy, rejected };
      } catch (err) {
        if (!(err instanceof LoadError)) throw err;
        // a YAML problem is the YAML's to fix, whatever the overlay holds
        if (err.diagnostics.some((d) => d.file !== OVERLAY_FILE)) throw err;
        problems = err.diagnostics;
      }
    } else {
      problems = src.diagnostics;
    }
    const byRole = new Map<string, Diagnostic[]>();
    for (const d of problems) {
      const name = d.key.startsWith('default_roles') ? 'default_roles' : roles.find((r) => d.key === `roles.${r.name}` || d.key.startsWith(`roles.${r.name}.`))?.name;
      // a problem no role owns: drop the lot rather than loop
      const owner = name ?? '*';
      byRole.set(owner, [...(byRole.get(owner) ?? []), d]);
    }
    if (byRole.has('*')) {
      for (const r of roles) rejected.push({ role: r.name, problems: byRole.get('*')! });
      roles = [];
    }
    if (byRole.has('default_roles')) { rejected.push({ role: 'default_roles', problems: byRole.get('default_roles')! }); defaults = null; }
    for (const r of roles) if (byRole.has(r.name)) rejected.push({ role: r.name, problems: byRole.get(r.name)! });
    roles = roles.filter((r) => !byRole.has(r.name));
  }
  throw new Error('custom roles did not settle'); // unreachable: every round removes something
}

/** One line per problem, for logs and API errors. */
export function describeRejection(r: RejectedRole): string {
  return r.problems.map(formatDiagnostic).join('; ');
}

/** An overlay's content, to tell whether a recompilation is due (revisions alone could repeat: a role deleted and made again starts at 1). */
export function overlayKey(o: PolicyOverlay): string {
  return JSON.stringify([o.defaultRoles, o.roles.map((r) => [r.name, r.body])]);
}

function overlayHash(yamlHash: string, roles: readonly CustomRole[], defaults: PolicyOverlay['defaultRoles']): string {
  return createHash('sha256').update(yamlHash).update(JSON.stringify([roles.map((r) => [r.name, r.body]), defaults])).digest('hex');
}
