// The Settings dialog (POST /api/vms/{name}/settings): CPUs, memory, display, disk
// (grow only) and a new MAC address for a stopped VM, in one tart set. The limits are
// shown before the user submits; the current values are the placeholders.
import { vmPath } from '../api.js';
import { visibleName } from '../format.js';
import { state } from '../store.js';
import { buildFormDialog, numberOrUndefined } from './form.js';
import { submitTask } from './submit.js';

let target = '';

function form() {
  return buildFormDialog({
    id: 'settings-dialog',
    title: 'Settings',
    intro: 'Changes apply at the next start. Empty fields stay as they are.',
    submit: 'Save',
    fields: [
      { name: 'cpu', label: 'CPUs', type: 'number', min: 1, max: 128, hint: '1 to 128 (macOS VMs: at least their image’s minimum).' },
      { name: 'memory', label: 'Memory (GB)', type: 'number', min: 1, max: 1024, hint: '1 to 1024 GB.' },
      { name: 'display', label: 'Display', type: 'text', placeholder: '1920x1080', hint: 'WIDTHxHEIGHT in pixels.' },
      { name: 'disk_size', label: 'Disk (GB)', type: 'number', min: 10, max: 16384, hint: 'The disk can only grow, up to 16384 GB.' },
      { name: 'random_mac', label: 'Give it a new MAC address (and so a new IP)', type: 'checkbox' },
    ],
  });
}

/** The number in "8G" / "50G", or ''. */
function gb(text) {
  const m = /^(\d+(?:\.\d+)?)G$/.exec(String(text || ''));
  return m ? String(Math.round(Number(m[1]))) : '';
}

export function openSettings(name) {
  target = name;
  const vm = state.vms.find((v) => v.name === name) || {};
  const f = form();
  f.form.reset();
  f.clearErrors();
  f.dlg.querySelector('h2').textContent = 'Settings of ' + visibleName(name);
  f.input('cpu').placeholder = vm.cpu ? String(vm.cpu) : '';
  f.input('memory').placeholder = gb(vm.memory);
  f.input('display').placeholder = vm.display ? String(vm.display) : '1920x1080';
  const disk = gb(vm.disk_size);
  f.input('disk_size').placeholder = disk;
  if (disk) f.input('disk_size').min = disk;
  f.dlg.querySelector('#settings-dialog-disk_size-hint').textContent = disk
    ? 'Now ' + disk + ' GB. The disk can only grow, up to 16384 GB.'
    : 'The disk can only grow, up to 16384 GB.';
  f.dlg.showModal();
  f.input('cpu').focus();
}

async function onSubmit(ev) {
  ev.preventDefault();
  const f = form();
  const v = f.values();
  const body = {};
  for (const k of ['cpu', 'memory', 'disk_size']) {
    const n = numberOrUndefined(v[k]);
    if (n !== undefined) body[k] = n;
  }
  if (v.display) body.display = v.display;
  if (v.random_mac) body.random_mac = true;
  await submitTask(f, vmPath(target, '/settings'), body, 'Settings of ' + target);
}

export function initSettingsDialog() {
  form().form.addEventListener('submit', onSubmit);
}
