import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, templateParams, templatesOverlap, type TemplateSegment } from '../../src/routes/template.js';

const s = (value: string): TemplateSegment => ({ kind: 'static', value });
const p = (name: string): TemplateSegment => ({ kind: 'param', name });
const REST: TemplateSegment = { kind: 'rest' };

test('parseTemplate: accepted templates', () => {
  const rows: [string, TemplateSegment[]][] = [
    ['/', []],
    ['/a', [s('a')]],
    ['/a/', [s('a')]], // one trailing slash is ignored, as in matching
    ['/api/deals/:dealId', [s('api'), s('deals'), p('dealId')]],
    ['/api/:a/x/:b_2', [s('api'), p('a'), s('x'), p('b_2')]],
    ['/settings/**', [s('settings'), REST]],
    ['/**', [REST]],
    ['/a/**/', [s('a'), REST]],
    ['/Case/MiXeD', [s('Case'), s('MiXeD')]],
    ['/a:b/x.json/.well-known/~u', [s('a:b'), s('x.json'), s('.well-known'), s('~u')]],
    ['/été', [s('été')]],
  ];
  for (const [input, want] of rows) assert.deepEqual(parseTemplate(input), want, input);
});

test('parseTemplate: refused templates return a message (the caller adds file:line)', () => {
  const rows: [string, RegExp][] = [
    ['', /must start with "\/"/],
    ['api/deals', /must start with "\/"/],
    ['/a//b', /empty segment/],
    ['/a//', /empty segment/],
    ['/**/a', /"\*\*" may only be the last segment/],
    ['/a/**/b/**', /"\*\*" may only be the last segment/],
    ['/a/*', /can never match/],
    ['/a/*.json', /can never match/],
    ['/a/***', /can never match/],
    ['/a/..', /can never match/],
    ['/./a', /can never match/],
    ['/a%2Fb', /can never match/],
    ['/a;v=1', /can never match/],
    ['/:', /bad parameter ":"/],
    ['/:1st', /bad parameter ":1st"/],
    ['/:a-b', /bad parameter ":a-b"/],
    ['/::a', /bad parameter "::a"/],
    ['/:id/x/:id', /parameter ":id" appears twice/],
  ];
  for (const [input, want] of rows) {
    const got = parseTemplate(input);
    assert.equal(typeof got, 'string', `${JSON.stringify(input)} must be refused, got ${JSON.stringify(got)}`);
    assert.match(got as string, want, input);
  }
});

test('templateParams lists parameter names in template order', () => {
  const rows: [string, string[]][] = [
    ['/', []],
    ['/a/b', []],
    ['/api/partners/:partnerId/deals/:dealId', ['partnerId', 'dealId']],
    ['/:x/**', ['x']],
  ];
  for (const [input, want] of rows) assert.deepEqual(templateParams(parseTemplate(input) as TemplateSegment[]), want, input);
});

test('templatesOverlap: true exactly when some canonical path matches both', () => {
  const rows: [string, string, boolean][] = [
    ['/a/:x', '/a/b', true],
    ['/a/:x', '/a/:y', true],
    ['/:x/b', '/a/:y', true],
    ['/s/**', '/s/x', true],
    ['/s/**', '/s', true], // "**" matches zero segments
    ['/s/**', '/s/x/y/z', true],
    ['/**', '/', true],
    ['/**', '/a/:b', true],
    ['/', '/', true],
    ['/a/b', '/a/b/', true],
    ['/a/:x/**', '/a/b', true],
    ['/a/:x/c', '/a/b/d', false],
    ['/a/:x', '/a', false], // ":x" never matches an empty segment
    ['/a/:x', '/a/b/c', false],
    ['/a/:x/:y', '/a/:z', false],
    ['/a', '/b', false],
    ['/x', '/X', false], // case-sensitive
    ['/a/**', '/b/**', false],
    ['/a/**', '/', false],
    ['/a/b/**', '/a/:x/c/d', true],
    ['/a/b/**', '/a/c/:x', false],
    ['/', '/a', false],
  ];
  for (const [a, b, want] of rows) {
    const ta = parseTemplate(a) as TemplateSegment[];
    const tb = parseTemplate(b) as TemplateSegment[];
    assert.equal(templatesOverlap(ta, tb), want, `${a} vs ${b}`);
    assert.equal(templatesOverlap(tb, ta), want, `${b} vs ${a} (symmetric)`);
  }
});
