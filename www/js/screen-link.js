// "Open screen": a link to a VM's console page (/console?vm=<name>), opened in a new
// tab. The new tab does not share this tab's storage, so a plain click hands it the
// token in the fragment, which browsers never send and the console page removes from
// the address bar; the href itself never carries it (it shows on hover and in copies).
import { h, svgIcon } from './dom.js';
import { TOKEN } from './token.js';

/** A monitor outline. */
const SCREEN_ICON = 'M2.5 3h11v7.5h-11zM6 13.5h4M8 10.5v3';

export function screenLink(name) {
  const href = '/console?vm=' + encodeURIComponent(name);
  const link = h('a', {
    class: 'btn btn-small btn-screen',
    href,
    target: '_blank',
    rel: 'noopener',
    'aria-label': 'Open screen of ' + name,
    dataset: { action: 'screen' },
  });
  link.append(svgIcon(SCREEN_ICON), h('span', { text: 'Open screen' }));
  link.addEventListener('click', (e) => {
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || !TOKEN) return;
    e.preventDefault();
    window.open(href + '#token=' + TOKEN, '_blank', 'noopener');
  });
  return link;
}
