// The page's one state object, render scheduling and a tiny event bus.
//
// Rules: modules read `state` freely and change it only through their own functions;
// after a change they call `invalidate()`, which runs every registered renderer once in
// the next animation frame, however many changes came first (a chatty task's log
// batches cost one render, not one per message). Cross-module notifications
// ('task-finished', 'online') go through `on`/`emit`, so no module imports one that
// imports it back.

export const STORAGE_VIEW = 'taartenfabriek.view';
export const STORAGE_SORT = 'taartenfabriek.sort';
export const SESSION_TASKS = 'taartenfabriek.tasks';

export function readStorage(store, key, fallback) {
  try {
    const v = store.getItem(key);
    return v === null ? fallback : v;
  } catch (_) {
    return fallback;
  }
}

export function writeStorage(store, key, value) {
  try {
    store.setItem(key, value);
  } catch (_) {
    /* private mode or quota: remembering is a nicety */
  }
}

export const state = {
  /** The last inventory from the server (VM rows as the API sends them). */
  vms: [],
  loaded: false,
  online: true,
  /** The server cannot run tart (GET /api/tart/version said 503); the banner says why. */
  tartMissing: false,
  authFailed: false,
  view: readStorage(localStorage, STORAGE_VIEW, 'cards'),
  sort: readStorage(localStorage, STORAGE_SORT, 'name'),
  filterText: '',
  filterStatus: '',
  /** task id -> { task, el, ws, pollTimer, mode, placeholder?, restored? } (owned by tasks.js) */
  tasks: new Map(),
  /** True while the event stream (events.js) is connected: nothing is polled then. */
  streaming: false,
  refreshing: false,
  /** Date.now() when the request for the current `vms` was sent. */
  vmsAskedAt: 0,
  lastRefresh: null,
  lastRefreshError: null,
};

const renderers = [];
let scheduled = false;

/** Registers a function that redraws part of the page from `state`. */
export function onRender(fn) {
  renderers.push(fn);
}

/**
 * Redraws now. For changes the user made (typing in the filter, switching the view):
 * the page answers in the same event, as people expect. Everything else: `invalidate`.
 */
export function renderNow() {
  scheduled = false;
  for (const fn of renderers) fn();
}

function flush() {
  if (scheduled) renderNow();
}

/** Asks for one redraw in the next frame. Hidden pages get no frames, so they use a timer. */
export function invalidate() {
  if (scheduled) return;
  scheduled = true;
  if (document.visibilityState === 'hidden') setTimeout(flush, 0);
  else requestAnimationFrame(flush);
}

const listeners = new Map();

export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, []);
  listeners.get(event).push(fn);
}

export function emit(event, arg) {
  for (const fn of listeners.get(event) || []) fn(arg);
}
