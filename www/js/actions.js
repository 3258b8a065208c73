// The registry of operations the UI knows: wire name → labels, icon, and how to ask
// the server for it. Pure data (unit-tested). To add an operation: one entry here;
// if it needs a form, a dialog in dialogs/ that calls tasks.runAction with a body.

/**
 * `kind`: the last path segment of its route (POST /api/vms/{name}/{kind});
 * `label`: button and task title verb; `busy`: shown on the VM while it runs.
 */
export const ACTIONS = {
  start_vm: { kind: 'start', label: 'Start', busy: 'Starting…', icon: 'start' },
  stop_vm: { kind: 'stop', label: 'Stop', busy: 'Stopping…', icon: 'stop' },
  delete_vm: { kind: 'delete', label: 'Delete', busy: 'Deleting…', icon: 'delete' },
  pull_vm: { kind: 'pull', label: 'Pull', busy: 'Pulling…' },
  clone_vm: { kind: 'clone', label: 'Clone', busy: 'Cloning…' },
  create_vm: { kind: 'create', label: 'Create', busy: 'Creating…' },
  set_vm: { kind: 'settings', label: 'Settings', busy: 'Changing settings…' },
  rename_vm: { kind: 'rename', label: 'Rename', busy: 'Renaming…' },
  suspend_vm: { kind: 'suspend', label: 'Suspend', busy: 'Suspending…', icon: 'suspend' },
  prune: { kind: 'prune', label: 'Prune', busy: 'Pruning…' },
  login: { kind: 'login', label: 'Log in', busy: 'Logging in…' },
  logout: { kind: 'logout', label: 'Log out', busy: 'Logging out…' },
};

/**
 * Whether `action` ('start', 'stop', 'suspend', 'clone', 'settings', 'rename',
 * 'delete') is allowed on `vm` now: the server's `actions` list when the row has one,
 * else the same rules derived from its status.
 */
export function allowed(vm, action) {
  if (vm && Array.isArray(vm.actions)) return vm.actions.includes(action);
  const status = vm && vm.status;
  const suspended = vm && vm.state === 'suspended';
  switch (action) {
    case 'start':
      return status !== 'running';
    case 'stop':
      return status !== 'stopped' || suspended;
    case 'suspend':
      return status === 'running' && vm.os === 'darwin';
    case 'settings':
      return status === 'stopped' && !suspended;
    case 'rename':
      return status !== 'running';
    case 'delete':
      return status !== 'running';
    default:
      return true;
  }
}

/** The verb for a task's action ("Start"), or the raw action when unknown. */
export function actionLabel(action) {
  const a = ACTIONS[action];
  return a ? a.label : String(action || 'Task');
}

/** What a VM shows while a task of `action` runs on it. */
export function busyLabel(action) {
  const a = ACTIONS[action];
  return a ? a.busy : 'Working…';
}

/** "Start linux-a": a task's title. */
export function taskTitle(task) {
  return actionLabel(task.action) + ' ' + (task.vm_name || '');
}
