// The event stream: one WebSocket (/ws/events) that keeps the inventory and every task
// up to date, so the page polls nothing while it is connected. The first message is a
// snapshot (the VM list and the running tasks); then `vm` events (added, changed,
// removed) and `task` events follow in the server's order. After a network blip or a
// server restart the socket reconnects with `since`, the last seq seen: the server
// replays what was missed, or sends a fresh snapshot when it cannot.
//
// Owns `state.streaming`: true while the stream is up. inventory.js and tasks.js poll
// and follow single tasks only while it is false; 'stream' is emitted on each change.
import { TOKEN } from './api.js';
import { RECONNECT_MS } from './connection.js';
import { setInventory } from './inventory.js';
import { state, invalidate, emit } from './store.js';
import { applyStreamedTask } from './tasks.js';

let socket = null;
let lastSeq = null;
let retryTimer = null;
/** Called once if the stream cannot be opened at all (an older server): poll instead. */
let fallback = null;
let everOpened = false;

function streamUrl() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = proto + '//' + location.host + '/ws/events?token=' + encodeURIComponent(TOKEN);
  if (lastSeq !== null) url += '&since=' + encodeURIComponent(String(lastSeq));
  return url;
}

function setStreaming(on) {
  if (state.streaming === on) return;
  state.streaming = on;
  document.body.classList.toggle('is-streaming', on);
  emit('stream', on);
  invalidate();
}

/** Applies one VM event to the inventory. */
function applyVm(op, vm) {
  // Cluster VMs are cluster.js's to show, as in inventory.setInventory.
  if (!vm || typeof vm.name !== 'string' || vm.backend === 'orchard') return;
  const i = state.vms.findIndex((v) => v.name === vm.name);
  if (op === 'removed') {
    if (i >= 0) state.vms.splice(i, 1);
  } else if (i >= 0) {
    state.vms[i] = vm;
  } else {
    state.vms.push(vm);
  }
  state.lastRefresh = new Date();
  // An event is the server's word at the moment it is sent.
  state.vmsAskedAt = Date.now();
  invalidate();
}

function handle(msg) {
  if (!msg || typeof msg !== 'object') return;
  if (typeof msg.seq === 'number') lastSeq = msg.seq;
  if (msg.type === 'snapshot') {
    setInventory(Array.isArray(msg.vms) ? msg.vms : [], Date.now());
    for (const task of Array.isArray(msg.tasks) ? msg.tasks : []) applyStreamedTask(task);
    setStreaming(true);
  } else if (msg.type === 'vm') {
    applyVm(msg.op, msg.vm);
  } else if (msg.type === 'task') {
    applyStreamedTask(msg.task);
  }
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (socket || !TOKEN) return;
  let ws;
  try {
    ws = new WebSocket(streamUrl());
  } catch (_) {
    scheduleReconnect();
    return;
  }
  socket = ws;
  ws.addEventListener('open', () => {
    everOpened = true;
  });
  ws.addEventListener('message', (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    handle(msg);
  });
  ws.addEventListener('close', () => {
    if (socket === ws) socket = null;
    setStreaming(false);
    if (!everOpened && fallback) {
      const f = fallback;
      fallback = null;
      f();
    }
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  if (retryTimer) return;
  retryTimer = setTimeout(connect, RECONNECT_MS);
}

/** Opens the stream; `onUnavailable` runs once if it never opens (poll instead). */
export function startEvents(onUnavailable) {
  fallback = onUnavailable || null;
  connect();
}

/** Tries at once (the server is back). */
export function reconnectEvents() {
  if (!socket) connect();
}
