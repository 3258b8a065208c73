// The inventory: refreshing it from the server, and the two lists (virtual machines,
// images) with keyed rendering, so focus survives refreshes. A VM's buttons come from
// actions.js; what they open lives in dialogs/.
import { ACTIONS, allowed, busyLabel } from './actions.js';
import { api } from './api.js';
import { loadVersions } from './connection.js';
import { copyText } from './clipboard.js';
import { $, h, svgIcon, ICONS, appendBreakable } from './dom.js';
import { openClone } from './dialogs/clone.js';
import { confirmDelete } from './dialogs/delete.js';
import { openDetails } from './dialogs/details.js';
import { openRename } from './dialogs/rename.js';
import { openSettings } from './dialogs/settings.js';
import { openStart } from './dialogs/start.js';
import { screenLink } from './screen-link.js';
import { osLabel, cpuLabel, memoryLabel, diskLabel, countText, visibleName } from './format.js';
import { state, invalidate, onRender } from './store.js';
import { busyTaskFor, runAction } from './tasks.js';
import { errorToast } from './toast.js';
import { isImage, statusOf, statusText, sortVms, matchesFilter } from './vms.js';

/** How often the inventory refreshes itself while the page is visible. */
const AUTO_REFRESH_MS = 10000;

/** VM name -> list element, per list (keyed rendering keeps focus). */
const vmEls = new Map();
const imageEls = new Map();
let autoRefreshTimer = null;

function scheduleAutoRefresh() {
  clearTimeout(autoRefreshTimer);
  autoRefreshTimer = setTimeout(async () => {
    // While the event stream is up the server tells every change: no polling.
    if (document.visibilityState === 'visible' && state.online && !state.streaming) {
      await refreshInventory({ quiet: true });
    }
    scheduleAutoRefresh();
  }, AUTO_REFRESH_MS);
}

/** Asks the server to refresh the inventory; `quiet` suppresses the error toast. */
export async function refreshInventory(opts) {
  const quiet = opts && opts.quiet;
  if (state.refreshing) return;
  state.refreshing = true;
  $('refresh-btn').setAttribute('aria-busy', 'true');
  $('refresh-btn').classList.add('is-spinning');
  const askedAt = Date.now();
  try {
    let vms;
    try {
      vms = await api('POST', '/api/vms/refresh', {});
    } catch (err) {
      // A request that got no answer at all is tried once more on a fresh start.
      if (err.network || err.status !== 0) throw err;
      vms = await api('POST', '/api/vms/refresh', {});
    }
    setInventory(vms, askedAt);
    state.lastRefreshError = null;
    // tart answered, so it is there now: let the banner and the header know.
    if (state.tartMissing) loadVersions();
  } catch (err) {
    // A failed refresh still carries the last good list.
    if (err.body && Array.isArray(err.body.vms)) setInventory(err.body.vms, askedAt);
    else if (!state.loaded && !err.network) {
      try {
        setInventory(await api('GET', '/api/vms'), askedAt);
      } catch (_) {
        /* shown below */
      }
    }
    state.lastRefreshError = err.network ? null : err.message;
    // Without tart every refresh fails for the reason the banner already gives.
    if (!quiet && !state.tartMissing) errorToast('Refresh failed', err);
  } finally {
    state.refreshing = false;
    $('refresh-btn').removeAttribute('aria-busy');
    $('refresh-btn').classList.remove('is-spinning');
    renderLastRefresh();
    scheduleAutoRefresh();
  }
}

/**
 * Takes a VM list the page asked for at `askedAt` (Date.now() before the request): a
 * refresh's answer, or the event stream's snapshot.
 */
export function setInventory(vms, askedAt) {
  if (!Array.isArray(vms)) return;
  // Cluster VMs (GET /api/vms with --orchard) are cluster.js's to show.
  state.vms = vms.filter((v) => v && typeof v.name === 'string' && v.backend !== 'orchard');
  state.loaded = true;
  state.lastRefresh = new Date();
  state.vmsAskedAt = askedAt;
  invalidate();
}

function renderLastRefresh() {
  const el = $('last-refresh');
  const error = state.tartMissing ? null : state.lastRefreshError;
  el.classList.toggle('is-error', !!error);
  if (error) {
    el.textContent = 'Last refresh failed: ' + error;
  } else if (state.lastRefresh && !state.tartMissing) {
    el.textContent = 'Updated ' + state.lastRefresh.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  } else {
    el.textContent = '';
  }
}

/** Draws both lists, counts, empty states and the toolbar from `state`. */
function renderInventory() {
  const locals = state.vms.filter((v) => !isImage(v));
  const images = state.vms.filter(isImage);
  const filtering = !!(state.filterText.trim() || state.filterStatus);
  const keep = (vm) => matchesFilter(vm, state.filterText, state.filterStatus);

  $('vms-loading').hidden = state.loaded;
  const shownLocals = sortVms(locals.filter(keep), state.sort);
  const shownImages = sortVms(images.filter(keep), state.sort);

  renderList($('vm-list'), vmEls, shownLocals, false);
  renderList($('image-list'), imageEls, shownImages, true);

  $('vms-count').textContent = state.loaded ? countText(shownLocals.length, locals.length) : '';
  $('images-count').textContent = state.loaded ? countText(shownImages.length, images.length) : '';

  const nothingAtAll = state.loaded && state.vms.length === 0;
  // Without tart, "pull an image" is no advice: the banner says what to do instead.
  const noTart = nothingAtAll && state.tartMissing;
  $('empty-notart').hidden = !noTart;
  $('empty-all').hidden = !nothingAtAll || noTart;
  $('images-section').hidden = nothingAtAll;
  $('empty-vms').hidden = !(state.loaded && !nothingAtAll && locals.length === 0);
  $('empty-images').hidden = !(state.loaded && images.length === 0);
  const filteredAway = filtering && state.loaded && locals.length > 0 && shownLocals.length === 0;
  $('empty-filter').hidden = !filteredAway;
  if (filteredAway) $('empty-filter-text').textContent = 'No virtual machine matches the filter.';

  for (const el of document.querySelectorAll('.toolbar .field, .toolbar .segmented')) el.hidden = nothingAtAll;
  document.querySelector('.list-header').hidden = state.view !== 'list' || shownLocals.length === 0;
  for (const list of [$('vm-list'), $('image-list')]) {
    list.classList.toggle('view-cards', state.view !== 'list');
    list.classList.toggle('view-list', state.view === 'list');
  }
  $('view-cards').setAttribute('aria-pressed', String(state.view !== 'list'));
  $('view-list').setAttribute('aria-pressed', String(state.view === 'list'));

  $('refresh-btn').disabled = !state.online;
  $('pull-btn').disabled = !state.online || state.tartMissing;
  $('empty-pull-btn').disabled = !state.online;
  renderLastRefresh();
}

/** Keyed rendering: existing elements are updated in place so focus survives refreshes. */
function renderList(listEl, elMap, vms, images) {
  const seen = new Set();
  let prev = null;
  for (const vm of vms) {
    seen.add(vm.name);
    let el = elMap.get(vm.name);
    if (!el) {
      el = createVmItem(vm.name, images);
      elMap.set(vm.name, el);
    }
    updateVmItem(el, vm, images);
    const expectedNext = prev ? prev.nextElementSibling : listEl.firstElementChild;
    if (expectedNext !== el) {
      if (prev) prev.after(el);
      else listEl.prepend(el);
    }
    prev = el;
  }
  for (const [name, el] of elMap) {
    if (!seen.has(name)) {
      // Keyboard users keep their place: focus moves to the list's heading
      // when the focused VM goes away (after a delete, for example).
      const hadFocus = el.contains(document.activeElement);
      el.remove();
      elMap.delete(name);
      if (hadFocus) {
        const heading = listEl.closest('section').querySelector('h2');
        heading.setAttribute('tabindex', '-1');
        heading.focus();
      }
    }
  }
}

function actionButton(kind, label, name, onClick) {
  const btn = h('button', {
    type: 'button',
    class: 'btn btn-small btn-' + kind,
    'aria-label': label + ' ' + name,
    dataset: { action: kind },
  });
  btn.append(svgIcon(ICONS[kind]), h('span', { text: label }));
  btn.addEventListener('click', onClick);
  return btn;
}

function fact(cls, label, valueEl) {
  return h('div', { class: 'fact fact-' + cls }, [h('dt', { text: label }), h('dd', {}, [valueEl])]);
}

function createVmItem(name, image) {
  const li = h('li', { class: 'vm' + (image ? ' is-image' : '') });
  const nameEl = h('span', { class: 'vm-name-text', title: visibleName(name) });
  // Digest references are long: show the first 12 hex digits, the title has them all.
  appendBreakable(nameEl, image ? name.replace(/(@sha256:[0-9a-f]{12})[0-9a-f]{52}$/, '$1…') : name);
  const head = h('div', { class: 'vm-head' }, [
    h('h3', { class: 'vm-name' }, [h('span', { class: 'status-dot', 'aria-hidden': 'true' }), nameEl]),
    h('span', { class: 'status-pill' }),
  ]);

  const ipCode = h('code', { class: 'ip-text' });
  const copyBtn = h('button', { type: 'button', class: 'btn btn-icon btn-quiet copy-btn', 'aria-label': 'Copy IP address of ' + name, title: 'Copy IP address' });
  copyBtn.append(svgIcon(ICONS.copy));
  copyBtn.addEventListener('click', () => copyText(ipCode.textContent, copyBtn, 'IP address'));
  const ipWrap = h('span', { class: 'ip' }, [ipCode, copyBtn]);

  const facts = h('dl', { class: 'vm-facts' }, [
    fact('os', 'OS', h('span', { class: 'v-os' })),
    fact('cpu', 'CPU', h('span', { class: 'v-cpu' })),
    fact('mem', 'Memory', h('span', { class: 'v-mem' })),
    fact('disk', 'Disk', h('span', { class: 'v-disk' })),
    fact('ip', 'IP address', ipWrap),
  ]);

  const busy = h('p', { class: 'vm-busy', hidden: true }, [
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    h('span', { class: 'vm-busy-text' }),
  ]);

  const actions = h('div', { class: 'vm-actions', role: 'group', 'aria-label': 'Actions for ' + name });
  if (image) {
    // An image is for making VMs: Clone is its main action.
    const clone = actionButton('clone', 'Clone', name, () => openClone(name));
    clone.classList.add('btn-primary');
    actions.append(clone);
  } else {
    actions.append(
      actionButton('start', ACTIONS.start_vm.label, name, () => runAction('start_vm', name)),
      actionButton('stop', ACTIONS.stop_vm.label, name, () => runAction('stop_vm', name)),
      actionButton('suspend', ACTIONS.suspend_vm.label, name, () => runAction('suspend_vm', name)),
      screenLink(name),
    );
  }
  actions.append(actionButton('delete', ACTIONS.delete_vm.label, name, () => confirmDelete(name)));
  if (!image) {
    actions.append(actionButton('details', 'Details', name, () => openDetails(name)));
    // The rarer changes live in a small menu.
    const menu = h('details', { class: 'lc-menu' }, [
      h('summary', { class: 'btn btn-small', 'aria-label': 'More actions for ' + name, text: 'More' }),
      h('div', { class: 'lc-menu-items', role: 'group', 'aria-label': 'More actions for ' + name }, [
        actionButton('start-options', 'Start with options…', name, () => menuDo(menu, () => openStart(name))),
        // Asks the guest OS to shut down; tart stop follows if it has not after a minute.
        actionButton('shutdown', 'Shut down', name, () =>
          menuDo(menu, () => runAction('stop_vm', name, { graceful: true })),
        ),
        actionButton('clone', 'Clone', name, () => menuDo(menu, () => openClone(name))),
        actionButton('settings', 'Settings', name, () => menuDo(menu, () => openSettings(name))),
        actionButton('rename', 'Rename', name, () => menuDo(menu, () => openRename(name))),
      ]),
    ]);
    actions.append(menu);
  }

  li.append(head, facts, busy, actions);
  return li;
}

function updateVmItem(li, vm, image) {
  const s = statusOf(vm);
  const label = statusText(vm);
  li.dataset.status = s;
  li.dataset.name = vm.name;
  const pill = li.querySelector('.status-pill');
  pill.textContent = image ? 'image' : label;
  pill.className = 'status-pill status-' + (image ? 'image' : label);

  li.querySelector('.v-os').textContent = osLabel(vm.os);
  li.querySelector('.v-cpu').textContent = cpuLabel(vm.cpu);
  li.querySelector('.v-mem').textContent = memoryLabel(vm.memory);
  li.querySelector('.v-disk').textContent = diskLabel(vm.disk_size);
  const ip = vm.ip_address ? String(vm.ip_address) : '';
  li.querySelector('.ip-text').textContent = ip || '—';
  li.querySelector('.copy-btn').hidden = !ip;
  li.classList.toggle('has-ip', !!ip);
  li.classList.toggle('no-os', !vm.os);

  const task = busyTaskFor(vm.name);
  const busy = !!task;
  li.classList.toggle('is-busy', busy);
  const busyEl = li.querySelector('.vm-busy');
  busyEl.hidden = !busy;
  if (busy) li.querySelector('.vm-busy-text').textContent = busyLabel(task.action);

  const off = !state.online || busy;
  const start = li.querySelector('[data-action="start"]');
  const stop = li.querySelector('[data-action="stop"]');
  const del = li.querySelector('[data-action="delete"]');
  if (start) {
    // Start and stop share one spot: only what is possible is offered,
    // except for "unknown", where either may be right. A suspended VM resumes.
    const suspended = vm.state === 'suspended';
    start.hidden = !allowed(vm, 'start');
    stop.hidden = !allowed(vm, 'stop') || (s === 'stopped' && !suspended);
    start.querySelector('span').textContent = suspended ? 'Resume' : ACTIONS.start_vm.label;
    start.setAttribute('aria-label', (suspended ? 'Resume ' : 'Start ') + vm.name);
    start.disabled = off;
    stop.disabled = off;
    const suspend = li.querySelector('[data-action="suspend"]');
    suspend.hidden = !allowed(vm, 'suspend');
    suspend.disabled = off;
    const withOptions = li.querySelector('[data-action="start-options"]');
    withOptions.disabled = off || !allowed(vm, 'start');
    const shutdown = li.querySelector('[data-action="shutdown"]');
    shutdown.disabled = off || s !== 'running' || !allowed(vm, 'stop');
    shutdown.title = shutdown.disabled && !off ? 'Only a running VM can shut down' : 'Ask the guest OS to shut down';
    for (const kind of ['clone', 'settings', 'rename']) {
      const btn = li.querySelector('[data-action="' + kind + '"]');
      btn.disabled = off || !allowed(vm, kind);
      btn.title = btn.disabled && !off ? (s === 'running' ? 'Stop the VM first' : 'Not possible now') : '';
    }
  } else {
    li.querySelector('[data-action="clone"]').disabled = off;
  }
  del.disabled = off || !allowed(vm, 'delete');
  const screen = li.querySelector('[data-action="screen"]');
  if (screen) screen.hidden = s !== 'running';
  del.disabled = off || s === 'running';
  del.title = s === 'running' ? 'Stop the VM before deleting it' : '';
}

/** Closes a VM's More menu, then does `what`. */
function menuDo(menu, what) {
  menu.open = false;
  what();
}

/** Registers the renderer; call once at start (the first refresh starts the auto-refresh). */
export function initInventory() {
  onRender(renderInventory);
}
