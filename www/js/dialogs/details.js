// The details sheet (#details): status, IP and VNC link from the inventory, then the
// VM's configuration from GET /api/vms/{name}/config.
import { api, vmPath } from '../api.js';
import { $, h } from '../dom.js';
import { actionLabel } from '../actions.js';
import { configRows, formatTime, visibleName } from '../format.js';
import { state, onRender } from '../store.js';
import { statusText } from '../vms.js';
import { closeOnBackdrop } from './common.js';

/** The VM whose details are open, or null. */
let detailsName = null;

export async function openDetails(name) {
  detailsName = name;
  $('details-name').textContent = visibleName(name);
  $('details-raw').textContent = '';
  $('details-facts').replaceChildren();
  renderSummary();
  $('details').showModal();
  $('details-close').focus();
  loadHistory(name);
  await loadConfig(false);
}

/** Tasks the server kept for a VM's history panel (the newest). */
const HISTORY_TASKS = 20;

/** The VM's history: its tasks from the server, newest first. */
async function loadHistory(name) {
  const list = $('details-history');
  list.replaceChildren();
  $('details-history-empty').hidden = true;
  let tasks = [];
  try {
    tasks = await api('GET', '/api/tasks?vm=' + encodeURIComponent(name) + '&limit=' + HISTORY_TASKS);
  } catch (_) {
    return;
  }
  if (detailsName !== name || !Array.isArray(tasks)) return;
  for (const t of tasks) {
    const when = h('time', { class: 'muted', text: formatTime(t.created_at) });
    const status = String(t.status || '');
    list.append(h('li', {}, [when, ' ', h('span', { text: actionLabel(t.action) }), ' ', h('span', { class: 'task-status status-' + status, text: status })]));
  }
  $('details-history-empty').hidden = tasks.length > 0;
}

function renderSummary() {
  if (detailsName === null) return;
  const vm = state.vms.find((v) => v.name === detailsName);
  const el = $('details-status');
  el.replaceChildren();
  if (!vm) {
    el.append(h('span', { class: 'muted', text: 'This VM is no longer in the inventory.' }));
    return;
  }
  const label = statusText(vm);
  el.append(h('span', { class: 'status-pill status-' + label, text: label }));
  if (vm.ip_address) {
    el.append(' ', h('code', { text: String(vm.ip_address) }));
    const vnc = h('a', { href: 'vnc://' + vm.ip_address, class: 'vnc-link', text: 'Open in Screen Sharing' });
    el.append(' ', vnc);
  }
}

async function loadConfig(force) {
  const name = detailsName;
  if (name === null) return;
  const msg = $('details-msg');
  msg.className = 'details-msg';
  msg.textContent = 'Loading configuration…';
  $('details-reload').disabled = true;
  try {
    const cfg = await api('GET', vmPath(name, '/config') + (force ? '?force_refresh=true' : ''));
    if (detailsName !== name) return;
    msg.textContent = '';
    const vm = state.vms.find((v) => v.name === name) || {};
    const facts = $('details-facts');
    facts.replaceChildren();
    for (const [k, v] of configRows(cfg, vm)) facts.append(h('div', {}, [h('dt', { text: k }), h('dd', { text: String(v) })]));
    const raw = cfg && cfg.raw && typeof cfg.raw === 'object' ? cfg.raw : {};
    $('details-raw').textContent = JSON.stringify(raw, null, 2);
  } catch (err) {
    if (detailsName !== name) return;
    msg.className = 'details-msg is-error';
    msg.textContent = 'Could not load the configuration: ' + err.message;
  } finally {
    $('details-reload').disabled = false;
  }
}

export function initDetailsDialog() {
  $('details-close').addEventListener('click', () => $('details').close());
  $('details-reload').addEventListener('click', () => loadConfig(true));
  $('details').addEventListener('close', () => {
    detailsName = null;
  });
  closeOnBackdrop($('details'));
  onRender(renderSummary);
}
