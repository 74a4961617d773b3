/** Modal dialogs and the side drawer: native <dialog> (focus trapped, Escape closes). */
import { describe } from './notice.js';
import { h } from './dom.js';

/**
 * Shows `body` with a submit button; resolves with onSubmit's value, or null
 * when cancelled. When onSubmit throws (an API refusal), the dialog stays open
 * with the error shown inside it, so the user can correct the form.
 */
export function openDialog<T>(opts: {
  title: string;
  body: Node[];
  submit: string;
  danger?: boolean;
  drawer?: boolean;
  onSubmit: () => Promise<T>;
}): Promise<T | null> {
  return new Promise((resolve) => {
    const submit = h(opts.danger ? 'button.danger' : 'button.primary', { type: 'submit' }, opts.submit);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const error = h('div.message.error', { role: 'alert', hidden: true });
    const form = h('form', {},
      h('header', {}, h('h2', {}, opts.title)),
      h('div.dialog-body', {}, opts.body, error),
      h('footer', {}, cancel, submit));
    const dialog = h(opts.drawer ? 'dialog.drawer' : 'dialog', { 'aria-label': opts.title }, form);
    const finish = (v: T | null) => {
      dialog.close();
      dialog.remove();
      resolve(v);
    };
    cancel.addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', () => finish(null));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      opts.onSubmit().then(finish, (err: unknown) => {
        error.textContent = describe(err);
        error.hidden = false;
        submit.disabled = false;
      });
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function confirmDialog(title: string, text: string, action: string): Promise<boolean> {
  return openDialog({ title, body: [h('p', {}, text)], submit: action, danger: true, onSubmit: async () => true })
    .then((v) => v === true);
}

let fieldIds = 0;

/** A labelled form field. The label points at the input (for/id), so the field's name is the label alone, not the hint or a select's value. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  input.id ||= `field-${++fieldIds}`;
  return h('div.field', {}, h('label.label', { for: input.id }, label), input, hint ? h('span.hint', {}, hint) : null);
}

/** Checkboxes for picking roles; returns the element and a getter of the checked names. */
export function rolePicker(roles: readonly string[], checked: readonly string[], name = 'roles'): { el: HTMLElement; value(): string[] } {
  const boxes = roles.map((r) => h('input', { type: 'checkbox', name, value: r, checked: checked.includes(r) }));
  const el = h('fieldset.role-picker', {}, h('legend', {}, 'Roles'),
    roles.map((r, i) => h('label.check', {}, boxes[i]!, h('span', {}, r))));
  return { el, value: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}
