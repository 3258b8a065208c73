// Sending a dialog's request: the form is busy meanwhile, a refusal stays in the dialog
// next to its field, an accepted task closes it and is followed in the Tasks panel.
import { api } from '../api.js';
import { announce } from '../dom.js';
import { on, state } from '../store.js';
import { addTask, runAction } from '../tasks.js';
import { isTerminal } from '../vms.js';

/** Tasks whose VM is started once they complete ("start when ready"). */
const startWhenDone = new Map();

on('task-finished', (task) => {
  const name = task && startWhenDone.get(task.id);
  if (!name) return;
  startWhenDone.delete(task.id);
  if (task.status === 'completed') runAction('start_vm', name);
});

/**
 * POSTs `body` to `path` for the dialog `form` (from buildFormDialog); on 202 closes it,
 * follows the task and says `what`. With `startAfter`, starts VM `startAfter` when the
 * task completes. Resolves to the task, or null when refused.
 */
export async function submitTask(form, path, body, what, startAfter) {
  form.clearErrors();
  form.busy(true);
  try {
    const task = await api('POST', path, body);
    form.dlg.close();
    addTask(task);
    if (startAfter) {
      // The event stream may have brought the task's end before this answer: its
      // 'task-finished' has then passed already, so start now.
      const status = state.tasks.get(task.id)?.task.status;
      if (status === 'completed') runAction('start_vm', startAfter);
      else if (!isTerminal(status)) startWhenDone.set(task.id, startAfter);
    }
    announce(what + ': started.');
    return task;
  } catch (err) {
    form.showError(err);
    return null;
  } finally {
    form.busy(false);
  }
}
