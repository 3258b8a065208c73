// The lifecycle part of the page: the New VM, Disk space and Registries buttons in the
// top bar, and the dialogs that make and change VMs (one module each in dialogs/).
import { $, h, svgIcon } from './dom.js';
import { onRender, state } from './store.js';
import { initCloneDialog } from './dialogs/clone.js';
import { initCreateDialog, openCreate } from './dialogs/create.js';
import { initPruneDialog, openPrune } from './dialogs/prune.js';
import { initRegistriesDialog, openRegistries } from './dialogs/registries.js';
import { initRenameDialog } from './dialogs/rename.js';
import { initSettingsDialog } from './dialogs/settings.js';
import { initStartDialog } from './dialogs/start.js';

const PLUS = 'M8 3v10M3 8h10';
const DISK = 'M2.5 10.5h11v3h-11zM3.5 10.5l1.5-7h6l1.5 7M11 12h.01';
const KEY = 'M10 3.5a2.5 2.5 0 1 1 0 5 2.5 2.5 0 0 1 0-5zM8.2 7.8 3 13M4.5 11.5 6 13';

function topButton(id, label, icon, onClick, primary) {
  const btn = h('button', { type: 'button', class: 'btn' + (primary ? ' btn-primary' : ''), id });
  btn.append(svgIcon(icon), h('span', { text: label }));
  btn.addEventListener('click', onClick);
  return btn;
}

export function initLifecycle() {
  initCreateDialog();
  initCloneDialog();
  initSettingsDialog();
  initRenameDialog();
  initStartDialog();
  initPruneDialog();
  initRegistriesDialog();
  const buttons = [
    topButton('registries-btn', 'Registries', KEY, openRegistries),
    topButton('disk-btn', 'Disk space', DISK, openPrune),
    topButton('create-btn', 'New VM', PLUS, () => openCreate(), true),
  ];
  $('pull-btn').before(...buttons);
  $('pull-btn').classList.remove('btn-primary');
  onRender(() => {
    for (const b of buttons) b.disabled = !state.online;
  });
}
