import { GatewayError } from '../errors.js';

// "bearer" as char codes; `| 0x20` folds ASCII letters to lower case without allocating.
const BEARER = [0x62, 0x65, 0x61, 0x72, 0x65, 0x72];

/**
 * Picks the bearer token out of the request. The Authorization header wins;
 * the session cookie is consulted only when no Authorization header was sent,
 * so a stale cookie can never override an explicit credential (or vice versa).
 * Size is checked before anything looks inside the token.
 */
export function extractToken(
  authorization: string | string[] | undefined,
  cookieHeader: string | undefined,
  cookieName: string | undefined,
  maxBytes: number,
): string {
  if (authorization !== undefined && typeof authorization !== 'string') {
    // Repeated headers: which one the upstream would honour is ambiguous, so refuse.
    if (authorization.length > 1) throw new GatewayError('duplicate_authorization');
    authorization = authorization[0];
  }
  if (authorization !== undefined) return fromAuthorization(authorization, maxBytes);
  if (cookieName !== undefined && cookieHeader !== undefined && cookieHeader !== '') {
    const token = fromCookie(cookieHeader, cookieName);
    if (token !== undefined) return checkSize(token, maxBytes);
  }
  throw new GatewayError('missing_token');
}

function fromAuthorization(value: string, maxBytes: number): string {
  // Exactly "Bearer" (any case), one SP, then a non-empty token; the token's
  // character set (which excludes further spaces) is enforced by the JWS parser.
  if (value.length < 8 || value.charCodeAt(6) !== 0x20) throw new GatewayError('malformed_token', 'Authorization is not "Bearer <token>"');
  for (let i = 0; i < 6; i++) {
    if ((value.charCodeAt(i) | 0x20) !== BEARER[i]) throw new GatewayError('malformed_token', 'Authorization scheme is not Bearer');
  }
  return checkSize(value.slice(7), maxBytes);
}

function checkSize(token: string, maxBytes: number): string {
  // Header strings are latin1 in Node, so length in chars equals length in bytes.
  if (token.length > maxBytes) throw new GatewayError('token_too_large');
  return token;
}

/**
 * RFC 6265 cookie lookup. A name that appears twice (e.g. a cookie tossed in
 * from a sibling subdomain with a different path) is refused rather than
 * guessing which one the browser meant. An empty value counts as absent.
 */
function fromCookie(header: string, name: string): string | undefined {
  let found: string | undefined;
  let seen = false;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      if (seen) throw new GatewayError('malformed_token', `cookie "${name}" is sent more than once`);
      seen = true;
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) value = value.slice(1, -1);
      found = value === '' ? undefined : value;
    }
    start = end + 1;
  }
  return found;
}
