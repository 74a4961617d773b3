/** The message area: API errors stay until dismissed, confirmations fade. */
import { ApiError } from './api.js';
import { byId, h } from './dom.js';

/** "Message (reason · field)": the API's own words plus what a support ticket needs. */
export function describe(e: unknown): string {
  if (e instanceof ApiError) {
    const detail = [e.reason, e.field && `field ${e.field}`].filter(Boolean).join(' · ');
    return detail ? `${e.message} (${detail})` : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

function show(kind: 'error' | 'ok', text: string, action?: { label: string; run: () => void }): void {
  const area = byId('messages');
  const close = h('button.link', { type: 'button', 'aria-label': 'Dismiss' }, '×');
  const msg = h(`div.message.${kind}`, { role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, text),
    action ? h('button.link', { type: 'button', onclick: () => { msg.remove(); action.run(); } }, action.label) : null,
    close);
  close.addEventListener('click', () => msg.remove());
  // one error at a time: the latest is the one that matters
  if (kind === 'error') area.querySelectorAll('.message.error').forEach((m) => m.remove());
  area.append(msg);
  if (kind === 'ok') setTimeout(() => msg.remove(), 6000);
}

export const notify = {
  error(e: unknown, action?: { label: string; run: () => void }): void { show('error', describe(e), action); },
  ok(text: string): void { show('ok', text); },
  clearErrors(): void { byId('messages').querySelectorAll('.message.error').forEach((m) => m.remove()); },
};
