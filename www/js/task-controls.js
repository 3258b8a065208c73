// A task's buttons: Cancel while the server says it can be cancelled (`cancellable`),
// Retry after it failed (for actions the page can ask for again from the task alone).
// Stands above tasks.js: it submits through it, and follows each entry's changes on
// the 'task-updated' event, so tasks.js never imports it back.
import { api } from './api.js';
import { h } from './dom.js';
import { on } from './store.js';
import { errorToast } from './toast.js';
import { addTask, runAction } from './tasks.js';
import { isTerminal } from './vms.js';

/** Actions a failed task can be retried from its record alone (no form to refill). */
const RETRYABLE = new Set(['start_vm', 'stop_vm', 'delete_vm', 'suspend_vm', 'pull_vm']);

async function cancel(task, button) {
  button.disabled = true;
  try {
    await api('POST', '/api/tasks/' + encodeURIComponent(task.id) + '/cancel', {});
  } catch (err) {
    button.disabled = false;
    errorToast('Cancel failed', err);
  }
}

async function retry(task, button) {
  button.disabled = true;
  try {
    if (task.action === 'pull_vm') {
      addTask(await api('POST', '/api/vms/pull', { oci_url: String(task.vm_name || '') }));
    } else {
      await runAction(task.action, String(task.vm_name || ''));
    }
  } catch (err) {
    errorToast('Retry failed', err);
  } finally {
    button.disabled = false;
  }
}

/** Keeps every task entry's buttons up to date from now on. */
export function initTaskControls() {
  on('task-updated', updateTaskControls);
}

/** Shows the buttons that apply to `entry.task` now. */
function updateTaskControls(entry) {
  const task = entry.task;
  let box = entry.el.querySelector('.task-controls');
  if (!box) {
    box = h('div', { class: 'task-controls' });
    entry.el.querySelector('.task-head').after(box);
  }
  const want = [];
  if (!entry.placeholder && task.cancellable === true && !isTerminal(task.status)) want.push('cancel');
  if (!entry.placeholder && task.status === 'failed' && RETRYABLE.has(task.action) && task.vm_name) want.push('retry');
  const have = [...box.children].map((b) => b.dataset.control);
  if (have.join() === want.join()) return;
  box.replaceChildren();
  for (const control of want) {
    const label = control === 'cancel' ? 'Cancel' : 'Retry';
    const b = h('button', {
      type: 'button',
      class: 'btn btn-small' + (control === 'cancel' ? ' btn-quiet' : ''),
      text: label,
      'aria-label': label + ' ' + (task.action || 'task') + ' ' + (task.vm_name || ''),
    });
    b.dataset.control = control;
    b.addEventListener('click', () => (control === 'cancel' ? cancel(entry.task, b) : retry(entry.task, b)));
    box.append(b);
  }
  box.hidden = want.length === 0;
}
