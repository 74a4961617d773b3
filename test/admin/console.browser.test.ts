/**
 * The admin console in a real browser (Debian's chromium driven by
 * playwright-core; .ci/run installs it) against a real gateway with the admin
 * listener and the in-memory store: sign in with an owner token, invite a
 * member through the drawer, change the role of two members in bulk, create a
 * custom role in the matrix editor, and lose a concurrent edit to If-Match.
 * Every result is checked through the admin API, not only in the page.
 *
 * ROLEGATE_CONSOLE_SCREENSHOT=1 also writes docs/console.png and docs/console-permissions.png (the README's pictures).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../../docs/console.png', import.meta.url));
const SCREENSHOT_MATRIX = fileURLToPath(new URL('../../../docs/console-permissions.png', import.meta.url));

/** The e2e policy plus rolegate's own admin resources (docs/admin-api.md). */
const ADMIN_POLICY = POLICY.replace('resources:\n', `resources:
  members:   { actions: [list, read, invite, update, assign, remove], tags: [admin] }
  roles:     { actions: [list, read, create, update, delete], tags: [admin] }
  relations: { actions: [read, update], tags: [admin] }
  policy:    { actions: [read, update], tags: [admin] }
`);

describe('admin console in chromium', { skip: existsSync(CHROMIUM) ? false : `needs ${CHROMIUM} (apt-get install chromium)` }, () => {
  let gw: TestGateway;
  let admin: string;
  let ownerToken: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  /** The admin API as the owner, for checking what the console did. */
  const api = async (path: string, init: RequestInit = {}): Promise<{ status: number; etag: string | null; body: any }> => {
    const res = await fetch(`${admin}${path}`, { ...init, headers: { authorization: `Bearer ${ownerToken}`, ...init.headers } });
    return { status: res.status, etag: res.headers.get('etag'), body: await res.json() };
  };

  before(async () => {
    gw = await startTestGateway({ policy: ADMIN_POLICY, config: (c) => { c.admin = { host: '127.0.0.1', port: 0 }; } });
    assert.ok(gw.gateway.adminUrl, 'the admin listener is on');
    admin = gw.gateway.adminUrl;
    ownerToken = await gw.token('u-olivia');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(10000);
    // script errors and CSP refusals (an inline style or script would be one) fail the suite
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); });
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  test('signs in with a pasted bearer token and shows the caller', async () => {
    await page.goto(admin);
    await page.getByLabel('Bearer token').fill(ownerToken);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#whoami .who', { hasText: 'u-olivia' }).waitFor();
    await page.locator('table.members tr[data-id="u-vera"]').waitFor();
    assert.equal(await page.locator('tr[data-id="u-ivy"] .badge').textContent(), 'pending');
    assert.equal(await page.locator('tr[data-id="u-rex"] .badge').textContent(), 'removed');
  });

  test('invites a member through the drawer', async () => {
    await page.getByRole('button', { name: 'Invite member', exact: true }).click();
    const drawer = page.getByRole('dialog', { name: 'Invite member' });
    await drawer.getByLabel('Email').fill('Ana@Acme.test');
    await drawer.getByRole('checkbox', { name: 'viewer', exact: true }).check();
    await drawer.getByText('Optional: id, organisation, kind, groups').click();
    await drawer.getByLabel('Organisation').fill('acme');
    await drawer.getByLabel('Kind').selectOption('internal');
    await drawer.getByLabel('Groups').fill('emea, deals-desk');
    await drawer.getByRole('button', { name: 'Send invite', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Invited Ana@Acme.test' }).waitFor();
    assert.equal(await page.locator('tr[data-id="ana@acme.test"] .badge').textContent(), 'pending');

    const m = await api('/v1/members/ana%40acme.test');
    assert.equal(m.status, 200);
    assert.equal(m.body.status, 'pending');
    assert.deepEqual(m.body.roles, ['viewer']);
    assert.deepEqual(m.body.groups, ['emea', 'deals-desk']);
    assert.equal(m.body.org, 'acme');
    assert.equal(m.body.kind, 'internal');
    assert.ok(m.body.invite.expires_ms > Date.now());

    // the same address again: the API's refusal is shown in the drawer, which stays open
    await page.getByRole('button', { name: 'Invite member', exact: true }).click();
    await drawer.getByLabel('Email').fill('ana@acme.test');
    await drawer.getByRole('button', { name: 'Send invite', exact: true }).click();
    await drawer.getByRole('alert').filter({ hasText: 'member_exists' }).waitFor();
    await drawer.getByRole('button', { name: 'Cancel', exact: true }).click();
    assert.equal(await drawer.count(), 0);
  });

  test('changes the role of two members in bulk', async () => {
    await page.getByLabel('Select u-vera').check();
    await page.getByLabel('Select u-max').check();
    await page.locator('.bulkbar', { hasText: '2 selected' }).waitFor();
    if (process.env.ROLEGATE_CONSOLE_SCREENSHOT) await page.screenshot({ path: SCREENSHOT });
    await page.getByRole('button', { name: 'Change role…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Change role of 2 members' });
    await dialog.getByRole('checkbox', { name: 'admin', exact: true }).check();
    await dialog.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Roles changed for 2 members' }).waitFor();

    for (const id of ['u-vera', 'u-max']) {
      const m = await api(`/v1/members/${id}`);
      assert.deepEqual(m.body.roles, ['admin'], id);
    }
    // the role filter tab now lists both under admin (u-rex: a removed admin)
    await page.locator('.filter-tabs').getByRole('button', { name: 'admin', exact: true }).click();
    await page.locator('tr[data-id="u-vera"]').waitFor();
    assert.deepEqual(await page.locator('table.members tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id'))), ['u-adam', 'u-max', 'u-rex', 'u-vera']);
  });

  test('creates a custom role in the matrix editor', async () => {
    await page.getByRole('link', { name: 'Permissions' }).click();
    await page.locator('button[data-role="owner"]').waitFor();
    await page.getByRole('button', { name: 'New role', exact: true }).click();
    await page.getByLabel('Name').fill('deal_desk');
    await page.getByLabel('Description').fill('Deals desk: all deals readable, assigned ones editable');
    await page.getByLabel('deals list').selectOption('yes');
    await page.getByLabel('deals read').selectOption('yes');
    await page.getByLabel('deals update').selectOption('assigned');
    await page.getByLabel('partners read').selectOption('own_org');
    assert.match(await page.getByLabel('Grants preview').textContent() ?? '', /"deals:list,read"[\s\S]*allow: "deals:update", when: assigned/);
    await page.getByRole('button', { name: 'Create role', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Created deal_desk' }).waitFor();
    // the read-only matrix of the new role replaces the editor
    await page.locator('table.matrix:not(.editable) td[data-cell="deals:update"]', { hasText: 'assigned' }).waitFor();
    if (process.env.ROLEGATE_CONSOLE_SCREENSHOT) await page.screenshot({ path: SCREENSHOT_MATRIX });

    const role = await api('/v1/roles/deal_desk');
    assert.equal(role.status, 200);
    assert.equal(role.body.source, 'custom');
    assert.deepEqual(role.body.body.grants, [
      'deals:list,read',
      { allow: 'deals:update', when: 'assigned' },
      { allow: 'partners:read', when: 'own_org' },
    ]);
    const deals = role.body.matrix.find((r: any) => r.resource === 'deals');
    assert.deepEqual(deals.actions.find((c: any) => c.action === 'update'), { action: 'update', access: 'conditional', when: [['assigned']] });
    assert.equal(deals.actions.find((c: any) => c.action === 'delete').access, 'no');
  });

  test('a concurrent edit is refused with If-Match and can be reloaded', async () => {
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await page.getByLabel('deals delete').selectOption('yes');
    // another admin saves first
    const current = await api('/v1/roles/deal_desk');
    const other = await api('/v1/roles/deal_desk', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': current.etag! },
      body: JSON.stringify({ description: 'changed elsewhere', grants: ['deals:list'] }),
    });
    assert.equal(other.status, 200);
    await page.getByRole('button', { name: 'Save changes', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Someone else changed this role' }).waitFor();
    assert.deepEqual((await api('/v1/roles/deal_desk')).body.body.grants, ['deals:list'], 'the other admin\'s change stands');

    await page.getByRole('alert').getByRole('button', { name: 'Reload', exact: true }).click();
    await page.locator('input[name="description"][value="changed elsewhere"]').waitFor();
    await page.getByLabel('deals delete').selectOption('yes');
    await page.getByRole('button', { name: 'Save changes', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Saved deal_desk' }).waitFor();
    assert.deepEqual((await api('/v1/roles/deal_desk')).body.body.grants, ['deals:list,delete']);
  });

  test('no script or CSP errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
