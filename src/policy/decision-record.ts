import { lazyValidator } from '../config/index.js';
/**
 * One line of the decision log (JSON Lines): what the gateway decided about a
 * request, enough to re-decide it under another policy (`rolegate replay`) and
 * for an SIEM to ingest. docs/decision-log.md documents it for readers outside
 * this code. Tokens, cookies, headers, query strings and bodies are never part
 * of it. Readers ignore fields they do not know, so fields can be added.
 */

export interface DecisionPrincipal {
  id: string;
  /** `internal`, `partner`, or null when neither token nor store says. */
  kind: string | null;
  org: string | null;
  /** Roles named on the member (not group or default roles: those follow from groups, kind and the policy). */
  roles: string[];
  groups: string[];
  status: 'active' | 'pending' | 'removed' | 'unknown';
}

export interface DecisionRecord {
  /** When the decision was made: ISO 8601, UTC, e.g. 2025-05-01T12:00:00.000Z. */
  time: string;
  /** The gateway's request id (also sent upstream and in the error body). */
  request_id: string;
  /** W3C trace id (32 lowercase hex) from the request's `traceparent`, when it had one. */
  trace_id?: string;
  method: string;
  /** The canonical path, as matched and forwarded; never the query string. */
  path: string;
  /** The route id, or "none" when no route matched. */
  route: string;
  /** null when no protected route matched. */
  resource: string | null;
  action: string | null;
  /**
   * The principal as assembled at decision time (token claims + store). null
   * when the request was settled before there was one: public routes, refused
   * targets (400) and failed authentication (401).
   */
  principal: DecisionPrincipal | null;
  decision: 'allow' | 'deny';
  /** `allow` (or `filter`: allowed, list filtered) or the deny reason, e.g. `not_granted` (errors.ts REASONS). */
  reason: string;
  /** The HTTP status sent to the client, when the writer knows it. */
  status?: number;
  /** The version of the policy that decided. */
  policy_version?: string;
}

const nullableString = { type: ['string', 'null'] };
const ids = { type: 'array', items: { type: 'string', minLength: 1 } };

export const decisionRecordSchema = {
  type: 'object',
  required: ['time', 'request_id', 'method', 'path', 'route', 'resource', 'action', 'principal', 'decision', 'reason'],
  properties: {
    time: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' },
    request_id: { type: 'string', minLength: 1 },
    trace_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    method: { type: 'string', pattern: '^[A-Z]+$' },
    path: { type: 'string', pattern: '^/[^?#]*$' },
    route: { type: 'string', minLength: 1 },
    resource: nullableString,
    action: nullableString,
    principal: {
      type: ['object', 'null'],
      required: ['id', 'roles', 'groups', 'status'],
      properties: {
        id: { type: 'string', minLength: 1 },
        kind: nullableString,
        org: nullableString,
        roles: ids,
        groups: ids,
        status: { enum: ['active', 'pending', 'removed', 'unknown'] },
      },
    },
    decision: { enum: ['allow', 'deny'] },
    reason: { type: 'string', pattern: '^[a-z][a-z_]*$' },
    status: { type: 'integer', minimum: 100, maximum: 599 },
    policy_version: { type: 'string' },
  },
} as const;

const validate = lazyValidator({ allErrors: true, strict: true, allowUnionTypes: true }, decisionRecordSchema);

export class DecisionRecordError extends Error {
  override readonly name = 'DecisionRecordError';
}

/** One log line -> a record; throws DecisionRecordError saying every problem. Missing principal kind/org read as null. */
export function parseDecisionRecord(line: string): DecisionRecord {
  let v: unknown;
  try { v = JSON.parse(line); } catch (e) { throw new DecisionRecordError(`not JSON: ${(e as Error).message}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecisionRecordError('not a JSON object');
  if (!validate(v)) {
    throw new DecisionRecordError((validate.errors ?? []).map((e) => `${e.instancePath.slice(1).replace(/\//g, '.') || 'record'}: ${e.message}`).join('; '));
  }
  const r = v as DecisionRecord;
  const allowed = r.reason === 'allow' || r.reason === 'filter';
  if ((r.decision === 'allow') !== allowed) throw new DecisionRecordError(`decision "${r.decision}" does not agree with reason "${r.reason}"`);
  if (r.principal) r.principal = { ...r.principal, kind: r.principal.kind ?? null, org: r.principal.org ?? null };
  return r;
}

/** A whole log: good records with their line numbers, and the lines that are not records. Blank lines are skipped. */
export function readDecisionLog(text: string): { records: { line: number; record: DecisionRecord }[]; errors: { line: number; message: string }[] } {
  const records: { line: number; record: DecisionRecord }[] = [];
  const errors: { line: number; message: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    try { records.push({ line: i + 1, record: parseDecisionRecord(line) }); } catch (e) {
      if (!(e instanceof DecisionRecordError)) throw e;
      errors.push({ line: i + 1, message: e.message });
    }
  });
  return { records, errors };
}
