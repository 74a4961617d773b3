/**
 * Request-target canonicalization.
 *
 * The gateway authorizes a path and then forwards it. Every authorization bypass
 * of this kind of proxy comes from the gateway and the upstream reading the same
 * bytes differently (`/admin/..;/x`, `/%2e%2e/`, `/a%2fb`, `\`, overlong UTF-8,
 * ...). So instead of trying to guess how each upstream normalizes, we accept
 * only targets whose meaning is unambiguous, reject everything else with a
 * specific reason, and forward exactly the bytes we authorized.
 *
 * Runs on every request: one charCodeAt pass over the target, lookup tables
 * built at module load, no regexes, and the original string is reused when
 * nothing needs rewriting.
 */
import { GatewayError } from '../errors.js';

export interface CanonicalOptions {
  emptySegments: 'reject' | 'collapse';
  allowSemicolon: boolean;
  maxPathBytes: number;
}

export interface CanonicalTarget {
  /**
   * The path to forward upstream: exactly what was authorized. Percent-encoded
   * unreserved chars decoded (%61 -> a, %7E -> ~); all other escapes kept, hex
   * normalized to upper case. With emptySegments 'collapse', '//' collapsed.
   * Trailing slash kept as sent.
   */
  path: string;
  /** Percent-decoded (UTF-8) segments used for route matching; a single trailing empty segment (trailing slash) removed; '/' itself -> []. */
  segments: string[];
  /** The raw query string including its leading '?', or '' — split off at the FIRST '?' BEFORE any decoding, forwarded byte-for-byte. */
  query: string;
}

// ---------------------------------------------------------------------------
// Tables (built once at module load)

const SLASH = 0x2f;
const PERCENT = 0x25;
const QMARK = 0x3f;
const HASH = 0x23;
const EQUALS = 0x3d;
const PLUS = 0x2b;
const SPACE = 0x20;
const UNDERSCORE = 0x5f;
const DOT = 0x2e;
const LBRACKET = 0x5b;

/** Class of a raw (not percent-encoded) character in the path. */
const enum P {
  /** RFC 3986 pchar other than '.', '%' and ';': unreserved, sub-delims, ':', '@'. */
  Plain = 0,
  /** Not allowed raw in a path: space, `"<>[]^`{|}`, and anything >= 0x80. */
  Invalid,
  Control,
  Slash,
  Percent,
  Semicolon,
  Query,
  Hash,
  Backslash,
  Dot,
}

const PATH_CLASS = new Uint8Array(128).fill(P.Invalid);
{
  const plain = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~' + "!$&'()*+,=" + ':@';
  for (let k = 0; k < plain.length; k++) PATH_CLASS[plain.charCodeAt(k)] = P.Plain;
  for (let k = 0; k < 0x20; k++) PATH_CLASS[k] = P.Control;
  PATH_CLASS[0x7f] = P.Control;
  PATH_CLASS[SLASH] = P.Slash;
  PATH_CLASS[PERCENT] = P.Percent;
  PATH_CLASS[0x3b] = P.Semicolon;
  PATH_CLASS[QMARK] = P.Query;
  PATH_CLASS[HASH] = P.Hash;
  PATH_CLASS[0x5c] = P.Backslash;
  PATH_CLASS[DOT] = P.Dot;
}

/** Hex digit value, -1 if not a hex digit. */
const HEX = new Int8Array(128).fill(-1);
for (let k = 0; k < 10; k++) HEX[0x30 + k] = k;
for (let k = 0; k < 6; k++) { HEX[0x41 + k] = 10 + k; HEX[0x61 + k] = 10 + k; }

function hexVal(c: number): number { return c < 128 ? HEX[c]! : -1; }

/** What to do with a percent-decoded byte. */
const enum E {
  /** Keep encoded (upper-case hex): reserved/other ASCII whose meaning changes when decoded. */
  Keep = 0,
  /** Unreserved: decoding can never change meaning, so decode it (one spelling per path). */
  Decode,
  /** %2F %5C %2E %25 %3B: the upstream may decode these into separators, dots, or a second escape. */
  Separator,
  Control,
  /** >= 0x80: part of a UTF-8 sequence; validated, kept encoded. */
  High,
}

const ESC_CLASS = new Uint8Array(256);
/** '%XX' with upper-case hex for every byte. */
const ESCAPED: string[] = new Array<string>(256);
/** The one-char string for every byte (used for decoded unreserved chars). */
const DECODED: string[] = new Array<string>(256);
{
  for (let b = 0; b < 256; b++) {
    ESCAPED[b] = '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
    DECODED[b] = String.fromCharCode(b);
    ESC_CLASS[b] = b >= 0x80 ? E.High : (b < 0x20 || b === 0x7f) ? E.Control : E.Keep;
  }
  const unreserved = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~';
  for (let k = 0; k < unreserved.length; k++) ESC_CLASS[unreserved.charCodeAt(k)] = E.Decode;
  // '.' is unreserved too, but %2E is how `..` traversal hides: reject, never decode.
  for (const b of [0x2f, 0x5c, 0x2e, 0x25, 0x3b]) ESC_CLASS[b] = E.Separator;
}

function fail(reason: 'bad_request_target' | 'encoded_separator' | 'backslash_in_path' | 'dot_segment'
  | 'bad_percent_encoding' | 'invalid_utf8' | 'control_character' | 'semicolon_in_path'
  | 'fragment_in_target' | 'empty_segment' | 'invalid_path_character' | 'path_too_long'): never {
  throw new GatewayError(reason);
}

// ---------------------------------------------------------------------------

/**
 * Validate and canonicalize a request-target (Node's `req.url`, latin1-decoded
 * wire bytes). Throws GatewayError with a 400/414 reason on anything ambiguous.
 *
 * When several rules are broken, the first offending character (left to right)
 * decides the reason; a path longer than `maxPathBytes` is rejected as soon as
 * the scan passes the limit.
 */
export function canonicalPath(rawTarget: string, opts: CanonicalOptions): CanonicalTarget {
  const len = rawTarget.length;
  // Only origin-form is routable: absolute-form (`http://x/`), authority-form
  // (`host:443`) and asterisk-form (`*`) would make us authorize one thing and
  // the upstream interpret another (or an open proxy).
  if (len === 0 || rawTarget.charCodeAt(0) !== SLASH) fail('bad_request_target');
  // `//host/x` is a network-path reference: URL parsers (including upstream
  // redirect logic) read `host` as an authority. Never a path, even in collapse mode.
  if (len > 1 && rawTarget.charCodeAt(1) === SLASH) fail('bad_request_target');

  const max = opts.maxPathBytes;
  const collapse = opts.emptySegments === 'collapse';
  const allowSemicolon = opts.allowSemicolon;

  // Scan at most max+1 path chars: if the char at index `max` is still part of
  // the path, the path is too long and we stop before reading the rest.
  const scanEnd = len <= max ? len : max + 1;

  const segments: string[] = [];
  let out = '';            // rewritten path prefix; only used once `rewritten`
  let rewritten = false;
  let copyFrom = 0;        // raw index not yet copied into `out`
  let segStart = 1;        // raw index where the current segment starts
  let segHasPct = false;   // current segment needs decoding for `segments`
  let dotsOnly = true;     // current segment so far consists only of '.'
  let utf8Need = 0;        // continuation bytes still expected
  let utf8Lo = 0x80;       // allowed range for the next continuation byte
  let utf8Hi = 0xbf;
  let pathEnd = -1;

  let i = 1;
  for (; i < scanEnd; i++) {
    const c = rawTarget.charCodeAt(i);
    const cls = c < 128 ? PATH_CLASS[c]! : P.Invalid;
    if (cls === P.Plain) {
      // A multi-byte UTF-8 sequence must be fully percent-encoded; a raw char
      // in the middle means it was truncated.
      if (utf8Need !== 0) fail('invalid_utf8');
      dotsOnly = false;
      continue;
    }
    switch (cls) {
      case P.Dot:
        if (utf8Need !== 0) fail('invalid_utf8');
        continue;
      case P.Slash: {
        if (utf8Need !== 0) fail('invalid_utf8');
        if (i === segStart) {
          // Empty inner segment: upstreams disagree on `/a//b` (some collapse,
          // some route it literally), so either refuse or collapse it in both
          // the forwarded path and the matched segments.
          if (!collapse) fail('empty_segment');
          out += rawTarget.slice(copyFrom, i);
          copyFrom = i + 1;
          rewritten = true;
          segStart = i + 1;
          continue;
        }
        // `.` / `..` are resolved by upstreams (and by URL libraries) after we
        // authorized the unresolved path: classic traversal.
        if (dotsOnly) fail('dot_segment');
        const raw = rawTarget.slice(segStart, i);
        segments.push(segHasPct ? decodeURIComponent(raw) : raw);
        segStart = i + 1;
        segHasPct = false;
        dotsOnly = true;
        continue;
      }
      case P.Percent: {
        if (i + 2 >= len) fail('bad_percent_encoding');
        const h1 = rawTarget.charCodeAt(i + 1);
        const h2 = rawTarget.charCodeAt(i + 2);
        const v1 = hexVal(h1);
        const v2 = hexVal(h2);
        // Malformed escapes are decoded differently by every implementation
        // (kept literally, dropped, or half-decoded).
        if (v1 < 0 || v2 < 0) fail('bad_percent_encoding');
        const b = (v1 << 4) | v2;
        const lowerHex = h1 >= 0x61 || h2 >= 0x61; // valid hex >= 'a' is a-f
        segHasPct = true;
        dotsOnly = false;
        if (utf8Need !== 0) {
          // Continuation byte, with the per-lead ranges of Unicode Table 3-7
          // that exclude overlongs, surrogates and > U+10FFFF.
          if (b < utf8Lo || b > utf8Hi) fail('invalid_utf8');
          utf8Need--;
          utf8Lo = 0x80;
          utf8Hi = 0xbf;
        } else {
          const ec = ESC_CLASS[b]!;
          if (ec === E.Separator) fail('encoded_separator');
          // %00 truncates strings in C-based upstreams; %0D%0A splits logs/headers.
          if (ec === E.Control) fail('control_character');
          if (ec === E.Decode) {
            // %61 and `a` are the same resource to every upstream; decode so
            // the forwarded path has one spelling.
            out += rawTarget.slice(copyFrom, i) + DECODED[b]!;
            copyFrom = i + 3;
            rewritten = true;
            i += 2;
            continue;
          }
          if (ec === E.High) {
            // Strict UTF-8: overlong forms (%C0%AE = '.', %C0%AF = '/') are how
            // lenient decoders smuggle separators past a gateway.
            if (b >= 0xc2 && b <= 0xdf) { utf8Need = 1; }
            else if (b >= 0xe0 && b <= 0xef) {
              utf8Need = 2;
              if (b === 0xe0) utf8Lo = 0xa0;          // overlong 3-byte
              else if (b === 0xed) utf8Hi = 0x9f;     // UTF-16 surrogates
            } else if (b >= 0xf0 && b <= 0xf4) {
              utf8Need = 3;
              if (b === 0xf0) utf8Lo = 0x90;          // overlong 4-byte
              else if (b === 0xf4) utf8Hi = 0x8f;     // > U+10FFFF
            } else fail('invalid_utf8');              // 80-C1 (continuation/overlong lead), F5-FF
          }
        }
        // Kept encoded: normalize hex to upper case so equal paths are equal strings.
        if (lowerHex) {
          out += rawTarget.slice(copyFrom, i) + ESCAPED[b]!;
          copyFrom = i + 3;
          rewritten = true;
        }
        i += 2;
        continue;
      }
      case P.Semicolon:
        if (utf8Need !== 0) fail('invalid_utf8');
        // `..;x` is `..` to Servlet containers, which strip `;params` after we
        // matched the segment: a dot segment whatever allowSemicolon says.
        if (dotsOnly && i > segStart) fail('dot_segment');
        // Matrix parameters make upstreams route a path we did not match
        // (`/admin;x/` is `/admin/` to Tomcat); refuse unless configured.
        if (!allowSemicolon) fail('semicolon_in_path');
        dotsOnly = false;
        continue;
      case P.Query:
        pathEnd = i;
        break;
      // Fragments are never sent by conforming clients; a raw `#` means a
      // hand-crafted request that some upstreams truncate at.
      case P.Hash: fail('fragment_in_target');
      // Windows/IIS and some frameworks treat `\` as `/` (`/..\` traversal).
      case P.Backslash: fail('backslash_in_path');
      // Raw controls are request smuggling / log injection material.
      case P.Control: fail('control_character');
      // Not pchar: space, `"<>[]^`{|}`, raw non-ASCII (whose charset the
      // upstream would have to guess). Clients must percent-encode these.
      default: fail('invalid_path_character');
    }
    break; // only reached from P.Query
  }

  if (pathEnd < 0) {
    // The scan stopped without seeing '?': either the whole target is path, or
    // the path reached index `max` (length > max).
    if (i > max) fail('path_too_long');
    pathEnd = len;
  }

  // Truncated UTF-8 sequence at the end of the path.
  if (utf8Need !== 0) fail('invalid_utf8');

  // Last segment. Empty means a trailing slash (or the root '/'): it is kept in
  // `path` but is not a segment for matching.
  if (segStart < pathEnd) {
    if (dotsOnly) fail('dot_segment');
    const raw = rawTarget.slice(segStart, pathEnd);
    segments.push(segHasPct ? decodeURIComponent(raw) : raw);
  }

  // Query: forwarded byte-for-byte and not otherwise interpreted here, but a
  // few bytes are rejected because no correct client sends them and they are
  // smuggling material: '#' (fragment), controls, space (the upstream request
  // could not even be written), and raw non-ASCII (charset ambiguity).
  for (let j = pathEnd + 1; j < len; j++) {
    const c = rawTarget.charCodeAt(j);
    if (c > SPACE && c < 0x7f) {
      if (c === HASH) fail('fragment_in_target');
      continue;
    }
    if (c < SPACE || c === 0x7f) fail('control_character');
    fail('invalid_path_character'); // space, >= 0x80
  }

  let path: string;
  if (rewritten) path = out + rawTarget.slice(copyFrom, pathEnd);
  else path = pathEnd === len ? rawTarget : rawTarget.slice(0, pathEnd);
  const query = pathEnd === len ? '' : rawTarget.slice(pathEnd);
  return { path, segments, query };
}

// ---------------------------------------------------------------------------

const METHOD_LOWER = 'method';

/**
 * True if the query string has a `_method` parameter: a method-override that
 * would make the upstream execute a different method than the one we
 * authorized (Symfony/Laravel, method-override, ...).
 *
 * Keys are split on '&' only, end at the first raw '=', and are decoded
 * leniently ('+' -> space, valid %XX decoded, invalid '%' kept) the way
 * form parsers do. Matching is ASCII case-insensitive and also covers:
 *  - `_method[]`, `_method[x]` (array syntax, still read by some frameworks);
 *  - PHP's name mangling: leading spaces are dropped and a first '.', ' ' or
 *    unmatched '[' becomes '_', so `.method`, `+_method`, `[method` are `_method` to PHP.
 *
 * Accepts the query with or without its leading '?'. Allocation-free: each key
 * is matched in place and abandoned at its first non-matching char, which is
 * as cheap as a case-insensitive indexOf pre-check would be.
 */
export function hasMethodOverrideParam(query: string): boolean {
  const len = query.length;
  let i = len > 0 && query.charCodeAt(0) === QMARK ? 1 : 0;
  if (len - i < 7) return false; // shortest spelling: `_method` / `.method`
  while (i < len) {
    let end = query.indexOf('&', i);
    if (end < 0) end = len;
    if (isMethodOverrideKey(query, i, end)) return true;
    i = end + 1;
  }
  return false;
}

/** Match the key of the pair query[start, end) against `_method` / `_method[...`. */
function isMethodOverrideKey(q: string, start: number, end: number): boolean {
  // state 0: before the leading '_'; 1..6: matched that many chars of 'method'; 7: matched all.
  let state = 0;
  let p = start;
  while (p < end) {
    let c = q.charCodeAt(p++);
    if (c === EQUALS) break; // raw '=' ends the key (an encoded %3D does not)
    if (c === PLUS) c = SPACE;
    else if (c === PERCENT && p + 1 < end) {
      const v1 = hexVal(q.charCodeAt(p));
      const v2 = hexVal(q.charCodeAt(p + 1));
      if (v1 >= 0 && v2 >= 0) { c = (v1 << 4) | v2; p += 2; }
    }
    if (state === 0) {
      if (c === SPACE) continue; // PHP drops leading spaces
      if (c === UNDERSCORE || c === DOT || c === LBRACKET) { state = 1; continue; }
      return false;
    }
    if (state <= 6) {
      if ((c | 0x20) !== METHOD_LOWER.charCodeAt(state - 1)) return false;
      state++;
      continue;
    }
    return c === LBRACKET; // `_method[...]`
  }
  return state === 7;
}
