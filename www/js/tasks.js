// Tasks: submitting an action, following each task over its WebSocket (polling when
// the socket fails), restoring this session's tasks after a reload, and the Tasks
// panel's chrome. Owns `state.tasks`; every change of a task's record emits
// 'task-updated' (its entry), and a task that ends emits 'task-finished'.
import { actionLabel, taskTitle } from './actions.js';
import { api, vmPath, taskSocketUrl } from './api.js';
import { RECONNECT_MS } from './connection.js';
import { $, announce } from './dom.js';
import { state, invalidate, on, onRender, emit, readStorage, writeStorage, SESSION_TASKS } from './store.js';
import { createTaskEl, showTaskMode, showVncLive, updateTaskEl, MAX_LOG_LINES } from './task-view.js';
import { errorToast, toast } from './toast.js';
import { busyTaskFor as busyAmong, isTerminal, statusOf } from './vms.js';

/** How often a task is polled when its WebSocket is not available. */
const TASK_POLL_MS = 1000;
/** While polling, every this many polls the socket is tried again (polling is the fallback). */
const SOCKET_RETRY_POLLS = 5;
/** Task ids remembered per browser tab, for restoring after a reload. */
const REMEMBERED_TASKS = 50;

/** The newest unfinished task on VM `name` (placeholders included), or null. */
export function busyTaskFor(name) {
  return busyAmong([...state.tasks.values()].map((e) => e.task), name);
}

function rememberTasks() {
  const ids = [...state.tasks.values()].filter((e) => !e.placeholder).map((e) => e.task.id);
  writeStorage(sessionStorage, SESSION_TASKS, JSON.stringify(ids.slice(-REMEMBERED_TASKS)));
}

/** Marks a VM busy before the server has answered, so double clicks do nothing. */
function placeholderTask(action, name) {
  const id = 'pending-' + Math.random().toString(36).slice(2);
  state.tasks.set(id, {
    task: { id, action, status: 'pending', vm_name: name, created_at: Date.now() / 1000, logs: [] },
    placeholder: true,
  });
  invalidate();
  return id;
}

function dropPlaceholder(id) {
  state.tasks.delete(id);
  invalidate();
}

/**
 * Asks the server for `action` (a key of actions.ACTIONS) on VM `name` with `body`, and
 * follows the task it starts. Does nothing while another task runs on that VM.
 */
export async function runAction(action, name, body) {
  if (busyTaskFor(name)) return;
  const kind = action.replace(/_vm$/, '');
  const ph = placeholderTask(action, name);
  try {
    const task = await api('POST', vmPath(name, '/' + kind), body || {});
    dropPlaceholder(ph);
    addTask(task);
    announce(actionLabel(action) + ' ' + name + ': started.');
  } catch (err) {
    dropPlaceholder(ph);
    errorToast(actionLabel(action) + ' ' + name + ' failed', err);
  }
}

function newEntry(task, restored) {
  const entry = { task, el: createTaskEl(task), ws: null, pollTimer: null, mode: '', polls: 0, restored };
  state.tasks.set(task.id, entry);
  $('task-list').prepend(entry.el);
  return entry;
}

/** Shows a task the server just started and follows it. */
export function addTask(task) {
  if (!task || typeof task.id !== 'string') return;
  if (!state.tasks.has(task.id)) {
    newEntry(task, false);
    rememberTasks();
  }
  updateTask(task);
  if (!isTerminal(task.status)) follow(task.id);
}

function setTaskMode(entry, mode) {
  entry.mode = mode;
  showTaskMode(entry.el, mode);
}

/** Follows a task over its WebSocket; falls back to polling when the socket fails. */
export function follow(id) {
  const entry = state.tasks.get(id);
  // While the event stream is up, it brings every task's changes (events.js).
  if (!entry || entry.ws || isTerminal(entry.task.status) || state.streaming) return;
  clearTimeout(entry.pollTimer);
  entry.pollTimer = null;
  let ws;
  try {
    ws = new WebSocket(taskSocketUrl(id));
  } catch (_) {
    startPolling(id);
    return;
  }
  entry.ws = ws;
  // logs=new: the lines arrive in pieces and are gathered here.
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
  if (!entry || entry.pollTimer || isTerminal(entry.task.status) || state.streaming) return;
  setTaskMode(entry, 'polling');
  const tick = async () => {
    entry.pollTimer = null;
    if (isTerminal(entry.task.status)) return;
    try {
      updateTask(await api('GET', '/api/tasks/' + encodeURIComponent(id)));
    } catch (err) {
      if (err.status === 404) {
        entry.task = Object.assign({}, entry.task, { status: 'failed', error: 'The server no longer knows this task.' });
        updateTask(entry.task);
        return;
      }
    }
    if (!isTerminal(entry.task.status)) {
      entry.polls += 1;
      if (state.online && entry.polls % SOCKET_RETRY_POLLS === 0) follow(id);
      else entry.pollTimer = setTimeout(tick, state.online ? TASK_POLL_MS : RECONNECT_MS);
    }
  };
  entry.pollTimer = setTimeout(tick, TASK_POLL_MS);
}

/** Applies a task record to its entry (a newer snapshot from socket or poll). */
export function updateTask(task) {
  const entry = state.tasks.get(task.id);
  if (!entry) return;
  // The stream and the 202 answer race: an older record never replaces a newer one.
  const older = typeof task.updated_at === 'number' && typeof entry.task.updated_at === 'number' && task.updated_at < entry.task.updated_at;
  if (older || (isTerminal(entry.task.status) && !isTerminal(task.status))) return;
  const before = entry.task.status;
  entry.task = task;
  const status = String(task.status || 'pending');
  const errText = updateTaskEl(entry, task);
  // The entry's buttons (task-controls.js, which acts through this module) follow it.
  emit('task-updated', entry);

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
    if (!entry.endedAt) entry.endedAt = Date.now();
    if (!isTerminal(before)) {
      if (status === 'completed') entry.el.querySelector('.task-log-wrap').open = false;
      announce(taskTitle(task) + ': ' + status + '.');
      if (status === 'failed' && !entry.restored) toast(taskTitle(task) + ' failed: ' + errText, 'error');
      emit('task-finished', task);
    }
  }
  renderTasksChrome();
  invalidate();
}

/**
 * A task from the event stream: its `logs` are the newest lines from index `logs_from`
 * on, so they are joined to the lines this page has; then shown as any update.
 */
export function applyStreamedTask(task) {
  if (!task || typeof task.id !== 'string') return;
  let entry = state.tasks.get(task.id);
  const lines = Array.isArray(task.logs) ? task.logs.map(String) : [];
  const from = typeof task.logs_from === 'number' ? task.logs_from : 0;
  let logs = lines;
  if (entry && typeof entry.logEnd === 'number' && entry.logEnd >= from) {
    const have = Array.isArray(entry.task.logs) ? entry.task.logs : [];
    logs = have.concat(lines.slice(entry.logEnd - from)).slice(-MAX_LOG_LINES);
  }
  const merged = Object.assign({}, task, { logs });
  if (!entry) {
    entry = newEntry(merged, false);
    rememberTasks();
  }
  entry.logEnd = from + lines.length;
  entry.el.dataset.followed = 'stream';
  if (entry.mode !== 'live') setTaskMode(entry, isTerminal(merged.status) ? '' : 'live');
  updateTask(merged);
}

/** Keeps running and pending tasks above ended ones, each group newest first. */
function orderTaskList() {
  const list = $('task-list');
  const entries = [...state.tasks.values()].sort((a, b) => {
    const ra = isTerminal(a.task.status) ? 1 : 0;
    const rb = isTerminal(b.task.status) ? 1 : 0;
    return ra - rb || (b.task.created_at || 0) - (a.task.created_at || 0);
  });
  const current = [...list.children];
  if (entries.every((e, i) => current[i] === e.el)) return;
  for (const e of entries) list.append(e.el);
}

function renderTasksChrome() {
  orderTaskList();
  const running = [...state.tasks.values()].some((e) => !e.placeholder && !isTerminal(e.task.status));
  // On a phone the panel is pinned in view while something runs (style.css).
  document.body.classList.toggle('has-running-tasks', running);
  const real = [...state.tasks.values()].filter((e) => !e.placeholder);
  const finished = real.filter((e) => isTerminal(e.task.status)).length;
  $('tasks-empty').hidden = real.length > 0;
  $('tasks-count').textContent = real.length ? String(real.length) : '';
  $('clear-tasks-btn').hidden = finished === 0;
}

function clearFinished() {
  for (const [id, entry] of state.tasks) {
    if (!entry.placeholder && isTerminal(entry.task.status)) {
      entry.el.remove();
      state.tasks.delete(id);
    }
  }
  rememberTasks();
  renderTasksChrome();
  $('tasks-heading').focus();
}

/** Brings back this session's tasks and any task still running on the server. */
export async function restoreTasks() {
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
        // The server's history: every tab shows the same tasks.
        if (t && typeof t.id === 'string') found.set(t.id, t);
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
    newEntry(t, true);
    updateTask(t);
    if (!isTerminal(t.status)) follow(t.id);
  }
  rememberTasks();
  renderTasksChrome();
}

/**
 * A completed start's VNC link stays a link only while its VM runs at the same address,
 * judged by an inventory asked for after the page saw the start end (an older one may
 * not show the VM running yet).
 */
function renderVncLinks() {
  if (!state.loaded) return;
  for (const entry of state.tasks.values()) {
    const t = entry.task;
    if (t.action !== 'start_vm' || !entry.el || !t.result || !t.result.vnc_url) continue;
    if (!entry.endedAt || state.vmsAskedAt <= entry.endedAt) continue;
    const vm = state.vms.find((v) => v.name === t.vm_name);
    const ip = t.result.ip_address;
    const live = !!vm && statusOf(vm) === 'running' && (!ip || !vm.ip_address || String(vm.ip_address) === String(ip));
    showVncLive(entry.el, live);
  }
}

/** Wires the Tasks panel; call once at start. */
export function initTasks() {
  $('clear-tasks-btn').addEventListener('click', clearFinished);
  onRender(renderVncLinks);
  on('online', () => {
    for (const entry of state.tasks.values()) if (!isTerminal(entry.task.status)) follow(entry.task.id);
  });
  // The stream went down: follow the unfinished tasks one by one until it is back.
  on('stream', (up) => {
    if (up) return;
    for (const entry of state.tasks.values()) if (!isTerminal(entry.task.status)) follow(entry.task.id);
  });
  renderTasksChrome();
}
