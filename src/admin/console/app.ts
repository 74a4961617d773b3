/**
 * The console's entry: sign-in with a pasted bearer token, the caller from
 * GET /v1/me, and the tabs it may use (hash routing, so a reload keeps the tab).
 */
import { ApiError, api, session } from './api.js';
import { createContext, type Context } from './context.js';
import { byId, clear, h } from './dom.js';
import { notify } from './notice.js';
import { renderPermissions } from './permissions.js';
import { renderSettings } from './settings.js';
import { renderUsers } from './users.js';

interface Tab { id: string; label: string; needs: string; render(root: HTMLElement, ctx: Context): Promise<void> }

const TABS: Tab[] = [
  { id: 'users', label: 'Users', needs: 'members:list', render: renderUsers },
  { id: 'permissions', label: 'Permissions', needs: 'roles:list', render: renderPermissions },
  { id: 'settings', label: 'Settings & audit', needs: 'policy:read', render: renderSettings },
];

function showLogin(reason?: unknown): void {
  byId('tabs').hidden = true;
  clear(byId('whoami'));
  clear(byId('view'));
  byId('login').hidden = false;
  if (reason) notify.error(reason);
  byId<HTMLTextAreaElement>('token').focus();
}

function signOut(): void {
  session.clear();
  notify.clearErrors();
  showLogin();
}

async function start(): Promise<void> {
  if (!session.token()) return showLogin();
  let me;
  try {
    me = await api.me();
  } catch (e) {
    // a bad or expired token: forget it and ask again; other errors keep it (the API may be briefly away)
    if (e instanceof ApiError && e.status === 401) session.clear();
    return showLogin(e);
  }
  const ctx = createContext(me);
  byId('login').hidden = true;
  clear(byId('whoami'),
    h('span.who', { title: `status: ${me.status}` }, me.id),
    me.roles.length ? me.roles.map((r) => h('span.chip', {}, r)) : h('span.chip.muted', {}, 'no role'),
    h('button.link', { type: 'button', onclick: signOut }, 'Sign out'));

  const tabs = TABS.filter((t) => ctx.can(t.needs));
  const nav = byId('tabs');
  nav.hidden = false;
  const buttons = tabs.map((t) => h('a', { href: `#${t.id}`, 'data-tab': t.id }, t.label));
  clear(nav, buttons);

  const route = async () => {
    const tab = tabs.find((t) => `#${t.id}` === location.hash) ?? tabs[0];
    for (const b of buttons) b.setAttribute('aria-current', String(b.dataset.tab === tab?.id));
    const view = byId('view');
    if (!tab) {
      clear(view, h('p.empty', {}, 'Your roles do not include any admin permission.'));
      return;
    }
    notify.clearErrors();
    const root = h('section', { id: `tab-${tab.id}` });
    clear(view, root);
    await tab.render(root, ctx).catch((e: unknown) => notify.error(e));
  };
  window.onhashchange = () => { void route(); };
  await route();
}

byId<HTMLFormElement>('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = byId<HTMLTextAreaElement>('token');
  const token = input.value.trim().replace(/^Bearer\s+/i, '');
  if (!token) return;
  session.set(token);
  input.value = '';
  notify.clearErrors();
  void start();
});

void start();
