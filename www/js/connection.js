// Online/offline: the heartbeat on /api/health, the offline and auth banners, the
// header's connection label and the versions line (with the tart banner).
import { api } from './api.js';
import { $, announce } from './dom.js';
import { state, invalidate, on, onRender, emit } from './store.js';

/** How often the server's health is checked while everything is fine. */
const HEARTBEAT_MS = 4000;
/** How often the server is retried while it is unreachable. */
export const RECONNECT_MS = 2000;
/** Longest the heartbeat waits for /api/health. */
const HEALTH_TIMEOUT_MS = 5000;

let heartbeatTimer = null;

/** Records whether the server answers; coming back emits 'online' so others catch up. */
export function setOnline(online) {
  if (online === state.online) return;
  state.online = online;
  document.body.classList.toggle('is-offline', !online);
  $('offline-banner').hidden = online;
  invalidate();
  scheduleHeartbeat();
  if (online) {
    announce('Connection to the server restored.');
    loadVersions();
    emit('online');
  }
}

/** The header's label: a server that cannot run tart is not "Connected" in any useful sense. */
function renderConn() {
  const conn = $('conn');
  conn.classList.toggle('is-offline', !state.online);
  conn.classList.toggle('is-warn', state.online && state.tartMissing);
  $('conn-text').textContent = !state.online ? 'Offline' : state.tartMissing ? 'Tart not found' : 'Connected';
}

export function scheduleHeartbeat() {
  clearTimeout(heartbeatTimer);
  heartbeatTimer = setTimeout(heartbeat, state.online ? HEARTBEAT_MS : RECONNECT_MS);
}

/** Checks the server now (also the "Reconnect" button). */
export async function heartbeat() {
  clearTimeout(heartbeatTimer);
  try {
    await api('GET', '/api/health', undefined, HEALTH_TIMEOUT_MS);
  } catch (err) {
    // A server that no longer answers at all counts as gone.
    if (!err.network && err.status === 0) setOnline(false);
  }
  scheduleHeartbeat();
}

export function showAuthFailed() {
  if (state.authFailed) return;
  state.authFailed = true;
  $('auth-banner').hidden = false;
}

/** The server's and tart's versions in the footer; the tart banner when tart is missing. */
export async function loadVersions() {
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
    state.tartMissing = false;
    if (tart && tart.version) parts.push('tart ' + tart.version);
    // An old tart the server cannot drive well: the server says what breaks.
    const warnings = (tart && Array.isArray(tart.warnings)) ? tart.warnings.map(String) : [];
    $('tart-old-detail').textContent = warnings.join(' ');
    $('tart-old-banner').hidden = warnings.length === 0;
  } catch (err) {
    if (!err.network && err.status !== 401) {
      $('tart-banner-detail').textContent = err.message;
      $('tart-banner').hidden = false;
      state.tartMissing = true;
    }
  }
  $('versions').textContent = parts.join(' · ');
  invalidate();
}

/** Registers the header's renderer; call once at start. */
export function initConnection() {
  onRender(renderConn);
}

on('reachable', setOnline);
on('unauthorized', showAuthFailed);
