// DOM helpers: element creation (text only ever through textContent, attributes
// through setAttribute), icons, the screen-reader announcer, breakable long names.

import { visibleName } from './format.js';

export const $ = (id) => document.getElementById(id);

/** Creates an element; `text` is always set as textContent. */
export function h(tag, opts, children) {
  const el = document.createElement(tag);
  if (opts) {
    for (const [k, v] of Object.entries(opts)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === 'hidden') el.hidden = true;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children || []) if (c) el.append(c);
  return el;
}

export function svgIcon(pathD, extraClass) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon' + (extraClass ? ' ' + extraClass : ''));
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', pathD);
  p.setAttribute('fill', 'none');
  p.setAttribute('stroke', 'currentColor');
  p.setAttribute('stroke-width', '1.6');
  p.setAttribute('stroke-linecap', 'round');
  p.setAttribute('stroke-linejoin', 'round');
  svg.append(p);
  return svg;
}

export const ICONS = {
  start: 'M5 3.5v9l7-4.5z',
  stop: 'M4.5 4.5h7v7h-7z',
  delete: 'M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5',
  details: 'M8 7.5v4M8 4.8v.2M14 8A6 6 0 1 1 2 8a6 6 0 0 1 12 0z',
  copy: 'M5.5 5.5h7v7h-7zM3.5 10.5v-7h7',
  check: 'M3.5 8.5l3 3 6-7',
  close: 'M4 4l8 8M12 4l-8 8',
  suspend: 'M5.5 4v8M10.5 4v8',
  'start-options': 'M5 3.5v9l7-4.5z',
  shutdown: 'M8 2.5v5M4.8 4.6a4.5 4.5 0 1 0 6.4 0',
  clone: 'M5.5 5.5h7v7h-7zM3.5 10.5v-7h7',
  settings: 'M8 10a2 2 0 1 0 0-4 2 2 0 0 0 0 4zM8 1.5v2M8 12.5v2M1.5 8h2M12.5 8h2M3.4 3.4l1.4 1.4M11.2 11.2l1.4 1.4M3.4 12.6l1.4-1.4M11.2 4.8l1.4-1.4',
  rename: 'M3 13l1-3.5 7-7 2.5 2.5-7 7zM9.5 4l2.5 2.5',
};

/** Says `text` through the live region. */
export function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  // A fresh text node in a later frame makes screen readers speak repeats too.
  requestAnimationFrame(() => {
    el.textContent = text;
  });
}

/**
 * A name or reference with line-break chances after "/" and before ":" or "@" (long
 * OCI references), its hidden characters and edge spaces shown (format.js visibleName).
 */
export function appendBreakable(el, text) {
  const parts = visibleName(text).split(/(?<=\/)|(?=[:@])/);
  parts.forEach((part, i) => {
    if (i > 0) el.append(document.createElement('wbr'));
    el.append(document.createTextNode(part));
  });
}
