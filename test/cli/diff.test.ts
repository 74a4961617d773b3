/** `rolegate diff` through the built CLI: files, folders, git revisions, members of the store, exit codes. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { POLICY, json, rolegate, workspace, type Workspace } from './workspace.js';

let ws: Workspace;
// viewer loses nothing itself; manager gains deals:delete always, auditor stops inheriting viewer's financial exclusion
const NEXT = POLICY
  .replace('      - { allow: "deals:update,delete", when: assigned }', '      - { allow: "deals:update", when: assigned }\n      - "deals:delete"')
  .replace('auditor: { inherits: [viewer] }', 'auditor: { grants: ["*:list,read"] }')
  .replace('{ match: "GET /api/payouts", resource: payouts, action: list, upstream: portal }', '{ match: "GET /api/payouts", resource: deals, action: list, upstream: portal }');
const LOSS_ONLY = POLICY.replace('viewer:  { grants: ["*:list,read"], except: { tags: [financial] } }', 'viewer:  { grants: ["*:list,read"], except: { tags: [financial], resources: [profile] } }');

before(() => {
  ws = workspace();
  ws.write('old/policy.yaml', POLICY);
  ws.write('new/policy.yaml', NEXT);
  ws.write('loss/policy.yaml', LOSS_ONLY);
  ws.write('broken/policy.yaml', 'roles:\n  viewer: { grants: ["nope:read"] }\n');
});
after(() => ws.close());

const diff = (...args: string[]) => rolegate(['diff', ...args], { cwd: ws.dir });

test('files: gains and losses per role, route remaps, human and JSON', () => {
  const h = diff('old/policy.yaml', 'new/policy.yaml');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /~ manager/);
  assert.match(h.stdout, /\+ deals:delete +broadened: when assigned -> always/);
  assert.match(h.stdout, /\+ payouts:list +gained: always; no longer removed by except tag "financial"/);
  assert.match(h.stdout, /~ GET \/api\/payouts +new\/policy\.yaml:\d+\n {6}methods: GET payouts:list, HEAD payouts:list -> GET deals:list, HEAD deals:list/);
  const d = json(diff('old/policy.yaml', 'new/policy.yaml', '--json'));
  const auditor = d.roles.find((r: { role: string }) => r.role === 'auditor');
  assert.deepEqual(auditor.rights.map((r: { permission: string; change: string }) => [r.permission, r.change]), [['payouts:list', 'gained'], ['payouts:read', 'gained']]);
  assert.ok(d.summary.gains > 0);
});

test('exit codes: --fail-on-gain, --fail-on-change, 2 on load errors', () => {
  assert.equal(diff('old/policy.yaml', 'new/policy.yaml', '--fail-on-gain').code, 1);
  assert.equal(diff('old/policy.yaml', 'loss/policy.yaml', '--fail-on-gain').code, 0);
  assert.equal(diff('old/policy.yaml', 'loss/policy.yaml', '--fail-on-change').code, 1);
  assert.equal(diff('old', 'old', '--fail-on-change', '--fail-on-gain').code, 0);
  const broken = diff('old', 'broken');
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /broken\/policy\.yaml:2:\d+: roles\.viewer\.grants\.0: unknown resource "nope"/);
  assert.equal(diff('old', 'missing-folder').code, 2);
});

test('--config: members of the store whose access changes, and how', () => {
  const d = json(diff('old/policy.yaml', 'new/policy.yaml', '--config', ws.config, '--json'));
  const mia = d.members.find((m: { id: string }) => m.id === 'u-mia');
  assert.deepEqual(mia.rights.map((r: { permission: string; before: { detail: string }; after: { detail: string } }) => [r.permission, r.before.detail, r.after.detail]),
    [['deals:delete', 'conditional: manager when assigned', 'allowed by manager']]);
  const vera = d.members.find((m: { id: string }) => m.id === 'u-vera');
  assert.deepEqual(vera.routes.map((r: { route: string; before: { detail: string }; after: { detail: string } }) => [r.route, r.before.detail, r.after.detail]),
    [['GET /api/payouts', 'denied: excluded_by_tag', 'allowed by viewer']]);
  assert.equal(d.members.some((m: { id: string }) => m.id === 'u-ivy'), false, 'a pending member changes nothing');
  const h = diff('old/policy.yaml', 'new/policy.yaml', '--config', ws.config);
  assert.match(h.stdout, /members whose access changes \(store: seed /);
});

const GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.test',
  GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.test',
};
const hasGit = spawnSync('git', ['--version']).status === 0;

test('git revisions: git:REF:path and REF:path, files and folders, errors named REF:path', { skip: !hasGit && 'git not installed' }, () => {
  const repo = workspace({ 'policies/portal.yaml': POLICY, 'policies/portal_test.yaml': 'not: [a, policy' });
  try {
    const git = (...args: string[]) => {
      const r = spawnSync('git', args, { cwd: repo.dir, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'v1');
    repo.write('policies/portal.yaml', NEXT);
    git('commit', '-q', '-am', 'v2');
    repo.write('policies/portal.yaml', 'roles: [broken\n');
    git('commit', '-q', '-am', 'v3');
    repo.write('policies/portal.yaml', NEXT);

    const run = (...args: string[]) => rolegate(['diff', ...args], { cwd: repo.dir, env: GIT_ENV });
    const folders = run('git:HEAD~2:policies', 'git:HEAD~1:policies', '--json');
    assert.equal(folders.code, 0, folders.stderr);
    const d = json(folders);
    assert.equal(d.old.source, 'git:HEAD~2:policies');
    assert.ok(d.roles.some((r: { role: string }) => r.role === 'manager'));
    assert.match(d.roles[0].source, /^HEAD~1:policies\/portal\.yaml:\d+$/);
    assert.equal(run('HEAD~2:policies/portal.yaml', 'policies/portal.yaml', '--fail-on-gain').code, 1);
    assert.equal(run('HEAD~1:policies/portal.yaml', 'policies/portal.yaml', '--fail-on-change').code, 0);
    const broken = run('git:HEAD:policies', 'policies');
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^HEAD:policies\/portal\.yaml:\d+:\d+: /m);
    const missing = run('git:HEAD:nowhere', 'policies');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /git:HEAD:nowhere/);
  } finally {
    repo.close();
  }
});
