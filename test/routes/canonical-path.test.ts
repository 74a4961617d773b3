import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalPath, hasMethodOverrideParam, type CanonicalOptions } from '../../src/routes/canonical-path.js';
import { GatewayError, type Reason } from '../../src/errors.js';

const DEFAULTS: CanonicalOptions = { emptySegments: 'reject', allowSemicolon: false, maxPathBytes: 2048 };
const COLLAPSE: Partial<CanonicalOptions> = { emptySegments: 'collapse' };
const SEMI: Partial<CanonicalOptions> = { allowSemicolon: true };

interface Ok { in: string; opts?: Partial<CanonicalOptions>; path: string; segments: string[]; query?: string }
interface Bad { in: string; opts?: Partial<CanonicalOptions>; reason: Reason }
type Row = Ok | Bad;

const ok = (input: string, path: string, segments: string[], query = '', opts?: Partial<CanonicalOptions>): Ok =>
  ({ in: input, path, segments, query, ...(opts ? { opts } : {}) });
const bad = (input: string, reason: Reason, opts?: Partial<CanonicalOptions>): Bad =>
  ({ in: input, reason, ...(opts ? { opts } : {}) });

const ROWS: Row[] = [
  // --- accepted, no rewriting -------------------------------------------------
  ok('/', '/', []),
  ok('/a', '/a', ['a']),
  ok('/api/v1/users', '/api/v1/users', ['api', 'v1', 'users']),
  ok('/a/b/', '/a/b/', ['a', 'b']),
  ok('/a/', '/a/', ['a']),
  ok("/a-b_c~d/!$&'()*+,=:@", "/a-b_c~d/!$&'()*+,=:@", ['a-b_c~d', "!$&'()*+,=:@"]),
  ok('/file.txt', '/file.txt', ['file.txt']),
  ok('/.well-known/x', '/.well-known/x', ['.well-known', 'x']),
  ok('/a./..b/.c.', '/a./..b/.c.', ['a.', '..b', '.c.']),
  ok('/user@host:8', '/user@host:8', ['user@host:8']),

  // --- query split ---------------------------------------------------------------
  ok('/?x=1', '/', [], '?x=1'),
  ok('/a?b?c', '/a', ['a'], '?b?c'),
  ok('/a?', '/a', ['a'], '?'),
  ok('/a/?x', '/a/', ['a'], '?x'),
  ok('/a?x=%zz&y=%2F..;\\//', '/a', ['a'], '?x=%zz&y=%2F..;\\//'), // query not path-validated, byte-for-byte
  ok('/a?q={"k":[1]}|^`<>', '/a', ['a'], '?q={"k":[1]}|^`<>'),
  ok('/a%3Fb?c', '/a%3Fb', ['a?b'], '?c'), // split before decoding
  ok('/%61pi?%61=1', '/api', ['api'], '?%61=1'), // query untouched

  // --- percent-encoding normalization --------------------------------------------
  ok('/%61pi', '/api', ['api']),
  ok('/%41%5a%7a%30%39', '/AZz09', ['AZz09']),
  ok('/%7E%7euser', '/~~user', ['~~user']),
  ok('/a%2Db%5Fc', '/a-b_c', ['a-b_c']),
  ok('/a%20b', '/a%20b', ['a b']),
  ok('/a%20%20b', '/a%20%20b', ['a  b']),
  ok('/a%3ab/%40', '/a%3Ab/%40', ['a:b', '@']),
  ok('/%c3%a9t%C3%A9', '/%C3%A9t%C3%A9', ['été']),
  ok('/%ef%bc%8f', '/%EF%BC%8F', ['\uff0f']), // fullwidth solidus: valid UTF-8, not a slash
  ok('/x%EF%BC%8Fy', '/x%EF%BC%8Fy', ['x\uff0fy']),
  ok('/%e2%80%a8', '/%E2%80%A8', ['\u2028']),
  ok('/%F0%9F%98%80', '/%F0%9F%98%80', ['\u{1F600}']),
  ok('/%f4%8f%bf%bf', '/%F4%8F%BF%BF', ['\u{10FFFF}']),
  ok('/%ed%9f%bf', '/%ED%9F%BF', ['\ud7ff']),
  ok('/%ee%80%80', '/%EE%80%80', ['\ue000']),
  ok('/%c2%80', '/%C2%80', ['\u0080']),
  ok('/%23/%3F/%26', '/%23/%3F/%26', ['#', '?', '&']),
  ok('/%2b%21', '/%2B%21', ['+!']),
  ok('/a%61/b%62/', '/aa/bb/', ['aa', 'bb']),
  ok('/%61', '/a', ['a']),
  ok('/.%61', '/.a', ['.a']), // decodes to a non-dot segment

  // --- empty segments --------------------------------------------------------------
  bad('/a//b', 'empty_segment'),
  bad('/a//', 'empty_segment'),
  bad('/a/b//c/', 'empty_segment'),
  ok('/a//b', '/a/b', ['a', 'b'], '', COLLAPSE),
  ok('/a///b//c', '/a/b/c', ['a', 'b', 'c'], '', COLLAPSE),
  ok('/a//', '/a/', ['a'], '', COLLAPSE),
  ok('/a//b/?x//y', '/a/b/', ['a', 'b'], '?x//y', COLLAPSE),
  ok('/%61//%62', '/a/b', ['a', 'b'], '', COLLAPSE),
  ok('/%c3%a9//x', '/%C3%A9/x', ['é', 'x'], '', COLLAPSE),
  bad('//a', 'bad_request_target', COLLAPSE),
  bad('/a//..', 'dot_segment', COLLAPSE),

  // --- not origin-form -----------------------------------------------------------
  bad('', 'bad_request_target'),
  bad('*', 'bad_request_target'),
  bad('http://x/a', 'bad_request_target'),
  bad('HTTPS://x/a', 'bad_request_target'),
  bad('host:80', 'bad_request_target'),
  bad('example.com:443', 'bad_request_target'),
  bad('a/b', 'bad_request_target'),
  bad('?x=1', 'bad_request_target'),
  bad('//evil.com/x', 'bad_request_target'),
  bad('//', 'bad_request_target'),
  bad('///a', 'bad_request_target'),
  bad('\\a', 'bad_request_target'),
  bad(' /a', 'bad_request_target'),

  // --- fragment ---------------------------------------------------------------------
  bad('/a#b', 'fragment_in_target'),
  bad('/#', 'fragment_in_target'),
  bad('/a?b#c', 'fragment_in_target'),
  bad('/a?#', 'fragment_in_target'),
  ok('/a%23b', '/a%23b', ['a#b']), // encoded '#' is data

  // --- length ------------------------------------------------------------------------
  ok('/abcd', '/abcd', ['abcd'], '', { maxPathBytes: 5 }),
  bad('/abcde', 'path_too_long', { maxPathBytes: 5 }),
  ok('/abcd?' + 'q'.repeat(100), '/abcd', ['abcd'], '?' + 'q'.repeat(100), { maxPathBytes: 5 }), // query not counted
  bad('/abcde?q', 'path_too_long', { maxPathBytes: 5 }),
  ok('/a%20', '/a%20', ['a '], '', { maxPathBytes: 5 }), // raw bytes counted, before decoding
  bad('/ab%20', 'path_too_long', { maxPathBytes: 5 }), // escape straddling the limit
  bad('/abc%20', 'path_too_long', { maxPathBytes: 5 }),
  bad('/abcd%20', 'path_too_long', { maxPathBytes: 5 }),
  bad('/', 'path_too_long', { maxPathBytes: 0 }),
  ok('/', '/', [], '', { maxPathBytes: 1 }),
  ok('/?x', '/', [], '?x', { maxPathBytes: 1 }),
  bad('/' + 'a'.repeat(5000), 'path_too_long'),
  ok('/' + 'a'.repeat(2047), '/' + 'a'.repeat(2047), ['a'.repeat(2047)]),

  // --- backslash --------------------------------------------------------------------
  bad('/a\\b', 'backslash_in_path'),
  bad('/..\\', 'backslash_in_path'),
  bad('/a/..\\..\\etc', 'backslash_in_path'),
  bad('/\\', 'backslash_in_path'),
  bad('/\\evil.com', 'backslash_in_path'),

  // --- control characters -------------------------------------------------------------
  bad('/a\x00', 'control_character'),
  bad('/a\tb', 'control_character'),
  bad('/a\r\nX-Evil: 1', 'control_character'),
  bad('/a\x1f', 'control_character'),
  bad('/a\x7f', 'control_character'),
  bad('/a%00', 'control_character'),
  bad('/a%00.html', 'control_character'),
  bad('/a%0d%0a', 'control_character'),
  bad('/a%0A', 'control_character'),
  bad('/a%09', 'control_character'),
  bad('/a%1F', 'control_character'),
  bad('/a%7f', 'control_character'),
  bad('/a?x=\x00', 'control_character'),
  bad('/a?x=\t', 'control_character'),
  bad('/a?x=\x7f', 'control_character'),

  // --- invalid raw characters ---------------------------------------------------------
  bad('/a b', 'invalid_path_character'),
  bad('/a"b', 'invalid_path_character'),
  bad('/<script>', 'invalid_path_character'),
  bad('/a^b', 'invalid_path_character'),
  bad('/a`b', 'invalid_path_character'),
  bad('/{a}', 'invalid_path_character'),
  bad('/a|b', 'invalid_path_character'),
  bad('/[a]', 'invalid_path_character'),
  bad('/caf\u00e9', 'invalid_path_character'), // raw latin1 byte 0xE9
  bad('/\u00c3\u00a9', 'invalid_path_character'), // raw UTF-8 bytes of é as Node sees them
  bad('/\u0085', 'invalid_path_character'),
  bad('/\u00ff', 'invalid_path_character'),
  bad('/\uff0f', 'invalid_path_character'), // not reachable from Node's parser, still refused
  bad('/a?x=caf\u00e9', 'invalid_path_character'), // raw non-ASCII in query
  bad('/a?x=a b', 'invalid_path_character'),

  // --- semicolon -------------------------------------------------------------------------
  bad('/a;b', 'semicolon_in_path'),
  bad('/a;jsessionid=1234', 'semicolon_in_path'),
  bad('/;jsessionid=1', 'semicolon_in_path'),
  bad('/admin;/x', 'semicolon_in_path'),
  ok('/a;b', '/a;b', ['a;b'], '', SEMI),
  ok('/a;jsessionid=1234?x=1', '/a;jsessionid=1234', ['a;jsessionid=1234'], '?x=1', SEMI),
  ok('/;jsessionid=1', '/;jsessionid=1', [';jsessionid=1'], '', SEMI),
  ok('/a;..', '/a;..', ['a;..'], '', SEMI),
  ok('/a;%61', '/a;a', ['a;a'], '', SEMI),
  ok('/a?x=1;y=2', '/a', ['a'], '?x=1;y=2'), // ';' in the query is not the path's business
  bad('/a%3Bb', 'encoded_separator', SEMI),

  // --- dot segments ------------------------------------------------------------------------
  bad('/.', 'dot_segment'),
  bad('/..', 'dot_segment'),
  bad('/./a', 'dot_segment'),
  bad('/../a', 'dot_segment'),
  bad('/a/./b', 'dot_segment'),
  bad('/a/../b', 'dot_segment'),
  bad('/a/b/..', 'dot_segment'),
  bad('/a/b/.', 'dot_segment'),
  bad('/a/b/../', 'dot_segment'),
  bad('/a/..?x', 'dot_segment'),
  bad('/a/.?x', 'dot_segment'),
  bad('/...', 'dot_segment'),
  bad('/a/..../b', 'dot_segment'),
  bad('/..;', 'dot_segment'),
  bad('/..;/admin', 'dot_segment'),
  bad('/a/..;/admin', 'dot_segment'),
  bad('/a/.;/b', 'dot_segment'),
  bad('/a/..;x=1/b', 'dot_segment'),
  bad('/..;', 'dot_segment', SEMI),
  bad('/a/..;/admin', 'dot_segment', SEMI),
  bad('/a/.;/b', 'dot_segment', SEMI),
  bad('/a/...;jsessionid=1/b', 'dot_segment', SEMI),
  bad('/a/..', 'dot_segment', COLLAPSE),

  // --- encoded separators -------------------------------------------------------------------
  bad('/a%2Fb', 'encoded_separator'),
  bad('/a%2fb', 'encoded_separator'),
  bad('/a%5Cb', 'encoded_separator'),
  bad('/a%5c..%5c', 'encoded_separator'),
  bad('/%2e%2e/admin', 'encoded_separator'),
  bad('/%2E%2E', 'encoded_separator'),
  bad('/%2E./admin', 'encoded_separator'),
  bad('/.%2e/admin', 'encoded_separator'),
  bad('/a/%2e', 'encoded_separator'),
  bad('/file%2Ejsp', 'encoded_separator'),
  bad('/a%25', 'encoded_separator'),
  bad('/a%252e%252e', 'encoded_separator'), // double encoding
  bad('/a%252F', 'encoded_separator'),
  bad('/a%3b', 'encoded_separator'),
  bad('/a%3B.jsp', 'encoded_separator'),

  // --- bad percent-encoding ------------------------------------------------------------------
  bad('/a%', 'bad_percent_encoding'),
  bad('/a%4', 'bad_percent_encoding'),
  bad('/a%zz', 'bad_percent_encoding'),
  bad('/a%g0', 'bad_percent_encoding'),
  bad('/a%0g', 'bad_percent_encoding'),
  bad('/a%%41', 'bad_percent_encoding'),
  bad('/a%4?x', 'bad_percent_encoding'),
  bad('/a%?x', 'bad_percent_encoding'),
  bad('/a%u002e', 'bad_percent_encoding'), // IIS %u encoding
  bad('/a% 1', 'bad_percent_encoding'),
  bad('/a%\u00e91', 'bad_percent_encoding'),

  // --- invalid UTF-8 --------------------------------------------------------------------------
  bad('/%c0%ae', 'invalid_utf8'), // overlong '.'
  bad('/%c0%ae%c0%ae/admin', 'invalid_utf8'),
  bad('/%C0%AF', 'invalid_utf8'), // overlong '/'
  bad('/%c1%9c', 'invalid_utf8'), // overlong '\'
  bad('/%E0%80%AF', 'invalid_utf8'), // 3-byte overlong '/'
  bad('/%e0%9f%bf', 'invalid_utf8'),
  bad('/%F0%80%80%AF', 'invalid_utf8'), // 4-byte overlong
  bad('/%f0%8f%bf%bf', 'invalid_utf8'),
  bad('/%ED%A0%80', 'invalid_utf8'), // surrogate U+D800
  bad('/%ed%bf%bf', 'invalid_utf8'), // surrogate U+DFFF
  bad('/%F4%90%80%80', 'invalid_utf8'), // U+110000
  bad('/%F5%80%80%80', 'invalid_utf8'),
  bad('/%FF', 'invalid_utf8'),
  bad('/%80', 'invalid_utf8'), // lone continuation byte
  bad('/%bf', 'invalid_utf8'),
  bad('/%C3', 'invalid_utf8'), // truncated at end
  bad('/%C3?x', 'invalid_utf8'),
  bad('/%C3a', 'invalid_utf8'),
  bad('/%C3/', 'invalid_utf8'),
  bad('/%C3.', 'invalid_utf8'),
  bad('/%E2%82', 'invalid_utf8'),
  bad('/%E2%82/x', 'invalid_utf8'),
  bad('/%C3%C3', 'invalid_utf8'),
  bad('/%C3%2F', 'invalid_utf8'),
  bad('/%C3%41', 'invalid_utf8'),
  bad('/%F0%9F%98', 'invalid_utf8'),
  bad('/%C3;x', 'invalid_utf8', SEMI),
];

function optsOf(row: Row): CanonicalOptions { return { ...DEFAULTS, ...row.opts }; }
function label(row: Row): string {
  const o = row.opts ? ' ' + JSON.stringify(row.opts) : '';
  return JSON.stringify(row.in.length > 80 ? row.in.slice(0, 40) + '…(' + row.in.length + ')' : row.in) + o;
}

test('canonicalPath table', async (t) => {
  for (const row of ROWS) {
    await t.test(label(row), () => {
      if ('reason' in row) {
        assert.throws(() => canonicalPath(row.in, optsOf(row)), (e: unknown) => {
          assert.ok(e instanceof GatewayError, 'GatewayError expected');
          assert.equal(e.reason, row.reason);
          assert.equal(e.status, row.reason === 'path_too_long' ? 414 : 400);
          return true;
        });
      } else {
        const got = canonicalPath(row.in, optsOf(row));
        assert.deepEqual(got, { path: row.path, segments: row.segments, query: row.query ?? '' });
      }
    });
  }
});

test('accepted paths are canonical: re-canonicalizing is the identity', () => {
  let n = 0;
  for (const row of ROWS) {
    if ('reason' in row) continue;
    const first = canonicalPath(row.in, optsOf(row));
    // The forwarded target must be accepted as-is, even under the strict defaults
    // (collapse mode must not leave '//' behind).
    const strict = { ...optsOf(row), emptySegments: 'reject' as const };
    const again = canonicalPath(first.path + first.query, strict);
    assert.deepEqual(again, first, label(row));
    n++;
  }
  assert.ok(n > 50);
});

test('fast path returns the input unchanged when nothing needs rewriting', () => {
  const raw = '/api/v1/users/42/';
  const r = canonicalPath(raw, DEFAULTS);
  assert.equal(r.path, raw);
  assert.equal(r.query, '');
});

test('every control byte is rejected raw and percent-encoded', () => {
  for (let b = 0; b < 0x20; b++) {
    for (const input of ['/a' + String.fromCharCode(b), '/a%' + b.toString(16).padStart(2, '0'), '/a?q=' + String.fromCharCode(b)]) {
      assert.throws(() => canonicalPath(input, DEFAULTS), (e: unknown) => e instanceof GatewayError && e.reason === 'control_character', JSON.stringify(input));
    }
  }
});

test('every raw byte >= 0x80 is rejected in the path', () => {
  for (let b = 0x80; b < 0x100; b++) {
    assert.throws(() => canonicalPath('/x' + String.fromCharCode(b) + 'y', DEFAULTS),
      (e: unknown) => e instanceof GatewayError && e.reason === 'invalid_path_character');
  }
});

test('every escape of an unreserved ASCII char is decoded, every other printable ASCII escape is kept upper-case', () => {
  const unreserved = /[A-Za-z0-9\-_~]/;
  const rejected = new Set([0x2f, 0x5c, 0x2e, 0x25, 0x3b]);
  for (let b = 0x20; b < 0x7f; b++) {
    if (rejected.has(b)) continue;
    const ch = String.fromCharCode(b);
    const hex = b.toString(16);
    const r = canonicalPath('/x%' + hex + 'y', DEFAULTS);
    const expected = unreserved.test(ch) ? '/x' + ch + 'y' : '/x%' + hex.toUpperCase() + 'y';
    assert.equal(r.path, expected, hex);
    assert.deepEqual(r.segments, ['x' + ch + 'y'], hex);
  }
});

test('agrees with a reference UTF-8 decoder on every 2-byte escape sequence', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  for (let b1 = 0x80; b1 < 0x100; b1++) {
    for (const b2 of [0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0]) {
      const input = '/%' + b1.toString(16) + '%' + b2.toString(16);
      let ref: string | undefined;
      try { ref = fatal.decode(new Uint8Array([b1, b2])); } catch { ref = undefined; }
      if (ref === undefined) {
        assert.throws(() => canonicalPath(input, DEFAULTS), (e: unknown) => e instanceof GatewayError
          && e.reason === 'invalid_utf8', input);
      } else {
        assert.deepEqual(canonicalPath(input, DEFAULTS).segments, [ref], input);
      }
    }
  }
});

test('agrees with a reference UTF-8 decoder on 3- and 4-byte boundary sequences', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const leads3 = [0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef];
  const leads4 = [0xf0, 0xf1, 0xf3, 0xf4, 0xf5];
  const conts = [0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0];
  const hex = (b: number) => '%' + b.toString(16).padStart(2, '0');
  const check = (bytes: number[]) => {
    const input = '/' + bytes.map(hex).join('');
    let ref: string | undefined;
    try { ref = fatal.decode(new Uint8Array(bytes)); } catch { ref = undefined; }
    if (ref === undefined) {
      assert.throws(() => canonicalPath(input, DEFAULTS), (e: unknown) => e instanceof GatewayError && e.reason === 'invalid_utf8', input);
    } else {
      const r = canonicalPath(input, DEFAULTS);
      assert.deepEqual(r.segments, [ref], input);
      assert.equal(r.path, input.toUpperCase(), input);
    }
  };
  for (const l of leads3) for (const c1 of conts) for (const c2 of [0x80, 0xbf, 0xc0]) check([l, c1, c2]);
  for (const l of leads4) for (const c1 of conts) for (const c2 of [0x80, 0xbf]) for (const c3 of [0x80, 0x7f]) check([l, c1, c2, c3]);
});

test('error carries the public message of its reason', () => {
  try {
    canonicalPath('/a/../b', DEFAULTS);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.reason, 'dot_segment');
    assert.match(e.message, /dot segment/);
  }
});

const METHOD_ROWS: Array<[string, boolean]> = [
  ['?_method=DELETE', true],
  ['_method=DELETE', true], // without leading '?'
  ['?x=1&_METHOD=put', true],
  ['?x=1&_Method=put&y=2', true],
  ['?%5Fmethod=x', true],
  ['?%5fMeThOd=x', true],
  ['?%5F%6D%65%74%68%6F%64=x', true], // every char encoded
  ['?_%6dethod=x', true],
  ['?_method[]=x', true],
  ['?_method%5B%5D=x', true],
  ['?_method[a]=x', true],
  ['?_method', true], // present without a value still counts
  ['?_method=', true],
  ['?a=1&_method', true],
  ['?.method=PUT', true], // PHP turns a leading '.' into '_'
  ['?+_method=PUT', true], // PHP drops leading spaces
  ['?%20_method=PUT', true],
  ['?[method=PUT', true], // PHP: unmatched '[' becomes '_'
  ['?&&_method=PUT', true],
  ['?not_method=1', false],
  ['?method=1', false],
  ['?_methods=1', false],
  ['?_method_=1', false],
  ['?_metho=1', false],
  ['?x=_method', false], // in a value, not a key
  ['?x=1%26_method%3Dput', false], // encoded '&' / '=' do not split
  ['?x=1;_method=PUT', false], // keys split on '&' only
  ['?%5_method=1', false],
  ['?%zz_method=1', false],
  ['?__method=1', false],
  ['?_me%thod=1', false],
  ['?x_method=1', false],
  ['?', false],
  ['', false],
];

test('hasMethodOverrideParam', async (t) => {
  for (const [q, expected] of METHOD_ROWS) {
    await t.test(JSON.stringify(q), () => {
      assert.equal(hasMethodOverrideParam(q), expected);
    });
  }
});

test('hasMethodOverrideParam on queries produced by canonicalPath', () => {
  assert.equal(hasMethodOverrideParam(canonicalPath('/a?x=1&_method=DELETE', DEFAULTS).query), true);
  assert.equal(hasMethodOverrideParam(canonicalPath('/a?method=DELETE', DEFAULTS).query), false);
  assert.equal(hasMethodOverrideParam(canonicalPath('/a', DEFAULTS).query), false);
});
