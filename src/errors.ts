/**
 * One error model: every stage throws a GatewayError with a stable snake_case
 * `reason`. REASONS is the only place where a reason becomes an HTTP status and
 * a public `error` word. Reasons are never renamed or reused.
 */
export type PublicError =
  | 'bad_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'gone'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'precondition_required'
  | 'bad_gateway'
  | 'gateway_timeout'
  | 'unavailable'
  | 'internal_error';

interface ReasonSpec { status: number; error: PublicError; message: string }

export const REASONS = {
  // 400: request the gateway refuses to interpret
  bad_request_target: { status: 400, error: 'bad_request', message: 'request-target must be origin-form (a path starting with a single "/")' },
  encoded_separator: { status: 400, error: 'bad_request', message: 'path contains an encoded "/", "\\", ".", "%" or ";"' },
  backslash_in_path: { status: 400, error: 'bad_request', message: 'path contains a backslash' },
  dot_segment: { status: 400, error: 'bad_request', message: 'path contains a dot segment ("." or "..")' },
  bad_percent_encoding: { status: 400, error: 'bad_request', message: 'path contains an invalid percent-escape' },
  invalid_utf8: { status: 400, error: 'bad_request', message: 'path is not valid UTF-8' },
  control_character: { status: 400, error: 'bad_request', message: 'path contains a control character or NUL' },
  semicolon_in_path: { status: 400, error: 'bad_request', message: 'path contains ";" (matrix parameters are not accepted)' },
  fragment_in_target: { status: 400, error: 'bad_request', message: 'request-target contains "#"' },
  empty_segment: { status: 400, error: 'bad_request', message: 'path contains an empty segment ("//")' },
  invalid_path_character: { status: 400, error: 'bad_request', message: 'path contains a character that is not allowed' },
  path_too_long: { status: 414 as number, error: 'bad_request', message: 'path is too long' },
  method_override: { status: 400, error: 'bad_request', message: 'a "_method" query parameter would change the authorized method' },
  duplicate_authorization: { status: 400, error: 'bad_request', message: 'more than one Authorization header' },
  unsupported_upgrade: { status: 400, error: 'bad_request', message: 'only "Upgrade: websocket" is supported' },
  websocket_not_allowed: { status: 400, error: 'bad_request', message: 'this route does not accept WebSocket upgrades' },
  bad_framing: { status: 400, error: 'bad_request', message: 'request framing is ambiguous or malformed' },
  headers_too_large: { status: 431, error: 'bad_request', message: 'request headers are too large' },
  request_timeout: { status: 408, error: 'bad_request', message: 'the request was not received in time' },
  body_too_large: { status: 413, error: 'payload_too_large', message: 'request body exceeds the route limit' },

  // 401: who are you?
  missing_token: { status: 401, error: 'unauthenticated', message: 'no bearer token in Authorization header or session cookie' },
  malformed_token: { status: 401, error: 'unauthenticated', message: 'token is not a well-formed compact JWS' },
  token_too_large: { status: 401, error: 'unauthenticated', message: 'token exceeds the size limit' },
  unsupported_algorithm: { status: 401, error: 'unauthenticated', message: 'token algorithm is not in the allow-list' },
  unknown_key: { status: 401, error: 'unauthenticated', message: 'no configured key matches the token' },
  bad_signature: { status: 401, error: 'unauthenticated', message: 'token signature does not verify' },
  token_expired: { status: 401, error: 'unauthenticated', message: 'token has expired' },
  token_not_yet_valid: { status: 401, error: 'unauthenticated', message: 'token is not valid yet (nbf/iat)' },
  bad_issuer: { status: 401, error: 'unauthenticated', message: 'token issuer does not match' },
  bad_audience: { status: 401, error: 'unauthenticated', message: 'token audience does not match' },
  bad_token_type: { status: 401, error: 'unauthenticated', message: 'token "typ" header is not accepted' },
  missing_claim: { status: 401, error: 'unauthenticated', message: 'token lacks a required claim' },
  invalid_claim: { status: 401, error: 'unauthenticated', message: 'token claim has an invalid value' },
  unsupported_crit: { status: 401, error: 'unauthenticated', message: 'token has an unsupported "crit" header parameter' },
  keys_unavailable: { status: 401, error: 'unauthenticated', message: 'signing keys could not be loaded' },

  // 403: who you are may not do this
  no_route: { status: 403, error: 'forbidden', message: 'no route maps this request' },
  not_granted: { status: 403, error: 'forbidden', message: 'no role grants this action' },
  condition_failed: { status: 403, error: 'forbidden', message: 'a grant exists but its conditions do not hold' },
  excluded_by_tag: { status: 403, error: 'forbidden', message: 'the resource is excluded from the role by tag' },
  no_role: { status: 403, error: 'forbidden', message: 'the member has no role' },
  not_a_member: { status: 403, error: 'forbidden', message: 'the principal is not a member' },
  member_pending: { status: 403, error: 'forbidden', message: 'the membership is pending' },
  member_removed: { status: 403, error: 'forbidden', message: 'the membership was removed' },
  audience_mismatch: { status: 403, error: 'forbidden', message: 'the role does not apply to this kind of principal' },
  login_disabled: { status: 403, error: 'forbidden', message: 'the role may not log in' },

  // 405
  method_not_allowed: { status: 405, error: 'method_not_allowed', message: 'method is not allowed' },

  // admin API (docs/admin-api.md): bodies, lookups, escalation, concurrency
  invalid_body: { status: 400, error: 'bad_request', message: 'the request body is not valid' },
  invalid_query: { status: 400, error: 'bad_request', message: 'a query parameter is not valid' },
  invalid_role: { status: 400, error: 'bad_request', message: 'the role does not compile' },
  role_exceeds_caller: { status: 403, error: 'forbidden', message: 'the role has permissions the caller does not hold' },
  member_exceeds_caller: { status: 403, error: 'forbidden', message: 'the member holds a role the caller could not grant' },
  self_change: { status: 403, error: 'forbidden', message: 'a caller may not change its own roles or remove itself' },
  builtin_role: { status: 403, error: 'forbidden', message: 'roles defined in policy YAML are read-only here' },
  invite_email_mismatch: { status: 403, error: 'forbidden', message: 'the token\'s email is not the invited address' },
  not_found: { status: 404, error: 'not_found', message: 'no such resource' },
  no_invitation: { status: 404, error: 'not_found', message: 'there is no pending invitation for this principal' },
  member_exists: { status: 409, error: 'conflict', message: 'a member with this id exists' },
  role_exists: { status: 409, error: 'conflict', message: 'a role with this name exists' },
  role_in_use: { status: 409, error: 'conflict', message: 'other roles or the default roles refer to this role' },
  not_pending: { status: 409, error: 'conflict', message: 'the member has no pending invitation' },
  last_owner: { status: 409, error: 'conflict', message: 'the change would leave no active owner' },
  write_conflict: { status: 409, error: 'conflict', message: 'the store kept changing during the check; retry' },
  invite_expired: { status: 410, error: 'gone', message: 'the invitation has expired' },
  version_mismatch: { status: 412, error: 'precondition_failed', message: 'If-Match names an older revision' },
  unsupported_media_type: { status: 415, error: 'unsupported_media_type', message: 'the body must be application/json' },
  idempotency_key_reused: { status: 422, error: 'unprocessable', message: 'the Idempotency-Key was used for a different request' },
  precondition_required: { status: 428, error: 'precondition_required', message: 'this change needs If-Match with the current revision' },

  // 5xx: dependencies
  upstream_unavailable: { status: 502, error: 'bad_gateway', message: 'upstream refused or reset the connection' },
  upstream_error: { status: 502, error: 'bad_gateway', message: 'upstream sent an invalid response' },
  upstream_timeout: { status: 504, error: 'gateway_timeout', message: 'upstream did not answer in time' },
  list_too_large: { status: 502, error: 'bad_gateway', message: 'the list response is larger than the route allows filtering (list.max_bytes)' },
  list_unfilterable: { status: 502, error: 'bad_gateway', message: 'the list response is not JSON of the declared shape, so it cannot be filtered' },
  store_unavailable: { status: 503, error: 'unavailable', message: 'the assignment store is unavailable' },
  shutting_down: { status: 503, error: 'unavailable', message: 'the gateway is shutting down' },
  internal: { status: 500, error: 'internal_error', message: 'internal error' },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

export class GatewayError extends Error {
  readonly reason: Reason;
  /** Extra public fields (resource, action) merged into the JSON body. */
  readonly fields: Readonly<Record<string, string>> | undefined;
  constructor(reason: Reason, detail?: string, fields?: Record<string, string>, options?: { cause?: unknown }) {
    super(detail ?? REASONS[reason].message, options);
    this.name = 'GatewayError';
    this.reason = reason;
    this.fields = fields;
  }
  get status(): number { return REASONS[this.reason].status; }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** The public JSON body for a reason. Detail stays in the log unless `expose` (4xx messages are safe). */
export function errorBody(reason: Reason, requestId: string, fields?: Readonly<Record<string, string>>): string {
  const spec = REASONS[reason];
  return JSON.stringify({ error: spec.error, reason, message: spec.message, ...fields, request_id: requestId });
}

export function statusOf(reason: Reason): number { return REASONS[reason].status; }
