// Toasts: short messages in the corner; errors stay longer and are alerts.
import { $, h, svgIcon, ICONS } from './dom.js';

/** How long informational toasts stay; errors stay twice as long. */
const TOAST_MS = 6000;
/** Toasts shown at once; the oldest goes first. */
const MAX_TOASTS = 4;

export function toast(message, kind) {
  const isError = kind === 'error';
  const el = h('div', { class: 'toast toast-' + (kind || 'info'), role: isError ? 'alert' : 'status' }, [
    h('span', { class: 'toast-text', text: message }),
  ]);
  const close = h('button', { type: 'button', class: 'btn btn-icon btn-quiet', 'aria-label': 'Dismiss message' });
  close.append(svgIcon(ICONS.close));
  close.addEventListener('click', () => el.remove());
  el.append(close);
  $('toasts').append(el);
  setTimeout(() => el.remove(), isError ? TOAST_MS * 2 : TOAST_MS);
  while ($('toasts').children.length > MAX_TOASTS) $('toasts').firstElementChild.remove();
}

/** An error toast, unless the error is "server unreachable" (the offline banner says it). */
export function errorToast(prefix, err) {
  if (err && err.network) return;
  toast(prefix + ': ' + (err && err.message ? err.message : String(err)), 'error');
}
