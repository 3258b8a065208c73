// The Clone dialog (POST /api/vms/{source}/clone): the main action of an image card and
// an action of a VM. tart would silently replace a VM of the new name; the server says
// so (409) and the message shows next to the name.
import { vmPath } from '../api.js';
import { buildFormDialog } from './form.js';
import { submitTask } from './submit.js';
import { suggestName } from '../lifecycle-rules.js';

let source = '';

function form() {
  return buildFormDialog({
    id: 'clone-dialog',
    title: 'Clone',
    intro: 'Makes a VM from this image or VM.',
    submit: 'Clone',
    fields: [
      { name: 'new_name', label: 'Name of the new VM', type: 'text', placeholder: 'my-vm' },
      { name: 'start_after_clone', label: 'Start it when the clone is ready', type: 'checkbox' },
    ],
  });
}

/** Opens the dialog for `src` (a VM name or an image reference). */
export function openClone(src) {
  source = src;
  const f = form();
  f.form.reset();
  f.clearErrors();
  f.dlg.querySelector('h2').textContent = 'Clone ' + src;
  f.dlg.querySelector('#clone-dialog-intro').textContent = src.includes('/')
    ? 'Makes a VM from this image (pulling what is missing first).'
    : 'Makes a copy of this VM with a new MAC address.';
  f.input('new_name').value = suggestName(src);
  f.dlg.showModal();
  f.input('new_name').focus();
  f.input('new_name').select();
}

async function onSubmit(ev) {
  ev.preventDefault();
  const f = form();
  const v = f.values();
  if (!v.new_name) {
    f.setError('new_name', 'Give the new VM a name.');
    return;
  }
  await submitTask(f, vmPath(source, '/clone'), { new_name: v.new_name, start_after_clone: v.start_after_clone }, 'Clone of ' + source);
}

export function initCloneDialog() {
  form().form.addEventListener('submit', onSubmit);
}
