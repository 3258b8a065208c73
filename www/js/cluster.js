// The Orchard cluster (api-next §8): a Workers panel and the cluster's VMs, shown only
// when the server has an Orchard backend (`/api/health` lists it under `backends`).
// Both lists are polled; a cluster VM's buttons are the actions the server lists for it
// (Orchard cannot start a stopped VM, clone it or change its size, so those never
// appear). Stop is one-way on Orchard: its button asks once more before it acts.
// A small form creates a VM on the cluster (its task follows Orchard's stages).
// Everything from the cluster is rendered with textContent.
import { api, vmPath } from './api.js';
import { $, h, svgIcon, ICONS } from './dom.js';
import { on, state } from './store.js';
import { addTask } from './tasks.js';
import { errorToast } from './toast.js';

/** How often the cluster's workers and VMs are read while the page is visible. */
const CLUSTER_REFRESH_MS = 3000;

/** How long a "confirm" button waits for its second click. */
const CONFIRM_MS = 5000;

let timer = null;

/** "4 / 10" with a unit, or "—" when the worker does not report the total. */
function usage(used, total, unit) {
  if (total === null || total === undefined) return '—';
  return used + ' / ' + total + (unit ? ' ' + unit : '');
}

function gb(mb) {
  return mb === null || mb === undefined ? mb : Math.round((mb / 1024) * 10) / 10;
}

function workerRow(w) {
  const online = w.online ? (w.paused ? 'paused' : 'online') : 'offline';
  const seen = w.last_seen ? 'last seen ' + new Date(w.last_seen).toLocaleString() : '';
  return h('tr', { class: 'worker', dataset: { name: w.name, state: online } }, [
    h('th', { scope: 'row', class: 'w-name', text: w.name }),
    h('td', { class: 'w-state' }, [
      h('span', { class: 'status-pill status-' + (online === 'online' ? 'running' : 'unknown'), text: online }),
      h('span', { class: 'w-seen', text: seen }),
    ]),
    h('td', { class: 'w-cpu', text: usage(w.cpu_used, w.cpu_total, 'cores') }),
    h('td', { class: 'w-memory', text: usage(gb(w.memory_used_mb), gb(w.memory_total_mb), 'GB') }),
    h('td', { class: 'w-slots', text: usage(w.vms_used, w.vms_total, '') }),
  ]);
}

/** A button that acts on the second click within CONFIRM_MS. */
function twoStep(label, confirmLabel, name, icon, act) {
  const btn = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': label + ' ' + name }, [
    svgIcon(ICONS[icon]),
    h('span', { text: label }),
  ]);
  let armed = null;
  btn.addEventListener('click', () => {
    if (!armed) {
      btn.lastChild.textContent = confirmLabel;
      btn.classList.add('btn-danger');
      armed = setTimeout(() => {
        armed = null;
        btn.lastChild.textContent = label;
        btn.classList.remove('btn-danger');
      }, CONFIRM_MS);
      return;
    }
    clearTimeout(armed);
    armed = null;
    btn.disabled = true;
    act();
  });
  return btn;
}

async function clusterAction(kind, name) {
  try {
    addTask(await api('POST', vmPath(name, '/' + kind + '?backend=orchard'), {}));
    refreshCluster();
  } catch (err) {
    errorToast(kind === 'stop' ? 'Stop ' + name + ' failed' : 'Delete ' + name + ' failed', err);
  }
}

function vmRow(vm) {
  const status = vm.status === 'running' || vm.status === 'stopped' ? vm.status : 'unknown';
  const word = status === 'unknown' ? String(vm.state || 'unknown') : status;
  const actions = Array.isArray(vm.actions) ? vm.actions : [];
  const buttons = [];
  if (actions.includes('stop')) {
    buttons.push(twoStep('Stop', 'Stop for good?', vm.name, 'stop', () => clusterAction('stop', vm.name)));
  }
  if (actions.includes('delete')) {
    buttons.push(twoStep('Delete', 'Really delete?', vm.name, 'delete', () => clusterAction('delete', vm.name)));
  }
  return h('li', { class: 'vm cluster-vm', dataset: { name: vm.name, status } }, [
    h('div', { class: 'vm-head' }, [
      h('span', { class: 'vm-name-text', text: vm.name }),
      h('span', { class: 'status-pill status-' + (word === 'failed' ? 'failed' : status), text: word }),
    ]),
    h('p', { class: 'c-worker', text: vm.worker ? 'on ' + vm.worker : 'no worker yet' }),
    h('p', { class: 'c-message', text: vm.status_message || '' }),
    h('p', { class: 'c-image', text: vm.image || '' }),
    h('div', { class: 'vm-actions' }, buttons),
  ]);
}

function render(health, workers, vms) {
  $('cluster-section').hidden = false;
  const ok = health === 'ok';
  const note = $('cluster-health');
  note.textContent = ok ? 'Orchard controller connected.' : 'Orchard: ' + health;
  note.classList.toggle('is-error', !ok);
  $('workers-body').replaceChildren(...workers.map(workerRow));
  $('workers-empty').hidden = workers.length > 0;
  $('cluster-vm-list').replaceChildren(...vms.map(vmRow));
  $('cluster-vms-empty').hidden = vms.length > 0;
  $('cluster-count').textContent = String(vms.length);
}

/** Reads the cluster's state from the server and shows it. */
export async function refreshCluster() {
  clearTimeout(timer);
  try {
    const health = await api('GET', '/api/health');
    const orchard = health && health.backends && health.backends.orchard;
    if (orchard === undefined) {
      $('cluster-section').hidden = true;
      return; // no cluster configured: nothing to poll
    }
    const [workers, all] = await Promise.all([api('GET', '/api/workers'), api('GET', '/api/vms')]);
    const vms = (Array.isArray(all) ? all : []).filter((v) => v && v.backend === 'orchard');
    render(String(orchard), Array.isArray(workers) ? workers : [], vms);
  } catch (_) {
    /* the connection banner says why; try again later */
  }
  timer = setTimeout(() => {
    if (document.visibilityState === 'visible' && state.online) refreshCluster();
    else timer = setTimeout(refreshCluster, CLUSTER_REFRESH_MS);
  }, CLUSTER_REFRESH_MS);
}

/** The create form: a headless VM from an image, placed by Orchard's scheduler. */
async function submitCreate(ev) {
  ev.preventDefault();
  const name = $('cluster-create-name').value.trim();
  const image = $('cluster-create-image').value.trim();
  const error = $('cluster-create-error');
  error.hidden = true;
  $('cluster-create-btn').disabled = true;
  try {
    addTask(await api('POST', '/api/vms/create', { backend: 'orchard', name, source_vm: image }));
    $('cluster-create-name').value = '';
    refreshCluster();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    $('cluster-create-btn').disabled = false;
  }
}

export function initCluster() {
  on('task-finished', () => refreshCluster());
  $('cluster-create-form').addEventListener('submit', submitCreate);
  refreshCluster();
}
