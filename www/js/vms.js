// Pure rules about VM rows and task records: status, images, sorting, filtering,
// which task keeps a VM busy. No DOM and no state (unit-tested with `node --test`).

const STATUS_ORDER = { running: 0, unknown: 1, stopped: 2 };

/** An OCI image in tart's cache rather than a local VM. */
export function isImage(vm) {
  const src = vm && vm.source ? String(vm.source).toLowerCase() : '';
  return src === 'oci';
}

/** The contract's three statuses; anything else is "unknown". */
export function statusOf(vm) {
  const s = vm && vm.status;
  return s === 'running' || s === 'stopped' ? s : 'unknown';
}

/** What to show in the status pill: tart's own state when it says more. */
export function statusText(vm) {
  const s = statusOf(vm);
  if (vm && vm.state === 'suspended' && s !== 'running') return 'suspended';
  return s;
}

export function isTerminal(status) {
  return status === 'completed' || status === 'failed';
}

/** A sorted copy: `sort` is 'name', 'name-desc' or 'status' (then by name). */
export function sortVms(list, sort) {
  const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const copy = list.slice();
  if (sort === 'name-desc') copy.sort((a, b) => byName(b, a));
  else if (sort === 'status') copy.sort((a, b) => STATUS_ORDER[statusOf(a)] - STATUS_ORDER[statusOf(b)] || byName(a, b));
  else copy.sort(byName);
  return copy;
}

/** True if the VM's name contains `text` (any case) and its status is `status` (or any). */
export function matchesFilter(vm, text, status) {
  const t = String(text || '').trim().toLowerCase();
  if (t && !vm.name.toLowerCase().includes(t)) return false;
  if (status && statusOf(vm) !== status) return false;
  return true;
}

/** The newest unfinished task on VM `name` among `tasks` (task records), or null. */
export function busyTaskFor(tasks, name) {
  let found = null;
  for (const t of tasks) {
    if (t.vm_name === name && !isTerminal(t.status)) {
      if (!found || (t.created_at || 0) > (found.created_at || 0)) found = t;
    }
  }
  return found;
}
