// The pull dialog (#pull-dialog): an OCI reference, example chips, the server's
// validation message shown inline.
import { api } from '../api.js';
import { $, announce } from '../dom.js';
import { addTask } from '../tasks.js';
import { closeOnBackdrop } from './common.js';

export function openPull() {
  const dlg = $('pull-dialog');
  $('pull-error').hidden = true;
  $('pull-error').textContent = '';
  $('pull-ref').removeAttribute('aria-invalid');
  $('pull-submit').disabled = false;
  dlg.showModal();
  $('pull-ref').focus();
  $('pull-ref').select();
}

function showPullError(message) {
  $('pull-error').textContent = message;
  $('pull-error').hidden = false;
  $('pull-ref').setAttribute('aria-invalid', 'true');
  $('pull-ref').focus();
}

async function submit(ev) {
  ev.preventDefault();
  const ref = $('pull-ref').value.trim();
  if (!ref) {
    showPullError('Enter an image reference, for example ghcr.io/cirruslabs/ubuntu:latest.');
    return;
  }
  $('pull-submit').disabled = true;
  $('pull-submit').setAttribute('aria-busy', 'true');
  try {
    const task = await api('POST', '/api/vms/pull', { oci_url: ref });
    $('pull-dialog').close();
    addTask(task);
    announce('Pull of ' + ref + ' started.');
  } catch (err) {
    showPullError(err.network ? 'The server could not be reached. Try again when it is back.' : err.message);
  } finally {
    $('pull-submit').disabled = false;
    $('pull-submit').removeAttribute('aria-busy');
  }
}

export function initPullDialog() {
  $('pull-form').addEventListener('submit', submit);
  $('pull-ref').addEventListener('input', () => {
    if (!$('pull-error').hidden) {
      $('pull-error').hidden = true;
      $('pull-ref').removeAttribute('aria-invalid');
    }
  });
  for (const chip of document.querySelectorAll('.chip[data-ref]')) {
    chip.addEventListener('click', () => {
      $('pull-ref').value = chip.dataset.ref;
      $('pull-ref').dispatchEvent(new Event('input'));
      $('pull-ref').focus();
    });
  }
  $('pull-cancel').addEventListener('click', () => $('pull-dialog').close());
  $('pull-btn').addEventListener('click', openPull);
  $('empty-pull-btn').addEventListener('click', openPull);
  closeOnBackdrop($('pull-dialog'));
}
