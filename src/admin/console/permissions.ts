/**
 * Permissions tab: the roles list (YAML roles read-only, custom roles
 * editable), a role's permission matrix, and the matrix editor for new,
 * edited and cloned custom roles. Edits send If-Match with the role's rev, so
 * a concurrent change by another admin is refused (412) instead of lost.
 */
import { ApiError, api, type MatrixCell, type ResourceInfo, type RoleBody, type RoleDetail, type RoleSummary } from './api.js';
import type { Context } from './context.js';
import { confirmDialog, field, openDialog } from './dialog.js';
import { clear, h } from './dom.js';
import { CONDITIONS, cellKey, cellsFromMatrix, describeValue, grantsFromCells, type Cells } from './matrix.js';
import { notify } from './notice.js';

/** The policy's name rule, as an HTML pattern (implicitly anchored; `-` escaped for the v flag). */
const ROLE_NAME = '[A-Za-z][A-Za-z0-9_.\\-]*';

export async function renderPermissions(root: HTMLElement, ctx: Context): Promise<void> {
  const list = h('nav.role-list', { 'aria-label': 'Roles' });
  const pane = h('div.role-pane');
  clear(root, h('div.split', {}, h('aside.sidebar', {},
    h('div.sidebar-head', {}, h('h2', {}, 'Roles'),
      ctx.can('roles:create') ? h('button.primary.small', { type: 'button', onclick: () => void editor(null) }, 'New role') : null),
    list), pane));

  const resources = await api.resources();
  // every action any resource has, in policy order: the matrix columns
  const columns = [...new Set(resources.flatMap((r) => r.actions))];
  let selected: string | undefined;

  const refreshList = async () => {
    ctx.rolesChanged();
    const roles = await ctx.roles();
    const group = (title: string, items: RoleSummary[]) => items.length
      ? [h('h3', {}, title), h('ul', {}, items.map((r) => h('li', {}, roleButton(r))))]
      : [];
    clear(list,
      group('Built-in and YAML (read-only)', roles.filter((r) => r.source === 'yaml')),
      group('Custom', roles.filter((r) => r.source === 'custom')));
    return roles;
  };

  const roleButton = (r: RoleSummary) => h('button', {
    type: 'button', 'data-role': r.name, 'aria-current': String(r.name === selected),
    onclick: () => void show(r.name),
  },
  h('span.role-name', {}, r.name, sourceBadge(r), r.problems ? h('span.badge.expired', { title: r.problems }, 'not in force') : null),
  h('span.sub', {}, `${r.members} member${r.members === 1 ? '' : 's'}${r.description ? ` · ${r.description}` : ''}`));

  const markSelected = (name: string | undefined) => {
    selected = name;
    for (const b of list.querySelectorAll<HTMLButtonElement>('button[data-role]')) b.setAttribute('aria-current', String(b.dataset.role === name));
  };

  const show = async (name: string) => {
    markSelected(name);
    let role: RoleDetail;
    try {
      role = await api.role(name);
      // the detail has no member count; the list has
      role.members ??= (await ctx.roles()).find((r) => r.name === name)?.members ?? 0;
    } catch (e) {
      notify.error(e);
      return;
    }
    const custom = role.source === 'custom';
    clear(pane,
      h('div.pane-head', {},
        h('div', {}, h('h2', {}, role.name, sourceBadge(role)),
          h('p.sub', {}, [role.description, role.audience && `audience: ${role.audience}`, `${role.members} member${role.members === 1 ? '' : 's'}`].filter(Boolean).join(' · '))),
        h('div.spacer'),
        ctx.can('roles:create') ? h('button', { type: 'button', onclick: () => void clone(role) }, 'Clone') : null,
        custom && ctx.can('roles:update') ? h('button.primary', { type: 'button', onclick: () => void editor(role) }, 'Edit') : null,
        custom && ctx.can('roles:delete') ? h('button.danger-text', { type: 'button', onclick: () => void remove(role) }, 'Delete') : null),
      custom ? null : h('p.note', {}, 'Defined in policy YAML: read-only here. Clone it to make an editable copy.'),
      role.problems ? h('p.note.problem', {}, `Not in force: the policy no longer compiles this role (${role.problems}). Edit or delete it.`) : null,
      h('div.matrix-scroll', {}, matrixTable(role, resources, columns)),
      legend());
  };

  const clone = async (from: RoleDetail) => {
    const name = h('input', { type: 'text', required: true, pattern: ROLE_NAME, value: `${from.name}_copy`, name: 'name' });
    const description = h('input', { type: 'text', name: 'description', value: from.description ?? '' });
    const made = await openDialog({
      title: `Clone ${from.name}`,
      body: [field('New role name', name), field('Description', description),
        h('p.hint', {}, 'The copy gets the effective permissions of the source (inherited roles and exceptions applied) as plain grants.')],
      submit: 'Clone',
      onSubmit: () => api.cloneRole(from.name, name.value.trim(), description.value.trim() || undefined),
    });
    if (!made) return;
    await refreshList();
    await show(made.name);
    notify.ok(`Created ${made.name} from ${from.name}.`);
  };

  const remove = async (role: RoleDetail) => {
    const text = role.members
      ? `Held by ${role.members} member${role.members === 1 ? '' : 's'}. They lose it; a member left with no role is denied (no_role).`
      : 'No member holds it.';
    if (!await confirmDialog(`Delete ${role.name}?`, text, 'Delete role')) return;
    try {
      const done = await api.deleteRole(role.name, role.rev ?? 0);
      await refreshList();
      markSelected(undefined);
      clear(pane, h('p.empty', {}, 'Pick a role.'));
      notify.ok(`Deleted ${done.deleted}${done.members.length ? `; taken from ${done.members.join(', ')}` : ''}.`);
    } catch (e) {
      reportEditError(e, () => void show(role.name));
    }
  };

  /** The matrix editor: `role` null for a new role. */
  const editor = async (role: RoleDetail | null) => {
    markSelected(role?.name);
    const cells: Cells = role ? cellsFromMatrix(role.matrix) : new Map();
    const name = h('input', { type: 'text', name: 'name', required: true, pattern: ROLE_NAME, autocomplete: 'off', placeholder: 'deal_desk' });
    const description = h('input', { type: 'text', name: 'description', value: role?.description ?? '' });
    const audience = h('select', { name: 'audience' },
      ['', 'internal', 'partner', 'any'].map((a) => h('option', { value: a, selected: (role?.body.audience ?? '') === a }, a || 'policy default')));
    const preview = h('pre.grants-preview', { 'aria-label': 'Grants preview' });
    const updatePreview = () => { preview.textContent = grantsYaml(grantsFromCells(resources, cells)); };
    const folds = role && (role.body.inherits?.length || role.body.except);

    const save = h('button.primary', { type: 'submit' }, role ? 'Save changes' : 'Create role');
    const form = h('form.editor', {},
      h('div.pane-head', {}, h('h2', {}, role ? `Edit ${role.name}` : 'New custom role'), h('div.spacer'),
        h('button', { type: 'button', onclick: () => { if (role) void show(role.name); else clear(pane, h('p.empty', {}, 'Pick a role.')); } }, 'Cancel'),
        save),
      h('div.editor-fields', {},
        role ? null : field('Name', name, 'Letters, digits, _ . -; starts with a letter.'),
        grow(field('Description', description)),
        field('Audience', audience)),
      folds ? h('p.note', {}, 'This role uses inherits/except; saving writes its effective permissions as plain grants.') : null,
      h('div.matrix-scroll', {}, editableMatrix(resources, columns, cells, updatePreview)),
      h('p.legend', {}, 'Conditions: ', CONDITIONS.flatMap((c, i) => [i ? ' · ' : '', h('code', {}, c.name), ` ${c.label}`])),
      h('details.preview', { open: true }, h('summary', {}, 'Grants written to the role'), preview));
    updatePreview();

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body: RoleBody = { ...(role ? keep(role.body) : {}), grants: grantsFromCells(resources, cells) };
      if (description.value.trim()) body.description = description.value.trim(); else delete body.description;
      if (audience.value) body.audience = audience.value as RoleBody['audience']; else delete body.audience;
      save.disabled = true;
      const saved = role ? api.updateRole(role.name, role.rev ?? 0, body) : api.createRole(name.value.trim(), body);
      saved.then(async (r) => {
        await refreshList();
        await show(r.name);
        notify.ok(role ? `Saved ${r.name}.` : `Created ${r.name}.`);
      }, (err: unknown) => {
        save.disabled = false;
        reportEditError(err, () => { if (role) void reload(role.name); });
      });
    });
    clear(pane, form);
    (role ? description : name).focus();
  };

  const reload = async (name: string) => {
    try {
      await editor(await api.role(name));
    } catch (e) {
      notify.error(e);
    }
  };

  const roles = await refreshList();
  const first = roles[0];
  if (first) await show(first.name);
  else clear(pane, h('p.empty', {}, 'No roles yet.'));
}

/** 412: someone saved in between; their change wins until this one is redone on top of it. */
function reportEditError(e: unknown, reload: () => void): void {
  if (e instanceof ApiError && e.status === 412) {
    notify.error(new Error('Someone else changed this role; reload it and make your change again.'), { label: 'Reload', run: reload });
  } else {
    notify.error(e);
  }
}

/** What an edit keeps of the stored body: the matrix replaces grants, inherits and except. */
function keep(body: RoleBody): RoleBody {
  return body.login === undefined ? {} : { login: body.login };
}

function grow(el: HTMLElement): HTMLElement {
  el.classList.add('grow');
  return el;
}

function sourceBadge(r: Pick<RoleSummary, 'source' | 'builtin'>): HTMLElement {
  if (r.source === 'custom') return h('span.badge.custom', {}, 'custom');
  return r.builtin ? h('span.badge.builtin', {}, 'built-in') : h('span.badge.yaml', {}, 'YAML');
}

function matrixTable(role: RoleDetail, resources: readonly ResourceInfo[], columns: readonly string[]): HTMLElement {
  const rows = new Map(role.matrix.map((r) => [r.resource, r]));
  return h('table.matrix', { 'aria-label': `Permissions of ${role.name}` },
    h('thead', {}, h('tr', {}, h('th', {}, 'Resource'), columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, resources.map((res) => {
      const cells = new Map((rows.get(res.resource)?.actions ?? []).map((c) => [c.action, c]));
      return h('tr', {},
        h('th', {}, res.resource, res.tags.map((t) => h('span.chip.tag', {}, t))),
        columns.map((a) => {
          if (!res.actions.includes(a)) return h('td.na', { 'aria-label': 'not an action of this resource' });
          return h('td', { 'data-cell': cellKey(res.resource, a) }, accessBadge(cells.get(a)));
        }));
    })));
}

function accessBadge(c: MatrixCell | undefined): HTMLElement {
  if (c?.access === 'yes') return h('span.access.yes', {}, 'yes');
  if (c?.access === 'conditional') {
    const when = c.when?.map((all) => all.join(' & ')).join(' | ') ?? '';
    return h('span.access.cond', { title: `only ${describeValue(when)}` }, when);
  }
  if (c?.excluded_by) {
    const x = c.excluded_by;
    return h('span.access.excluded', { title: `excluded by ${x.by} ${x.name} (the except of ${x.role})` }, 'excluded');
  }
  return h('span.access.no', { 'aria-label': 'no' }, '—');
}

function legend(): HTMLElement {
  return h('p.legend', {},
    h('span.access.yes', {}, 'yes'), ' always ',
    h('span.access.cond', {}, 'condition'), ' only where the record condition holds ',
    h('span.access.no', {}, '—'), ' no ',
    h('span.access.excluded', {}, 'excluded'), ' removed by an except (hover for the tag)');
}

function editableMatrix(resources: readonly ResourceInfo[], columns: readonly string[], cells: Cells, changed: () => void): HTMLElement {
  const body = resources.map((res) => {
    const rowSelects: HTMLSelectElement[] = [];
    const setRow = (v: string) => {
      for (const s of rowSelects) { s.value = v; s.dispatchEvent(new Event('change')); }
    };
    const row = h('tr', {},
      h('th', {}, h('div', {}, res.resource, res.tags.map((t) => h('span.chip.tag', {}, t))),
        h('div.row-tools', {},
          h('button.link', { type: 'button', onclick: () => setRow('yes') }, 'all'),
          h('button.link', { type: 'button', onclick: () => setRow('no') }, 'none'))),
      columns.map((a) => {
        if (!res.actions.includes(a)) return h('td.na');
        const key = cellKey(res.resource, a);
        const select = cellSelect(cells.get(key) ?? 'no', `${res.resource} ${a}`);
        select.addEventListener('change', () => {
          cells.set(key, select.value);
          select.title = describeValue(select.value);
          select.dataset.value = select.value === 'yes' || select.value === 'no' ? select.value : 'cond';
          changed();
        });
        rowSelects.push(select);
        return h('td', { 'data-cell': key }, select);
      }));
    return row;
  });
  return h('table.matrix.editable', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Resource'), columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, body));
}

function cellSelect(value: string, label: string): HTMLSelectElement {
  const options = [
    h('option', { value: 'no' }, '—'),
    h('option', { value: 'yes' }, 'yes'),
    h('optgroup', { label: 'only when' }, CONDITIONS.map((c) => h('option', { value: c.name }, c.name))),
  ];
  // a loaded cell may hold a combination no single option names: keep it selectable
  if (value !== 'no' && value !== 'yes' && !CONDITIONS.some((c) => c.name === value)) {
    options.push(h('option', { value }, value));
  }
  const select = h('select.cell', { 'aria-label': label, title: describeValue(value) }, options);
  select.value = value;
  select.dataset.value = value === 'yes' || value === 'no' ? value : 'cond';
  return select;
}

/** The grants as they would read in policy YAML. */
function grantsYaml(grants: ReturnType<typeof grantsFromCells>): string {
  if (!grants.length) return 'grants: []   # no permission';
  return ['grants:', ...grants.map((g) => typeof g === 'string'
    ? `  - "${g}"`
    : `  - { allow: "${g.allow}", when: ${Array.isArray(g.when) ? `[${g.when.join(', ')}]` : g.when} }`)].join('\n');
}
