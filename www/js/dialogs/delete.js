// The delete confirmation (#delete-dialog in index.html).
import { $ } from '../dom.js';
import { visibleName } from '../format.js';
import { runAction } from '../tasks.js';
import { closeOnBackdrop } from './common.js';

let deleteName = null;

/** Asks before deleting VM or image `name`. */
export function confirmDelete(name) {
  deleteName = name;
  $('delete-name').textContent = '\u201c' + visibleName(name) + '\u201d';
  $('delete-name-2').textContent = '\u201c' + visibleName(name) + '\u201d';
  const dlg = $('delete-dialog');
  dlg.returnValue = '';
  dlg.showModal();
  $('delete-cancel').focus();
}

export function initDeleteDialog() {
  const dlg = $('delete-dialog');
  dlg.addEventListener('close', () => {
    const name = deleteName;
    deleteName = null;
    if (dlg.returnValue === 'delete' && name !== null) runAction('delete_vm', name);
  });
  closeOnBackdrop(dlg);
}
