/** Settings & audit tab: default roles per audience (Introw) and the audit log. */
import { api, type AuditEntry, type DefaultRoles } from './api.js';
import type { Context } from './context.js';
import { openDialog, rolePicker } from './dialog.js';
import { clear, formatTime, h } from './dom.js';
import { notify } from './notice.js';

type AudienceName = 'internal' | 'partner';
const AUDIENCES: AudienceName[] = ['internal', 'partner'];

export async function renderSettings(root: HTMLElement, ctx: Context): Promise<void> {
  const defaults = h('div.card');
  const audit = h('tbody');
  const more = h('div.table-footer');
  clear(root,
    h('h2', {}, 'Default roles'),
    h('p.sub', {}, 'Roles a new member of each audience gets when no role is assigned.'),
    defaults,
    h('h2', {}, 'Audit log'),
    h('table.audit', {},
      h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Target', 'Change', 'Request'].map((t) => h('th', {}, t)))),
      audit),
    more);

  const showDefaults = async () => {
    const d = await api.defaultRoles();
    clear(defaults,
      h('dl.defaults', {}, AUDIENCES.flatMap((a) => [
        h('dt', {}, a),
        h('dd', {}, d[a].length ? d[a].map((r) => h('span.chip', {}, r)) : h('span.chip.muted', {}, 'none'),
          h('span.sub', {}, d.source[a] === 'admin' ? ' set here' : ' from policy YAML')),
      ])),
      ctx.can('policy:update') ? h('button', { type: 'button', onclick: () => void edit(d) }, 'Change…') : null);
  };

  const edit = async (d: DefaultRoles) => {
    const names = (await ctx.roles()).map((r) => r.name);
    const pickers = AUDIENCES.map((a) => {
      const picker = rolePicker(names, d[a], `default-${a}`);
      const fromYaml = h('input', { type: 'checkbox', checked: d.source[a] === 'yaml' });
      return { a, picker, fromYaml, el: h('fieldset', {}, h('legend', {}, a), h('label.check', {}, fromYaml, h('span', {}, 'Use the policy YAML')), picker.el) };
    });
    const saved = await openDialog({
      title: 'Default roles',
      body: pickers.map((p) => p.el),
      submit: 'Save',
      onSubmit: () => api.setDefaultRoles(d.rev, Object.fromEntries(pickers.map((p) => [p.a, p.fromYaml.checked ? null : p.picker.value()]))),
    });
    if (!saved) return;
    await showDefaults().catch((e: unknown) => notify.error(e));
    notify.ok('Default roles saved.');
  };

  let cursor: string | undefined;
  const loadAudit = async () => {
    const page = await api.audit(cursor);
    audit.append(...page.items.map(auditRow));
    if (!audit.children.length) audit.append(h('tr', {}, h('td.empty', { colspan: '6' }, 'No admin changes yet.')));
    cursor = page.next_cursor ?? undefined;
    clear(more, cursor ? h('button', { type: 'button', onclick: () => void loadAudit().catch((e: unknown) => notify.error(e)) }, 'Older entries') : null);
  };

  await Promise.all([showDefaults(), loadAudit()]);
}

function auditRow(e: AuditEntry): HTMLElement {
  return h('tr', {},
    h('td.nowrap', {}, formatTime(e.at_ms)),
    h('td', {}, e.actor),
    h('td', {}, h('code', {}, e.action)),
    h('td', {}, e.target),
    h('td', {}, h('details', {}, h('summary', {}, 'before / after'),
      h('pre', {}, `before: ${JSON.stringify(e.before, null, 2)}\nafter: ${JSON.stringify(e.after, null, 2)}`))),
    h('td', {}, h('code.sub', {}, e.request_id)));
}
