// The Rename dialog (POST /api/vms/{name}/rename): a stopped VM, a free new name.
import { vmPath } from '../api.js';
import { visibleName } from '../format.js';
import { buildFormDialog } from './form.js';
import { submitTask } from './submit.js';

let target = '';

function form() {
  return buildFormDialog({
    id: 'rename-dialog',
    title: 'Rename',
    submit: 'Rename',
    fields: [{ name: 'new_name', label: 'New name', type: 'text' }],
  });
}

export function openRename(name) {
  target = name;
  const f = form();
  f.form.reset();
  f.clearErrors();
  f.dlg.querySelector('h2').textContent = 'Rename ' + visibleName(name);
  f.input('new_name').value = name;
  f.dlg.showModal();
  f.input('new_name').focus();
  f.input('new_name').select();
}

async function onSubmit(ev) {
  ev.preventDefault();
  const f = form();
  const v = f.values();
  if (!v.new_name || v.new_name === target) {
    f.setError('new_name', 'Type a new name.');
    return;
  }
  await submitTask(f, vmPath(target, '/rename'), { new_name: v.new_name }, 'Rename of ' + target);
}

export function initRenameDialog() {
  form().form.addEventListener('submit', onSubmit);
}
