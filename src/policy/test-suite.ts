import { dirname, resolve, basename } from 'node:path';
import { existsSync } from 'node:fs';
import { lazyValidator, YamlSource, ajvDiagnostics, LoadError } from '../config/index.js';
import { isGatewayError } from '../errors.js';
import { canonicalPath } from '../routes/index.js';
import { loadPolicy, TEST_SUITE } from './load-policy.js';
import { decide } from './decide.js';
import { resolveTarget } from './resolve-target.js';
import type { CompiledPolicy, Principal, RecordFacts } from './types.js';

const id = { type: 'string', minLength: 1 };
const ids = { type: 'array', items: id };
const principal = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: { id, kind: { enum: ['internal', 'partner'] }, org: id, roles: ids, groups: ids, status: { enum: ['active', 'pending', 'removed', 'unknown'] } },
};
export const suiteSchema = {
  type: 'object', additionalProperties: false, required: ['cases'],
  properties: {
    name: { type: 'string' },
    policy: ids,
    principals: { type: 'object', additionalProperties: principal },
    relations: {
      type: 'object',
      additionalProperties: { type: 'object', additionalProperties: false, properties: { assignees: ids, collaborators: ids, partner: id } },
    },
    partners: { type: 'object', additionalProperties: { type: 'object', additionalProperties: false, properties: { groups: ids } } },
    cases: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', additionalProperties: false, required: ['as', 'request', 'expect'],
        properties: {
          name: { type: 'string' },
          as: { oneOf: [id, { type: 'array', minItems: 1, items: id }] },
          request: { type: 'string', pattern: '^[A-Z]+ /' },
          expect: { type: 'string', pattern: '^[a-z_]+$' },
        },
      },
    },
  },
} as const;
const validate = lazyValidator({ allErrors: true, strict: true, allowUnionTypes: true }, suiteSchema);

interface SuiteBody {
  name?: string;
  policy?: string[];
  principals?: Record<string, { id: string; kind?: string; org?: string; roles?: string[]; groups?: string[]; status?: Principal['status'] }>;
  relations?: Record<string, { assignees?: string[]; collaborators?: string[]; partner?: string }>;
  partners?: Record<string, { groups?: string[] }>;
  cases: { name?: string; as: string | string[]; request: string; expect: string }[];
}

export interface CaseFailure { file: string; line: number; as: string; request: string; expected: string; actual: string; name?: string | undefined }
export interface SuiteResult { file: string; policy: CompiledPolicy; cases: number; failures: CaseFailure[]; routesHit: Set<string>; grantsHit: Set<string> }

/** The policy a suite tests: `policy:` in the suite, else `X.yaml` beside `X_test.yaml` / `X.test.yaml`. */
function suitePolicyFiles(file: string, body: SuiteBody): string[] {
  if (body.policy?.length) return body.policy.map((p) => resolve(dirname(file), p));
  const guess = resolve(dirname(file), basename(file).replace(TEST_SUITE, '.yaml'));
  return [existsSync(guess) ? guess : guess.replace(/\.yaml$/, '.yml')];
}

/** Run one suite on the same engine the gateway uses: canonicalize, match, resolve the target, decide. */
export async function runSuite(file: string, methods: readonly string[]): Promise<SuiteResult> {
  const src = YamlSource.read(file);
  if (src.diagnostics.length === 0 && !validate(src.value ?? {})) ajvDiagnostics(src, validate.errors);
  const body = src.value as SuiteBody;
  if (src.diagnostics.length === 0) {
    body.cases.forEach((c, i) => {
      for (const who of ([] as string[]).concat(c.as)) if (!body.principals?.[who]) src.error(['cases', i, 'as'], `unknown principal "${who}"`);
    });
  }
  if (src.diagnostics.length) throw new LoadError(src.diagnostics);
  const policy = loadPolicy(suitePolicyFiles(file, body), { upstreams: null, methods });
  const facts = {
    getRelations: (ref: string): RecordFacts | null => {
      const r = body.relations?.[ref];
      return r ? { assignees: r.assignees ?? [], collaborators: r.collaborators ?? [], partner: r.partner } : null;
    },
    getPartnerGroups: (p: string) => body.partners?.[p]?.groups ?? null,
  };
  const result: SuiteResult = { file, policy, cases: 0, failures: [], routesHit: new Set(), grantsHit: new Set() };
  for (const [i, c] of body.cases.entries()) {
    for (const who of ([] as string[]).concat(c.as)) {
      const p = body.principals![who]!;
      const principal: Principal = { id: p.id, status: p.status ?? 'active', kind: p.kind, org: p.org, roles: p.roles ?? [], groups: p.groups ?? [] };
      const actual = await outcome(policy, principal, c.request, facts, result);
      result.cases++;
      // 'filter' is an allow whose list response is cut down to the visible records
      const ok = c.expect === actual || (c.expect === 'allow' && actual === 'filter') || (c.expect === 'deny' && actual !== 'allow' && actual !== 'filter');
      if (!ok) result.failures.push({ file, line: src.locate(['cases', i]).line, as: who, request: c.request, expected: c.expect, actual, name: c.name });
    }
  }
  return result;
}

async function outcome(policy: CompiledPolicy, principal: Principal, request: string, facts: Parameters<typeof resolveTarget>[3], result: SuiteResult): Promise<string> {
  const sp = request.indexOf(' ');
  const method = request.slice(0, sp);
  try {
    const target = canonicalPath(request.slice(sp + 1), { emptySegments: 'reject', allowSemicolon: false, maxPathBytes: 4096 });
    const match = policy.routes.match(method, target.segments);
    if (!match) return 'no_route';
    result.routesHit.add(match.route.source);
    if (match.route.public) return 'allow';
    const t = await resolveTarget(policy, match, method, facts);
    for (const r of rolesConsidered(policy, principal)) result.grantsHit.add(`${r}\0${t.perm}`);
    return decide(policy, principal, t);
  } catch (e) {
    if (isGatewayError(e)) return e.reason;
    throw e;
  }
}

function rolesConsidered(policy: CompiledPolicy, p: Principal): string[] {
  const fromGroups = p.groups.flatMap((g) => policy.groupRoles.get(g) ?? []);
  if (p.roles.length || fromGroups.length) return [...p.roles, ...fromGroups];
  return p.kind === 'partner' || p.kind === 'internal' ? [...policy.defaultRoles[p.kind]] : [];
}

/** Routes no case reached (file:line) and grants (role resource:action) no case exercised. */
export function coverage(results: readonly SuiteResult[]): { routes: string[]; grants: string[] } {
  const routes = new Set<string>();
  const grants = new Set<string>();
  const byPolicy = new Map<string, SuiteResult[]>();
  for (const r of results) byPolicy.set(r.policy.hash, [...(byPolicy.get(r.policy.hash) ?? []), r]);
  for (const group of byPolicy.values()) {
    const policy = group[0]!.policy;
    const hitRoutes = new Set(group.flatMap((r) => [...r.routesHit]));
    const hitGrants = new Set(group.flatMap((r) => [...r.grantsHit]));
    const routed = new Set(policy.routes.routes.flatMap((r) => [...r.actions.values()].map(([, perm]) => perm)));
    for (const route of policy.routes.routes) if (!hitRoutes.has(route.source)) routes.add(`${route.source}: ${route.id}`);
    for (const role of policy.roles.values()) {
      role.perms.forEach((h, perm) => {
        if (h === undefined || hitGrants.has(`${role.name}\0${perm}`)) return;
        const p = policy.permissions[perm]!;
        grants.add(`${role.source}: ${role.name} ${p.resource}:${p.action}${routed.has(perm) ? '' : ' (no route maps it)'}`);
      });
    }
  }
  return { routes: [...routes].sort(), grants: [...grants].sort() };
}
