/**
 * Users tab: the members table (status badges, role filter tabs, search),
 * the invite drawer, row actions and bulk change-role / remove.
 */
import { api, type BulkAction, type InviteBody, type Member, type MemberFilter } from './api.js';
import type { Context } from './context.js';
import { confirmDialog, field, openDialog, rolePicker } from './dialog.js';
import { clear, formatTime, h, splitList } from './dom.js';
import { notify } from './notice.js';

interface State {
  filter: MemberFilter;
  items: Member[];
  total: number;
  next: string | null;
  selected: Set<string>;
}

export async function renderUsers(root: HTMLElement, ctx: Context): Promise<void> {
  const state: State = { filter: {}, items: [], total: 0, next: null, selected: new Set() };
  const roleNames = (await ctx.roles()).map((r) => r.name);

  const roleTabs = h('nav.filter-tabs', { 'aria-label': 'Filter by role' });
  const status = h('select', { 'aria-label': 'Status' },
    ['', 'pending', 'active', 'removed'].map((s) => h('option', { value: s }, s || 'Any status')));
  const search = h('input', { type: 'search', placeholder: 'Search id or email', 'aria-label': 'Search' });
  const inviteButton = ctx.can('members:invite')
    ? h('button.primary', { type: 'button', onclick: () => void inviteDrawer() }, 'Invite member')
    : null;
  const bulkBar = h('div.bulkbar', { hidden: true });
  const tbody = h('tbody');
  const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all shown' });
  const footer = h('div.table-footer');
  const canBulk = ctx.can('members:assign') || ctx.can('members:remove');

  clear(root,
    h('div.toolbar', {}, roleTabs, h('div.spacer'), status, search, inviteButton),
    bulkBar,
    h('table.members', {},
      h('thead', {}, h('tr', {},
        canBulk ? h('th.select', {}, selectAll) : null,
        ['Member', 'Roles', 'Status', 'Org', 'Kind', 'Groups', 'Updated', ''].map((t) => h('th', {}, t)))),
      tbody),
    footer);

  const renderRoleTabs = () => clear(roleTabs, ['', ...roleNames].map((r) =>
    h('button', { type: 'button', 'aria-pressed': String((state.filter.role ?? '') === r), onclick: () => { state.filter.role = r || undefined; renderRoleTabs(); void load(); } }, r || 'All')));

  let latest = 0;
  const load = async (more = false) => {
    // a slower earlier answer (another filter) must not overwrite a newer one
    const seq = ++latest;
    try {
      const page = await api.members({ ...state.filter, cursor: more ? state.next ?? undefined : undefined });
      if (seq !== latest) return;
      state.items = more ? [...state.items, ...page.items] : page.items;
      state.total = page.total;
      state.next = page.next_cursor;
      // keep only selections that are still shown
      const shown = new Set(state.items.map((m) => m.id));
      for (const id of state.selected) if (!shown.has(id)) state.selected.delete(id);
      renderRows();
    } catch (e) {
      notify.error(e);
    }
  };

  const renderRows = () => {
    clear(tbody, state.items.length
      ? state.items.map(row)
      : h('tr', {}, h('td.empty', { colspan: '9' }, 'No members match.')));
    selectAll.checked = state.selected.size > 0 && state.items.every((m) => m.id === ctx.me.id || state.selected.has(m.id));
    clear(footer,
      h('span', {}, `${state.items.length} of ${state.total} shown`),
      state.next ? h('button', { type: 'button', onclick: () => void load(true) }, 'Load more') : null);
    renderBulkBar();
  };

  const row = (m: Member) => {
    // the API refuses changes to one's own roles or membership (self_change): offer none
    const self = m.id === ctx.me.id;
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${m.id}`, checked: state.selected.has(m.id), disabled: self });
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(m.id); else state.selected.delete(m.id);
      selectAll.checked = state.items.every((x) => x.id === ctx.me.id || state.selected.has(x.id));
      renderBulkBar();
    });
    const actions = h('td.actions', {},
      ctx.can('members:assign') && m.status !== 'removed' && !self
        ? h('button.small', { type: 'button', onclick: () => void changeRoles(m) }, 'Change role') : null,
      // a pending member seeded without an invitation has nothing to resend (409 not_pending)
      ctx.can('members:invite') && m.status === 'pending' && m.invite
        ? h('button.small', { type: 'button', onclick: () => void resend(m) }, 'Resend invite') : null,
      ctx.can('members:remove') && m.status !== 'removed' && !self
        ? h('button.small.danger-text', { type: 'button', onclick: () => void removeOne(m) }, 'Remove') : null);
    return h('tr', { 'data-id': m.id, class: m.status === 'removed' ? 'removed' : undefined },
      canBulk ? h('td.select', {}, box) : null,
      h('td', {}, h('div.member-id', {}, m.id, self ? h('span.badge.you', {}, 'you') : null), m.email && m.email.toLowerCase() !== m.id ? h('div.sub', {}, m.email) : null),
      h('td', {}, m.roles.length ? m.roles.map((r) => h('span.chip', {}, r)) : h('span.chip.muted', {}, 'no role')),
      h('td', {}, statusBadge(m)),
      h('td', {}, m.org || '—'),
      h('td', {}, m.kind),
      h('td', {}, m.groups.join(', ') || '—'),
      // seeded members carry no timestamps (0)
      h('td.nowrap', {}, m.updated_ms ? formatTime(m.updated_ms) : '—'),
      actions);
  };

  const renderBulkBar = () => {
    const n = state.selected.size;
    bulkBar.hidden = n === 0;
    clear(bulkBar,
      h('strong', {}, `${n} selected`),
      ctx.can('members:assign') ? h('button', { type: 'button', onclick: () => void bulkRoles() }, 'Change role…') : null,
      ctx.can('members:remove') ? h('button.danger-text', { type: 'button', onclick: () => void bulkRemove() }, 'Remove…') : null,
      h('button.link', { type: 'button', onclick: () => { state.selected.clear(); renderRows(); } }, 'Clear selection'));
  };

  selectAll.addEventListener('change', () => {
    for (const m of state.items) if (selectAll.checked && m.id !== ctx.me.id) state.selected.add(m.id); else state.selected.delete(m.id);
    renderRows();
  });
  status.addEventListener('change', () => { state.filter.status = status.value || undefined; void load(); });
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.filter.q = search.value.trim() || undefined; void load(); }, 250);
  });

  const inviteDrawer = async () => {
    const email = h('input', { type: 'email', required: true, autocomplete: 'off', name: 'email' });
    const picker = rolePicker(roleNames, []);
    const id = h('input', { type: 'text', name: 'id', autocomplete: 'off' });
    const org = h('input', { type: 'text', name: 'org', autocomplete: 'off' });
    const kind = h('select', { name: 'kind' }, h('option', { value: '' }, 'default (partner when an organisation is given)'), h('option', { value: 'internal' }, 'internal'), h('option', { value: 'partner' }, 'partner'));
    const groups = h('input', { type: 'text', name: 'groups', autocomplete: 'off' });
    const invited = await openDialog({
      title: 'Invite member',
      drawer: true,
      submit: 'Send invite',
      body: [
        field('Email', email),
        picker.el,
        h('details.optional', {}, h('summary', {}, 'Optional: id, organisation, kind, groups'),
          field('Id', id, 'The subject your identity provider puts in the token; defaults to the email.'),
          field('Organisation', org),
          field('Kind', kind),
          field('Groups', groups, 'Comma separated.')),
      ],
      onSubmit: () => {
        const body: InviteBody = { email: email.value.trim(), roles: picker.value() };
        if (id.value.trim()) body.id = id.value.trim();
        if (org.value.trim()) body.org = org.value.trim();
        if (kind.value) body.kind = kind.value;
        if (groups.value.trim()) body.groups = splitList(groups.value);
        return api.invite(body);
      },
    });
    if (!invited) return;
    await load();
    notify.ok(`Invited ${invited.email ?? invited.id}: pending until they accept${invited.invite ? ` (by ${formatTime(invited.invite.expires_ms)})` : ''}.`);
  };

  const changeRoles = async (m: Member) => {
    const picker = rolePicker(roleNames, m.roles);
    const changed = await openDialog({
      title: `Roles of ${m.id}`,
      body: [picker.el, h('p.hint', {}, 'Several roles: the most permissive wins. No role: the gateway answers no_role.')],
      submit: 'Save roles',
      onSubmit: () => api.setRoles(m, picker.value()),
    });
    if (!changed) return;
    await load();
    notify.ok(`${m.id}: ${changed.roles.join(', ') || 'no role'}.`);
  };

  const resend = async (m: Member) => {
    try {
      const sent = await api.resend(m.id);
      await load();
      notify.ok(`Invite re-sent to ${sent.email ?? sent.id}${sent.invite ? `; expires ${formatTime(sent.invite.expires_ms)}` : ''}.`);
    } catch (e) {
      notify.error(e);
    }
  };

  const removeOne = async (m: Member) => {
    if (!await confirmDialog(`Remove ${m.id}?`, 'Their access ends at once on every gateway instance. The member is kept as removed and can be invited again.', 'Remove')) return;
    try {
      await api.remove(m);
      await load();
      notify.ok(`${m.id} removed.`);
    } catch (e) {
      notify.error(e);
    }
  };

  const bulkRoles = async () => {
    const ids = [...state.selected];
    const picker = rolePicker(roleNames, []);
    const mode = h('select', { name: 'mode' },
      h('option', { value: 'set_roles' }, 'Replace their roles with'),
      h('option', { value: 'add_roles' }, 'Add'),
      h('option', { value: 'remove_roles' }, 'Take away'));
    const done = await openDialog({
      title: `Change role of ${ids.length} member${ids.length === 1 ? '' : 's'}`,
      body: [field('Change', mode), picker.el, h('p.hint', {}, 'All or nothing: if one member cannot be changed, none is.')],
      submit: 'Apply',
      onSubmit: () => api.bulk(mode.value as BulkAction, ids, picker.value()),
    });
    if (!done) return;
    state.selected.clear();
    await load();
    notify.ok(`Roles changed for ${done.changed} member${done.changed === 1 ? '' : 's'}.`);
  };

  const bulkRemove = async () => {
    const ids = [...state.selected];
    if (!await confirmDialog(`Remove ${ids.length} member${ids.length === 1 ? '' : 's'}?`, `${ids.join(', ')}: access ends at once. All or nothing.`, 'Remove')) return;
    try {
      const done = await api.bulk('remove', ids);
      state.selected.clear();
      await load();
      notify.ok(`${done.changed} member${done.changed === 1 ? '' : 's'} removed.`);
    } catch (e) {
      notify.error(e);
    }
  };

  renderRoleTabs();
  await load();
}

function statusBadge(m: Member): HTMLElement {
  if (m.status === 'pending' && m.invite?.expired) {
    return h('span.badge.expired', { title: `expired ${formatTime(m.invite.expires_ms)}` }, 'invite expired');
  }
  const title = m.status === 'pending' && m.invite ? `invite expires ${formatTime(m.invite.expires_ms)}, sent ${m.invite.sends}×` : undefined;
  return h(`span.badge.${m.status}`, { title }, m.status);
}
