// taartenfabriek web UI.
//
// Plain JavaScript, no build step, no dependencies: it ships inside the server
// binary and must work offline under a strict Content-Security-Policy (no inline
// scripts or styles). Every value that came from tart or a user is rendered with
// textContent, never as HTML.
'use strict';

(function () {
  // ---------------------------------------------------------------- constants

  /** How often the inventory refreshes itself while the page is visible. */
  const AUTO_REFRESH_MS = 10000;
  /** How often the server's health is checked while everything is fine. */
  const HEARTBEAT_MS = 4000;
  /** How often the server is retried while it is unreachable. */
  const RECONNECT_MS = 2000;
  /** How often a task is polled when its WebSocket is not available. */
  const TASK_POLL_MS = 1000;
  /** Longest an API call may take before the page gives up on it (a refresh runs tart). */
  const API_TIMEOUT_MS = 10000;
  /** Longest the heartbeat waits for /api/health. */
  const HEALTH_TIMEOUT_MS = 5000;
  /** Log lines kept per task in the page (the server caps them too). */
  const MAX_LOG_LINES = 2000;
  /** How long informational toasts stay; errors stay twice as long. */
  const TOAST_MS = 6000;
  const STORAGE_VIEW = 'taartenfabriek.view';
  const STORAGE_SORT = 'taartenfabriek.sort';
  const SESSION_TASKS = 'taartenfabriek.tasks';

  const ACTION_LABELS = {
    start_vm: 'Start',
    stop_vm: 'Stop',
    delete_vm: 'Delete',
    pull_vm: 'Pull',
    clone_vm: 'Clone',
    create_vm: 'Create',
  };
  const BUSY_LABELS = {
    start_vm: 'Starting…',
    stop_vm: 'Stopping…',
    delete_vm: 'Deleting…',
    pull_vm: 'Pulling…',
    clone_vm: 'Cloning…',
    create_vm: 'Creating…',
  };
  const STATUS_ORDER = { running: 0, unknown: 1, stopped: 2 };

  // ---------------------------------------------------------------- state

  const tokenMeta = document.querySelector('meta[name="taartenfabriek-token"]');
  const TOKEN = tokenMeta ? tokenMeta.getAttribute('content') || '' : '';

  const state = {
    vms: [],
    loaded: false,
    online: true,
    authFailed: false,
    view: readStorage(localStorage, STORAGE_VIEW, 'cards'),
    sort: readStorage(localStorage, STORAGE_SORT, 'name'),
    filterText: '',
    filterStatus: '',
    /** task id -> { task, el, ws, pollTimer, mode } */
    tasks: new Map(),
    /** VM name -> list element, per list (keyed rendering keeps focus). */
    vmEls: new Map(),
    imageEls: new Map(),
    detailsName: null,
    deleteName: null,
    refreshing: false,
    lastRefresh: null,
    lastRefreshError: null,
  };

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  function readStorage(store, key, fallback) {
    try {
      const v = store.getItem(key);
      return v === null ? fallback : v;
    } catch (_) {
      return fallback;
    }
  }

  function writeStorage(store, key, value) {
    try {
      store.setItem(key, value);
    } catch (_) {
      /* private mode or quota: remembering is a nicety */
    }
  }

  /** Creates an element; `text` is always set as textContent. */
  function h(tag, opts, children) {
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

  function svgIcon(pathD, extraClass) {
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

  const ICONS = {
    start: 'M5 3.5v9l7-4.5z',
    stop: 'M4.5 4.5h7v7h-7z',
    delete: 'M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5',
    details: 'M8 7.5v4M8 4.8v.2M14 8A6 6 0 1 1 2 8a6 6 0 0 1 12 0z',
    copy: 'M5.5 5.5h7v7h-7zM3.5 10.5v-7h7',
    check: 'M3.5 8.5l3 3 6-7',
  };

  function announce(text) {
    const el = $('announcer');
    el.textContent = '';
    // A fresh text node in a later frame makes screen readers speak repeats too.
    requestAnimationFrame(() => {
      el.textContent = text;
    });
  }

  function formatTime(unixSecs) {
    if (typeof unixSecs !== 'number' || !isFinite(unixSecs)) return '';
    const d = new Date(unixSecs * 1000);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function osLabel(os) {
    if (!os) return '—';
    const o = String(os).toLowerCase();
    if (o === 'darwin' || o === 'macos') return 'macOS';
    if (o === 'linux') return 'Linux';
    return String(os);
  }

  function diskLabel(d) {
    if (d === null || d === undefined || d === '') return '—';
    if (typeof d === 'number') return d + ' GB';
    const s = String(d);
    const m = /^(\d+(?:\.\d+)?)\s*G(?:B)?$/i.exec(s);
    if (m) return m[1] + ' GB';
    if (/^\d+(?:\.\d+)?$/.test(s)) return s + ' GB';
    return s;
  }

  function memoryLabel(m) {
    if (m === null || m === undefined || m === '') return '—';
    if (typeof m === 'number') return m + ' MB';
    const s = String(m);
    const g = /^(\d+(?:\.\d+)?)\s*G(?:B|iB)?$/i.exec(s);
    if (g) return g[1] + ' GB';
    const mm = /^(\d+(?:\.\d+)?)\s*M(?:B|iB)?$/i.exec(s);
    if (mm) return mm[1] + ' MB';
    return s;
  }

  function cpuLabel(c) {
    if (c === null || c === undefined || c === '') return '—';
    const n = Number(c);
    if (Number.isFinite(n)) return n === 1 ? '1 core' : n + ' cores';
    return String(c);
  }

  function isImage(vm) {
    const src = vm && vm.source ? String(vm.source).toLowerCase() : '';
    return src === 'oci';
  }

  function statusOf(vm) {
    const s = vm && vm.status;
    return s === 'running' || s === 'stopped' ? s : 'unknown';
  }

  /** What to show in the status pill: tart's own state when it says more. */
  function statusText(vm) {
    const s = statusOf(vm);
    if (vm && vm.state === 'suspended' && s !== 'running') return 'suspended';
    return s;
  }

  function isTerminal(status) {
    return status === 'completed' || status === 'failed';
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, status, body, network) {
      super(message);
      this.status = status;
      this.body = body;
      this.network = !!network;
    }
  }

  /** Turns an error body into one readable sentence (plain or FastAPI 422). */
  function detailText(body, status) {
    if (body && typeof body === 'object') {
      const d = body.detail;
      if (typeof d === 'string' && d.trim()) return d;
      if (Array.isArray(d) && d.length) {
        return d
          .map((item) => {
            if (!item || typeof item !== 'object') return String(item);
            const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== 'body') : [];
            const msg = item.msg || item.type || 'invalid value';
            return loc.length ? loc.join('.') + ': ' + msg : msg;
          })
          .join('; ');
      }
      if (d && typeof d === 'object') return JSON.stringify(d);
    }
    if (status === 0) return 'The server could not be reached.';
    return 'The server answered HTTP ' + status + '.';
  }

  async function api(method, path, body, timeoutMs) {
    const headers = { 'X-Local-Token': TOKEN, Accept: 'application/json' };
    const ctrl = new AbortController();
    const limit = timeoutMs || API_TIMEOUT_MS;
    const timer = setTimeout(() => ctrl.abort(), limit);
    const init = { method, headers, cache: 'no-store', credentials: 'omit', signal: ctrl.signal };
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    let text = '';
    try {
      res = await fetch(path, init);
      text = await res.text();
    } catch (e) {
      if (ctrl.signal.aborted) {
        // Slow is not gone: the heartbeat decides about "offline".
        throw new ApiError('The server did not answer within ' + Math.round(limit / 1000) + ' s.', 0, null, false);
      }
      setOnline(false);
      throw new ApiError('The server could not be reached.', 0, null, true);
    } finally {
      clearTimeout(timer);
    }
    setOnline(true);
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (res.status === 401) showAuthFailed();
    if (!res.ok) throw new ApiError(detailText(data, res.status), res.status, data);
    return data;
  }

  const vmPath = (name, suffix) => '/api/vms/' + encodeURIComponent(name) + (suffix || '');

  // ---------------------------------------------------------------- toasts

  function toast(message, kind) {
    const isError = kind === 'error';
    const el = h('div', { class: 'toast toast-' + (kind || 'info'), role: isError ? 'alert' : 'status' }, [
      h('span', { class: 'toast-text', text: message }),
    ]);
    const close = h('button', { type: 'button', class: 'btn btn-icon btn-quiet', 'aria-label': 'Dismiss message' });
    close.append(svgIcon('M4 4l8 8M12 4l-8 8'));
    close.addEventListener('click', () => el.remove());
    el.append(close);
    $('toasts').append(el);
    setTimeout(() => el.remove(), isError ? TOAST_MS * 2 : TOAST_MS);
    while ($('toasts').children.length > 4) $('toasts').firstElementChild.remove();
  }

  function errorToast(prefix, err) {
    if (err && err.network) return; // the offline banner says it already
    toast(prefix + ': ' + (err && err.message ? err.message : String(err)), 'error');
  }

  // ---------------------------------------------------------------- online / offline

  let heartbeatTimer = null;

  function setOnline(online) {
    if (online === state.online) return;
    state.online = online;
    document.body.classList.toggle('is-offline', !online);
    $('offline-banner').hidden = online;
    updateConn();
    renderAll();
    scheduleHeartbeat();
    if (online) {
      announce('Connection to the server restored.');
      // Catch up with whatever happened while we were away.
      loadVersions();
      refreshInventory({ quiet: true });
      for (const entry of state.tasks.values()) {
        if (!isTerminal(entry.task.status)) follow(entry.task.id);
      }
    }
  }

  function updateConn() {
    const conn = $('conn');
    conn.classList.toggle('is-offline', !state.online);
    $('conn-text').textContent = state.online ? 'Connected' : 'Offline';
  }

  function scheduleHeartbeat() {
    clearTimeout(heartbeatTimer);
    heartbeatTimer = setTimeout(heartbeat, state.online ? HEARTBEAT_MS : RECONNECT_MS);
  }

  async function heartbeat() {
    try {
      await api('GET', '/api/health', undefined, HEALTH_TIMEOUT_MS);
    } catch (err) {
      // A server that no longer answers at all counts as gone.
      if (!err.network && err.status === 0) setOnline(false);
    }
    scheduleHeartbeat();
  }

  function showAuthFailed() {
    if (state.authFailed) return;
    state.authFailed = true;
    $('auth-banner').hidden = false;
  }

  // ---------------------------------------------------------------- versions / tart banner

  async function loadVersions() {
    const parts = [];
    try {
      const health = await api('GET', '/api/health');
      if (health && health.version) parts.push('v' + health.version);
    } catch (_) {
      /* offline handling covers it */
    }
    try {
      const tart = await api('GET', '/api/tart/version');
      $('tart-banner').hidden = true;
      if (tart && tart.version) parts.push('tart ' + tart.version);
    } catch (err) {
      if (!err.network && err.status !== 401) {
        $('tart-banner-detail').textContent = err.message;
        $('tart-banner').hidden = false;
      }
    }
    $('versions').textContent = parts.join(' · ');
  }

  // ---------------------------------------------------------------- inventory

  let autoRefreshTimer = null;

  function scheduleAutoRefresh() {
    clearTimeout(autoRefreshTimer);
    autoRefreshTimer = setTimeout(async () => {
      if (document.visibilityState === 'visible' && state.online) {
        await refreshInventory({ quiet: true });
      }
      scheduleAutoRefresh();
    }, AUTO_REFRESH_MS);
  }

  async function refreshInventory(opts) {
    const quiet = opts && opts.quiet;
    if (state.refreshing) return;
    state.refreshing = true;
    $('refresh-btn').setAttribute('aria-busy', 'true');
    $('refresh-btn').classList.add('is-spinning');
    try {
      let vms;
      try {
        vms = await api('POST', '/api/vms/refresh', {});
      } catch (err) {
        // A request that got no answer at all is tried once more on a fresh start.
        if (err.network || err.status !== 0) throw err;
        vms = await api('POST', '/api/vms/refresh', {});
      }
      setInventory(vms);
      state.lastRefreshError = null;
    } catch (err) {
      // A failed refresh still carries the last good list.
      if (err.body && Array.isArray(err.body.vms)) setInventory(err.body.vms);
      else if (!state.loaded && !err.network) {
        try {
          setInventory(await api('GET', '/api/vms'));
        } catch (_) {
          /* shown below */
        }
      }
      state.lastRefreshError = err.network ? null : err.message;
      if (!quiet) errorToast('Refresh failed', err);
    } finally {
      state.refreshing = false;
      $('refresh-btn').removeAttribute('aria-busy');
      $('refresh-btn').classList.remove('is-spinning');
      renderLastRefresh();
      scheduleAutoRefresh();
    }
  }

  function setInventory(vms) {
    if (!Array.isArray(vms)) return;
    state.vms = vms.filter((v) => v && typeof v.name === 'string');
    state.loaded = true;
    state.lastRefresh = new Date();
    renderAll();
  }

  function renderLastRefresh() {
    const el = $('last-refresh');
    el.classList.toggle('is-error', !!state.lastRefreshError);
    if (state.lastRefreshError) {
      el.textContent = 'Last refresh failed: ' + state.lastRefreshError;
    } else if (state.lastRefresh) {
      el.textContent =
        'Updated ' + state.lastRefresh.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    } else {
      el.textContent = '';
    }
  }

  /** The running (non-terminal) task on a VM, if any. */
  function busyTaskFor(name) {
    let found = null;
    for (const entry of state.tasks.values()) {
      const t = entry.task;
      if (t.vm_name === name && !isTerminal(t.status)) {
        if (!found || (t.created_at || 0) > (found.created_at || 0)) found = t;
      }
    }
    return found;
  }

  function sortVms(list) {
    const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const copy = list.slice();
    if (state.sort === 'name-desc') copy.sort((a, b) => byName(b, a));
    else if (state.sort === 'status')
      copy.sort((a, b) => STATUS_ORDER[statusOf(a)] - STATUS_ORDER[statusOf(b)] || byName(a, b));
    else copy.sort(byName);
    return copy;
  }

  function matchesFilter(vm) {
    const text = state.filterText.trim().toLowerCase();
    if (text && !vm.name.toLowerCase().includes(text)) return false;
    if (state.filterStatus && statusOf(vm) !== state.filterStatus) return false;
    return true;
  }

  function renderAll() {
    const locals = state.vms.filter((v) => !isImage(v));
    const images = state.vms.filter(isImage);
    const filtering = !!(state.filterText.trim() || state.filterStatus);

    $('vms-loading').hidden = state.loaded;
    const shownLocals = sortVms(locals.filter(matchesFilter));
    const shownImages = sortVms(images.filter(matchesFilter));

    renderList($('vm-list'), state.vmEls, shownLocals, false);
    renderList($('image-list'), state.imageEls, shownImages, true);

    $('vms-count').textContent = state.loaded ? countText(shownLocals.length, locals.length) : '';
    $('images-count').textContent = state.loaded ? countText(shownImages.length, images.length) : '';

    const nothingAtAll = state.loaded && state.vms.length === 0;
    $('empty-all').hidden = !nothingAtAll;
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
    $('pull-btn').disabled = !state.online;
    $('empty-pull-btn').disabled = !state.online;

    if (state.detailsName !== null) renderDetailsSummary();
  }

  function countText(shown, total) {
    return shown === total ? String(total) : shown + ' of ' + total;
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
    const nameEl = h('span', { class: 'vm-name-text', title: name });
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
    if (!image) {
      actions.append(
        actionButton('start', 'Start', name, () => startAction('start', name)),
        actionButton('stop', 'Stop', name, () => startAction('stop', name)),
      );
    }
    actions.append(actionButton('delete', 'Delete', name, () => confirmDelete(name)));
    if (!image) actions.append(actionButton('details', 'Details', name, () => openDetails(name)));

    li.append(head, facts, busy, actions);
    return li;
  }

  /** Text with line-break chances after "/" and before ":" or "@" (long OCI references). */
  function appendBreakable(el, text) {
    const parts = String(text).split(/(?<=\/)|(?=[:@])/);
    parts.forEach((part, i) => {
      if (i > 0) el.append(document.createElement('wbr'));
      el.append(document.createTextNode(part));
    });
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
    if (busy) li.querySelector('.vm-busy-text').textContent = BUSY_LABELS[task.action] || 'Working…';

    const off = !state.online || busy;
    const start = li.querySelector('[data-action="start"]');
    const stop = li.querySelector('[data-action="stop"]');
    const del = li.querySelector('[data-action="delete"]');
    if (start) {
      // Start and stop share one spot: only what is possible is offered,
      // except for "unknown", where either may be right.
      start.hidden = s === 'running';
      stop.hidden = s === 'stopped';
      start.disabled = off;
      stop.disabled = off;
    }
    del.disabled = off || s === 'running';
    del.title = s === 'running' ? 'Stop the VM before deleting it' : '';
  }

  // ---------------------------------------------------------------- clipboard

  async function copyText(text, button, what) {
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
      setTimeout(() => button.classList.remove('is-copied'), 1500);
      announce((what || 'Text') + ' copied: ' + text);
    } else {
      toast('Could not copy to the clipboard. Select the text and copy it by hand.', 'error');
    }
  }

  // ---------------------------------------------------------------- actions

  /** Marks a VM busy before the server has answered, so double clicks do nothing. */
  function placeholderTask(action, name) {
    const id = 'pending-' + Math.random().toString(36).slice(2);
    const entry = {
      task: { id, action, status: 'pending', vm_name: name, created_at: Date.now() / 1000, logs: [] },
      placeholder: true,
    };
    state.tasks.set(id, entry);
    renderAll();
    return id;
  }

  function dropPlaceholder(id) {
    state.tasks.delete(id);
    renderAll();
  }

  async function startAction(kind, name) {
    const action = kind + '_vm';
    const ph = placeholderTask(action, name);
    try {
      const task = await api('POST', vmPath(name, '/' + kind), {});
      dropPlaceholder(ph);
      addTask(task);
      announce(ACTION_LABELS[action] + ' ' + name + ': started.');
    } catch (err) {
      dropPlaceholder(ph);
      errorToast(ACTION_LABELS[action] + ' ' + name + ' failed', err);
    }
  }

  function confirmDelete(name) {
    state.deleteName = name;
    $('delete-name').textContent = '\u201c' + name + '\u201d';
    $('delete-name-2').textContent = '\u201c' + name + '\u201d';
    const dlg = $('delete-dialog');
    dlg.returnValue = '';
    dlg.showModal();
    $('delete-cancel').focus();
  }

  $('delete-dialog').addEventListener('close', () => {
    const dlg = $('delete-dialog');
    const name = state.deleteName;
    state.deleteName = null;
    if (dlg.returnValue === 'delete' && name !== null) startAction('delete', name);
  });

  // ---------------------------------------------------------------- pull dialog

  function openPull() {
    const dlg = $('pull-dialog');
    $('pull-error').hidden = true;
    $('pull-error').textContent = '';
    $('pull-ref').removeAttribute('aria-invalid');
    $('pull-submit').disabled = false;
    dlg.showModal();
    $('pull-ref').focus();
    $('pull-ref').select();
  }

  function showPullError(message) {
    $('pull-error').textContent = message;
    $('pull-error').hidden = false;
    $('pull-ref').setAttribute('aria-invalid', 'true');
    $('pull-ref').focus();
  }

  $('pull-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ref = $('pull-ref').value.trim();
    if (!ref) {
      showPullError('Enter an image reference, for example ghcr.io/cirruslabs/ubuntu:latest.');
      return;
    }
    $('pull-submit').disabled = true;
    $('pull-submit').setAttribute('aria-busy', 'true');
    try {
      const task = await api('POST', '/api/vms/pull', { oci_url: ref });
      $('pull-dialog').close();
      addTask(task);
      announce('Pull of ' + ref + ' started.');
    } catch (err) {
      showPullError(err.network ? 'The server could not be reached. Try again when it is back.' : err.message);
    } finally {
      $('pull-submit').disabled = false;
      $('pull-submit').removeAttribute('aria-busy');
    }
  });

  $('pull-ref').addEventListener('input', () => {
    if (!$('pull-error').hidden) {
      $('pull-error').hidden = true;
      $('pull-ref').removeAttribute('aria-invalid');
    }
  });

  for (const chip of document.querySelectorAll('.chip[data-ref]')) {
    chip.addEventListener('click', () => {
      $('pull-ref').value = chip.dataset.ref;
      $('pull-ref').dispatchEvent(new Event('input'));
      $('pull-ref').focus();
    });
  }

  $('pull-cancel').addEventListener('click', () => $('pull-dialog').close());
  $('pull-btn').addEventListener('click', openPull);
  $('empty-pull-btn').addEventListener('click', openPull);

  // ---------------------------------------------------------------- details panel

  async function openDetails(name) {
    state.detailsName = name;
    $('details-name').textContent = name;
    $('details-raw').textContent = '';
    $('details-facts').replaceChildren();
    renderDetailsSummary();
    $('details').showModal();
    $('details-close').focus();
    await loadConfig(false);
  }

  function renderDetailsSummary() {
    const vm = state.vms.find((v) => v.name === state.detailsName);
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
    const name = state.detailsName;
    if (name === null) return;
    const msg = $('details-msg');
    msg.className = 'details-msg';
    msg.textContent = 'Loading configuration…';
    $('details-reload').disabled = true;
    try {
      const cfg = await api('GET', vmPath(name, '/config') + (force ? '?force_refresh=true' : ''));
      if (state.detailsName !== name) return;
      msg.textContent = '';
      const raw = cfg && cfg.raw && typeof cfg.raw === 'object' ? cfg.raw : {};
      const vm = state.vms.find((v) => v.name === name) || {};
      const rows = [
        ['CPU', cpuLabel(cfg.cpu ?? raw.CPU ?? vm.cpu)],
        ['Memory', memoryLabel(cfg.memory ?? vm.memory)],
        ['Disk', diskLabel(cfg.disk_size ?? vm.disk_size)],
        ['Display', raw.Display || vm.display || '—'],
        ['OS', osLabel(raw.OS || vm.os)],
      ];
      if (raw.DiskFormat) rows.push(['Disk format', String(raw.DiskFormat)]);
      if (raw.Size !== undefined) rows.push(['Space used', diskLabel(raw.Size)]);
      if (raw.State) rows.push(['Tart state', String(raw.State)]);
      const facts = $('details-facts');
      facts.replaceChildren();
      for (const [k, v] of rows) facts.append(h('div', {}, [h('dt', { text: k }), h('dd', { text: String(v) })]));
      $('details-raw').textContent = JSON.stringify(raw, null, 2);
    } catch (err) {
      if (state.detailsName !== name) return;
      msg.className = 'details-msg is-error';
      msg.textContent = 'Could not load the configuration: ' + err.message;
    } finally {
      $('details-reload').disabled = false;
    }
  }

  $('details-close').addEventListener('click', () => $('details').close());
  $('details-reload').addEventListener('click', () => loadConfig(true));
  $('details').addEventListener('close', () => {
    state.detailsName = null;
  });
  // A click on the backdrop (outside the sheet) closes it, like a native sheet.
  for (const dlg of [$('details'), $('pull-dialog'), $('delete-dialog')]) {
    dlg.addEventListener('click', (ev) => {
      if (ev.target !== dlg) return;
      const r = dlg.getBoundingClientRect();
      const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
      if (!inside) dlg.close();
    });
  }

  // ---------------------------------------------------------------- tasks

  function rememberTasks() {
    const ids = [...state.tasks.values()].filter((e) => !e.placeholder).map((e) => e.task.id);
    writeStorage(sessionStorage, SESSION_TASKS, JSON.stringify(ids.slice(-50)));
  }

  function addTask(task) {
    if (!task || typeof task.id !== 'string') return;
    let entry = state.tasks.get(task.id);
    if (!entry) {
      entry = { task, el: createTaskEl(task), ws: null, pollTimer: null, mode: '' };
      state.tasks.set(task.id, entry);
      $('task-list').prepend(entry.el);
      rememberTasks();
    }
    updateTask(task);
    if (!isTerminal(task.status)) follow(task.id);
  }

  /** Follows a task over its WebSocket; falls back to polling when the socket fails. */
  function follow(id) {
    const entry = state.tasks.get(id);
    if (!entry || entry.ws || isTerminal(entry.task.status)) return;
    clearTimeout(entry.pollTimer);
    entry.pollTimer = null;
    let ws;
    try {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      // logs=new: each message carries only the log lines this socket has not sent yet;
      // they are gathered here, so a chatty task costs its new lines, not its whole log.
      ws = new WebSocket(proto + '//' + location.host + '/ws/tasks/' + encodeURIComponent(id) + '?token=' + encodeURIComponent(TOKEN) + '&logs=new');
    } catch (_) {
      startPolling(id);
      return;
    }
    entry.ws = ws;
    let lines = [];
    setTaskMode(entry, 'connecting');
    ws.addEventListener('open', () => setTaskMode(entry, 'live'));
    ws.addEventListener('message', (ev) => {
      let task;
      try {
        task = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (task && task.id === id) {
        entry.el.dataset.followed = 'websocket';
        if (typeof task.logs_from === 'number' && Array.isArray(task.logs)) {
          lines = lines.concat(task.logs.map(String));
          if (lines.length > 2 * MAX_LOG_LINES) lines = lines.slice(-MAX_LOG_LINES);
          task = Object.assign({}, task, { logs: lines });
        }
        updateTask(task);
      }
    });
    ws.addEventListener('close', () => {
      if (entry.ws === ws) entry.ws = null;
      if (!isTerminal(entry.task.status)) startPolling(id);
      else setTaskMode(entry, '');
    });
  }

  function startPolling(id) {
    const entry = state.tasks.get(id);
    if (!entry || entry.pollTimer || isTerminal(entry.task.status)) return;
    setTaskMode(entry, 'polling');
    const tick = async () => {
      entry.pollTimer = null;
      if (isTerminal(entry.task.status)) return;
      try {
        const task = await api('GET', '/api/tasks/' + encodeURIComponent(id));
        updateTask(task);
      } catch (err) {
        if (err.status === 404) {
          entry.task = Object.assign({}, entry.task, { status: 'failed', error: 'The server no longer knows this task.' });
          updateTask(entry.task);
          return;
        }
      }
      if (!isTerminal(entry.task.status)) {
        // Try the socket again now and then; polling is only the fallback.
        if (state.online && Math.random() < 0.2) follow(id);
        else entry.pollTimer = setTimeout(tick, state.online ? TASK_POLL_MS : RECONNECT_MS);
      }
    };
    entry.pollTimer = setTimeout(tick, TASK_POLL_MS);
  }

  function setTaskMode(entry, mode) {
    entry.mode = mode;
    const el = entry.el.querySelector('.task-mode');
    el.textContent = mode === 'live' ? 'live' : mode === 'polling' ? 'polling' : mode === 'connecting' ? 'connecting…' : '';
    el.title =
      mode === 'live'
        ? 'Following this task over a WebSocket'
        : mode === 'polling'
          ? 'The live connection dropped; checking the task every second'
          : '';
  }

  function taskTitle(task) {
    const verb = ACTION_LABELS[task.action] || String(task.action || 'Task');
    return verb + ' ' + (task.vm_name || '');
  }

  function createTaskEl(task) {
    const li = h('li', { class: 'task' });
    const title = h('h3', { class: 'task-title' }, [
      h('span', { class: 'task-verb', text: ACTION_LABELS[task.action] || String(task.action || 'Task') }),
      ' ',
      h('span', { class: 'task-target' }),
    ]);
    appendBreakable(title.querySelector('.task-target'), task.vm_name || '');
    const head = h('div', { class: 'task-head' }, [
      title,
      h('span', { class: 'task-status' }),
    ]);
    const meta = h('p', { class: 'task-meta' }, [h('time', { class: 'task-time' }), h('span', { class: 'task-mode' })]);
    const progress = h('div', { class: 'task-progress', hidden: true }, [
      h('progress', { max: '100', 'aria-label': 'Pull progress of ' + (task.vm_name || 'image') }),
      h('span', { class: 'task-percent' }),
    ]);
    const result = h('div', { class: 'task-result', hidden: true });
    const error = h('p', { class: 'task-error', hidden: true });
    const logPre = h('pre', { class: 'task-log', tabindex: '0', 'aria-label': 'Log of ' + taskTitle(task) });
    // The log is open while the task runs and folds away when it ends.
    const log = h('details', { class: 'task-log-wrap', open: !isTerminal(task.status) }, [
      h('summary', {}, [h('span', { class: 'task-log-summary', text: 'Log' })]),
      logPre,
    ]);
    li.append(head, meta, progress, result, error, log);
    return li;
  }

  function updateTask(task) {
    const entry = state.tasks.get(task.id);
    if (!entry) return;
    const before = entry.task.status;
    entry.task = task;
    const el = entry.el;
    const status = String(task.status || 'pending');
    el.dataset.status = status;
    el.dataset.action = String(task.action || '');
    const statusEl = el.querySelector('.task-status');
    statusEl.textContent = status;
    statusEl.className = 'task-status status-' + status;
    el.querySelector('.task-time').textContent = formatTime(task.created_at);

    // Progress: pulls report a percentage; before the first number it is indeterminate.
    const isPull = task.action === 'pull_vm';
    const pwrap = el.querySelector('.task-progress');
    const bar = pwrap.querySelector('progress');
    const pct = typeof task.progress === 'number' && isFinite(task.progress) ? Math.max(0, Math.min(100, task.progress)) : null;
    pwrap.hidden = !(isPull || pct !== null) || (status === 'failed' && pct === null);
    if (pct !== null || status === 'completed') {
      const v = status === 'completed' && isPull ? 100 : pct;
      bar.value = v;
      pwrap.querySelector('.task-percent').textContent = Math.round(v) + '%';
    } else {
      bar.removeAttribute('value');
      pwrap.querySelector('.task-percent').textContent = '';
    }

    // Result: message, IP with copy button, VNC link.
    const res = el.querySelector('.task-result');
    res.replaceChildren();
    const r = task.result && typeof task.result === 'object' ? task.result : null;
    if (r) {
      if (r.message) res.append(h('p', { class: 'task-message', text: String(r.message) }));
      if (r.ip_address) {
        const ip = String(r.ip_address);
        const copy = h('button', { type: 'button', class: 'btn btn-icon btn-quiet', 'aria-label': 'Copy IP address ' + ip, title: 'Copy IP address' });
        copy.append(svgIcon(ICONS.copy));
        copy.addEventListener('click', () => copyText(ip, copy, 'IP address'));
        res.append(h('p', { class: 'task-ip' }, [h('span', { class: 'muted', text: 'IP ' }), h('code', { text: ip }), copy]));
      }
      if (r.vnc_url && /^vnc:\/\//i.test(String(r.vnc_url))) {
        res.append(
          h('p', { class: 'task-vnc' }, [
            h('a', { href: String(r.vnc_url), class: 'vnc-link', text: String(r.vnc_url) }),
          ]),
        );
      }
    }
    res.hidden = !res.firstChild;

    const errEl = el.querySelector('.task-error');
    const errText = status === 'failed' ? String(task.error || task.stderr || 'The task failed.') : '';
    errEl.textContent = errText;
    errEl.hidden = !errText;

    // Log: append only what is new when the lines only grew, so scrolling and selection survive.
    const pre = el.querySelector('.task-log');
    const lines = Array.isArray(task.logs) ? task.logs.slice(-MAX_LOG_LINES).map(String) : [];
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    const shown = entry.shownLines || [];
    const grewOnly = shown.length <= lines.length && shown.every((l, i) => l === lines[i]);
    if (grewOnly) {
      if (lines.length > shown.length) pre.append(document.createTextNode(lines.slice(shown.length).map((l) => l + '\n').join('')));
    } else {
      pre.textContent = lines.map((l) => l + '\n').join('');
    }
    entry.shownLines = lines;
    el.querySelector('.task-log-summary').textContent = 'Log (' + lines.length + (lines.length === 1 ? ' line)' : ' lines)');
    el.querySelector('.task-log-wrap').hidden = lines.length === 0;
    if (atBottom) pre.scrollTop = pre.scrollHeight;

    if (isTerminal(status)) {
      clearTimeout(entry.pollTimer);
      entry.pollTimer = null;
      if (entry.ws) {
        try {
          entry.ws.close();
        } catch (_) {
          /* already closing */
        }
      }
      setTaskMode(entry, '');
      if (!isTerminal(before)) {
        if (status === 'completed') el.querySelector('.task-log-wrap').open = false;
        announce(taskTitle(task) + ': ' + status + '.');
        if (status === 'failed' && !entry.restored) toast(taskTitle(task) + ' failed: ' + errText, 'error');
        // The inventory changed; a completed start also knows the IP now.
        refreshInventory({ quiet: true });
      }
    }
    renderTasksChrome();
    renderAll();
  }

  function renderTasksChrome() {
    const real = [...state.tasks.values()].filter((e) => !e.placeholder);
    const finished = real.filter((e) => isTerminal(e.task.status)).length;
    $('tasks-empty').hidden = real.length > 0;
    $('tasks-count').textContent = real.length ? String(real.length) : '';
    $('clear-tasks-btn').hidden = finished === 0;
  }

  $('clear-tasks-btn').addEventListener('click', () => {
    for (const [id, entry] of state.tasks) {
      if (!entry.placeholder && isTerminal(entry.task.status)) {
        entry.el.remove();
        state.tasks.delete(id);
      }
    }
    rememberTasks();
    renderTasksChrome();
    $('tasks-heading').focus();
  });

  /** Brings back this session's tasks and any task still running on the server. */
  async function restoreTasks() {
    let ids = [];
    try {
      ids = JSON.parse(readStorage(sessionStorage, SESSION_TASKS, '[]'));
    } catch (_) {
      ids = [];
    }
    const found = new Map();
    try {
      const recent = await api('GET', '/api/tasks');
      if (Array.isArray(recent)) {
        for (const t of recent) {
          if (t && typeof t.id === 'string' && (ids.includes(t.id) || !isTerminal(t.status))) found.set(t.id, t);
        }
      }
    } catch (_) {
      /* an older server without the list: fetch one by one below */
    }
    for (const id of Array.isArray(ids) ? ids : []) {
      if (found.has(id) || typeof id !== 'string') continue;
      try {
        found.set(id, await api('GET', '/api/tasks/' + encodeURIComponent(id)));
      } catch (_) {
        /* gone after a restart: forget it */
      }
    }
    const list = [...found.values()].sort((a, b) => (a.created_at || 0) - (b.created_at || 0));
    for (const t of list) {
      if (state.tasks.has(t.id)) continue;
      const entry = { task: t, el: createTaskEl(t), ws: null, pollTimer: null, mode: '', restored: true };
      state.tasks.set(t.id, entry);
      $('task-list').prepend(entry.el);
      updateTask(t);
      if (!isTerminal(t.status)) follow(t.id);
    }
    rememberTasks();
    renderTasksChrome();
  }

  // ---------------------------------------------------------------- toolbar

  $('refresh-btn').addEventListener('click', () => refreshInventory({ quiet: false }));
  $('reconnect-btn').addEventListener('click', () => {
    clearTimeout(heartbeatTimer);
    heartbeat();
  });
  $('filter-text').addEventListener('input', (ev) => {
    state.filterText = ev.target.value;
    renderAll();
  });
  $('filter-status').addEventListener('change', (ev) => {
    state.filterStatus = ev.target.value;
    renderAll();
  });
  $('sort').addEventListener('change', (ev) => {
    state.sort = ev.target.value;
    writeStorage(localStorage, STORAGE_SORT, state.sort);
    renderAll();
  });
  $('clear-filter-btn').addEventListener('click', () => {
    state.filterText = '';
    state.filterStatus = '';
    $('filter-text').value = '';
    $('filter-status').value = '';
    renderAll();
    $('filter-text').focus();
  });
  function setView(view) {
    state.view = view === 'list' ? 'list' : 'cards';
    writeStorage(localStorage, STORAGE_VIEW, state.view);
    renderAll();
  }
  $('view-cards').addEventListener('click', () => setView('cards'));
  $('view-list').addEventListener('click', () => setView('list'));

  // "/" focuses the filter, like many native tools; "r" refreshes.
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (typing || document.querySelector('dialog[open]')) return;
    if (ev.key === '/') {
      ev.preventDefault();
      $('filter-text').focus();
    }
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.online) refreshInventory({ quiet: true });
  });

  // ---------------------------------------------------------------- start

  function init() {
    $('sort').value = ['name', 'name-desc', 'status'].includes(state.sort) ? state.sort : 'name';
    state.sort = $('sort').value;
    if (!TOKEN || TOKEN === '{{TOKEN}}') showAuthFailed();
    updateConn();
    renderAll();
    renderTasksChrome();
    loadVersions();
    refreshInventory({ quiet: true });
    restoreTasks();
    scheduleHeartbeat();
  }

  init();
})();
