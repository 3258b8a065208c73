// taartenfabriek web UI: the entry point. It wires the modules together and starts.
//
// Plain JavaScript modules, no build step, no dependencies: the UI ships inside the
// server binary and must work offline under a strict Content-Security-Policy (no
// inline scripts or styles). Every value that came from tart or a user is rendered
// with textContent, never as HTML. Where things go:
//   api.js         the API client                  store.js     state, render, events
//   token.js       the token from #token=, or asked for
//   connection.js  heartbeat, banners, versions    inventory.js the VM and image lists
//   tasks.js       submit/follow/restore tasks     task-view.js one task's element
//   actions.js     operation registry (labels)     dialogs/     one file per dialog
//   format.js vms.js   pure helpers (unit-tested)  toolbar.js   filter, sort, view
//   lifecycle.js   New VM, Disk space, Registries and their dialogs
//   cluster.js     the Orchard cluster: workers and cluster VMs
//   events.js      the event stream (inventory and tasks, live; no polling while up)
//   task-controls.js  Cancel and Retry on a task (above tasks.js: follows its
//                  'task-updated' event)
import { TOKEN, initTokenForm } from './token.js';
import { heartbeat, initConnection, loadVersions, scheduleHeartbeat, showAuthFailed } from './connection.js';
import { initCluster } from './cluster.js';
import { $ } from './dom.js';
import { initDeleteDialog } from './dialogs/delete.js';
import { initDetailsDialog } from './dialogs/details.js';
import { initPullDialog } from './dialogs/pull.js';
import { startEvents, reconnectEvents } from './events.js';
import { initInventory, refreshInventory } from './inventory.js';
import { initLifecycle } from './lifecycle.js';
import { state, on, renderNow } from './store.js';
import { initTaskControls } from './task-controls.js';
import { initTasks, restoreTasks } from './tasks.js';
import { initToolbar } from './toolbar.js';

function init() {
  initConnection();
  initInventory();
  initDetailsDialog();
  initDeleteDialog();
  initPullDialog();
  initLifecycle();
  // Before initTasks: every task entry must get its buttons, from the first one on.
  initTaskControls();
  initTasks();
  initToolbar();
  initCluster();
  $('reconnect-btn').addEventListener('click', heartbeat);

  // The inventory changed after a task ends (a completed start also knows the IP now),
  // and may have changed while the server was unreachable.
  // While the event stream is up, the server sends every change itself.
  on('task-finished', () => state.streaming || refreshInventory({ quiet: true }));
  on('online', () => {
    reconnectEvents();
    if (!state.streaming) refreshInventory({ quiet: true });
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.online && !state.streaming) refreshInventory({ quiet: true });
  });

  initTokenForm();
  if (!TOKEN) showAuthFailed();
  renderNow();
  loadVersions();
  // The inventory comes with the event stream's snapshot; without a stream, a refresh.
  startEvents(() => refreshInventory({ quiet: true }));
  restoreTasks();
  scheduleHeartbeat();
}

init();
