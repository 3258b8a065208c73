// The Start with options dialog (POST /api/vms/{name}/start with a body): display mode,
// shared folders, network, suspendable and recovery. The plain Start button stays one
// click with no body; this is for the rarer starts, from a VM's More menu.
import { vmPath } from '../api.js';
import { visibleName } from '../format.js';
import { state } from '../store.js';
import { buildFormDialog } from './form.js';
import { submitTask } from './submit.js';
import { parseDirs } from '../lifecycle-rules.js';

let target = '';

function form() {
  return buildFormDialog({
    id: 'start-dialog',
    title: 'Start with options',
    submit: 'Start',
    alias: (name) => (name === 'dirs' ? 'dirs' : name),
    fields: [
      {
        name: 'display',
        label: 'Screen',
        type: 'select',
        options: [
          { value: '', label: 'Default (macOS: Screen Sharing, Linux: tart’s VNC)' },
          { value: 'screen-sharing', label: 'Screen Sharing to the guest’s own VNC server' },
          { value: 'vnc', label: 'tart’s VNC server on this Mac (works before the guest has network)' },
          { value: 'none', label: 'None (headless)' },
        ],
      },
      { name: 'network', label: 'Network', type: 'text', placeholder: 'nat', hint: '“nat” (default), “softnet” (isolated), or “bridged:en0” for an interface of this Mac.' },
      { name: 'dirs', label: 'Shared folders', type: 'textarea', placeholder: 'project:/Users/me/project:ro', hint: 'One per line: name:/absolute/path, add :ro for read-only.' },
      { name: 'suspendable', label: 'Suspendable (macOS guests; needed to suspend it later)', type: 'checkbox' },
      { name: 'recovery', label: 'Boot into macOS recovery', type: 'checkbox' },
    ],
  });
}

export function openStart(name) {
  target = name;
  const vm = state.vms.find((v) => v.name === name) || {};
  const f = form();
  f.form.reset();
  f.clearErrors();
  f.dlg.querySelector('h2').textContent = 'Start ' + visibleName(name) + ' with options';
  const mac = vm.os === 'darwin';
  f.field('suspendable').hidden = !mac;
  f.field('recovery').hidden = !mac;
  f.dlg.showModal();
  f.input('display').focus();
}

async function onSubmit(ev) {
  ev.preventDefault();
  const f = form();
  const v = f.values();
  const body = {};
  if (v.display) body.display = v.display;
  if (v.network) body.network = v.network;
  const parsed = parseDirs(v.dirs);
  if (parsed.error) {
    f.setError('dirs', parsed.error);
    return;
  }
  if (parsed.dirs.length) body.dirs = parsed.dirs;
  if (v.suspendable) body.suspendable = true;
  if (v.recovery) body.recovery = true;
  await submitTask(f, vmPath(target, '/start'), body, 'Start of ' + target);
}

export function initStartDialog() {
  form().form.addEventListener('submit', onSubmit);
}
