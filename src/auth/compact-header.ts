import { GatewayError } from '../errors.js';

/** The protected-header fields the gateway looks at before any key is touched. */
export interface ProtectedHeader {
  alg: string;
  kid: string | undefined;
  typ: unknown;
  hasCrit: boolean;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes the protected header of a compact JWS ourselves, so the algorithm
 * allow-list is enforced before key lookup and before jose sees the token.
 * Everything is strict: exactly three non-empty base64url segments, UTF-8,
 * a JSON object, a string `alg`.
 */
export function parseCompactHeader(token: string): ProtectedHeader {
  const d1 = token.indexOf('.');
  const d2 = d1 === -1 ? -1 : token.indexOf('.', d1 + 1);
  if (d2 === -1 || token.indexOf('.', d2 + 1) !== -1) throw malformed('not three dot-separated segments');
  const encoded = token.slice(0, d1);
  if (!isSegment(encoded)) throw malformed('header is not base64url');
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(Buffer.from(encoded, 'base64url')));
  } catch {
    throw malformed('header is not UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw malformed('header is not a JSON object');
  const h = header as Record<string, unknown>;
  if (typeof h.alg !== 'string') throw malformed('header has no "alg"');
  if (h.kid !== undefined && typeof h.kid !== 'string') throw malformed('header "kid" is not a string');
  return { alg: h.alg, kid: h.kid, typ: h.typ, hasCrit: Object.hasOwn(h, 'crit') };
}

/** Payload and signature must be well-formed too; checked after the alg check so `alg: none` reports as such. */
export function checkBodySegments(token: string): void {
  const d1 = token.indexOf('.');
  const d2 = token.indexOf('.', d1 + 1);
  if (!isSegment(token.slice(d1 + 1, d2)) || !isSegment(token.slice(d2 + 1))) throw malformed('payload or signature is not base64url');
}

// Length 4n+1 can't be produced by base64url encoding of any byte string.
function isSegment(s: string): boolean { return s.length % 4 !== 1 && SEGMENT.test(s); }

function malformed(detail: string): GatewayError { return new GatewayError('malformed_token', detail); }
