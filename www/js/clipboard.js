// Copying text (IP addresses) to the clipboard, with a fallback for plain http pages.
import { h, announce } from './dom.js';
import { toast } from './toast.js';

/** How long a copy button shows its check mark. */
const COPIED_MS = 1500;

export async function copyText(text, button, what) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (_) {
    const ta = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try {
      ok = document.execCommand('copy');
    } catch (_e) {
      ok = false;
    }
    ta.remove();
    button.focus();
  }
  if (ok) {
    button.classList.add('is-copied');
    setTimeout(() => button.classList.remove('is-copied'), COPIED_MS);
    announce((what || 'Text') + ' copied: ' + text);
  } else {
    toast('Could not copy to the clipboard. Select the text and copy it by hand.', 'error');
  }
}
