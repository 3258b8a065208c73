// The New VM dialog (POST /api/vms/create): from an image (Cirrus Labs' catalog and
// the images already on this Mac, a tag and its digest shown as one entry), from one
// of your VMs, an empty Linux VM, or macOS from an IPSW; name, CPUs, memory, disk, and
// "start when ready".
import { api } from '../api.js';
import { h } from '../dom.js';
import { visibleName } from '../format.js';
import { state } from '../store.js';
import { isImage } from '../vms.js';
import { buildFormDialog, numberOrUndefined } from './form.js';
import { submitTask } from './submit.js';
import { localImageChoices } from '../lifecycle-rules.js';

const KINDS = [
  { value: 'image', label: 'An image' },
  { value: 'vm', label: 'One of my VMs' },
  { value: 'linux', label: 'Nothing: an empty Linux VM' },
  { value: 'macos', label: 'macOS from an IPSW restore image' },
];

function form() {
  return buildFormDialog({
    id: 'create-dialog',
    title: 'New virtual machine',
    intro: 'Tart clones an image or a VM (pulling what is missing), or creates an empty disk.',
    submit: 'Create',
    alias: (name) => (name === 'source_vm' ? (kindOf() === 'vm' ? 'vm' : 'image') : name),
    fields: [
      { name: 'kind', label: 'Make it from', type: 'select', options: KINDS },
      { name: 'image', label: 'Image', type: 'select', hint: 'Images on this Mac first, then Cirrus Labs’ public images (macOS: user admin / admin).' },
      { name: 'vm', label: 'VM to copy', type: 'select' },
      { name: 'ipsw', label: 'Restore image', type: 'text', placeholder: 'latest', hint: '“latest”, an https:// URL or a path to an .ipsw file. Downloading and installing take a long while.' },
      { name: 'name', label: 'Name', type: 'text', placeholder: 'my-vm' },
      { name: 'cpu', label: 'CPUs', type: 'number', min: 1, max: 128, hint: '1 to 128. Empty keeps what the source has (new VMs: 4).' },
      { name: 'memory', label: 'Memory (GB)', type: 'number', min: 1, max: 1024, hint: '1 to 1024 GB. Empty keeps the source’s (new VMs: 4 GB).' },
      { name: 'disk_size', label: 'Disk (GB)', type: 'number', min: 10, max: 16384, hint: '10 to 16384 GB. A copy’s disk can only grow; new VMs: 50 GB.' },
      { name: 'start', label: 'Start when ready', type: 'checkbox' },
    ],
  });
}

function kindOf() {
  return form().input('kind').value;
}

/** Shows the fields that apply to the chosen kind. */
function showFields() {
  const f = form();
  const kind = kindOf();
  f.field('image').hidden = kind !== 'image';
  f.field('vm').hidden = kind !== 'vm';
  f.field('ipsw').hidden = kind !== 'macos';
}

async function fillImages(preselect) {
  const select = form().input('image');
  select.replaceChildren();
  const local = localImageChoices(state.vms);
  if (local.length) {
    const group = h('optgroup', { label: 'On this Mac' });
    for (const ref of local) group.append(h('option', { value: ref, text: ref }));
    select.append(group);
  }
  let catalog = [];
  try {
    catalog = await api('GET', '/api/vms/available-images');
  } catch (_) {
    /* the local images still work */
  }
  const group = h('optgroup', { label: 'Cirrus Labs images' });
  for (const image of Array.isArray(catalog) ? catalog : []) {
    for (const tag of image.tags || []) {
      const ref = image.url + ':' + tag;
      if (local.includes(ref)) continue;
      const pulled = (image.pulled_tags || []).includes(tag) ? ' (pulled)' : '';
      group.append(h('option', { value: ref, text: image.name + ':' + tag + pulled, title: image.description }));
    }
  }
  if (group.childElementCount) select.append(group);
  if (preselect) select.value = preselect;
}

function fillVms(preselect) {
  const select = form().input('vm');
  select.replaceChildren();
  for (const vm of state.vms.filter((v) => !isImage(v))) select.append(h('option', { value: vm.name, text: visibleName(vm.name) }));
  if (preselect) select.value = preselect;
}

/** Opens the dialog; `opts.image` or `opts.vm` preselects a source. */
export async function openCreate(opts) {
  const f = form();
  f.form.reset();
  f.clearErrors();
  f.input('kind').value = opts && opts.vm ? 'vm' : 'image';
  fillVms(opts && opts.vm);
  showFields();
  f.dlg.showModal();
  f.input('name').focus();
  await fillImages(opts && opts.image);
}

async function onSubmit(ev) {
  ev.preventDefault();
  const f = form();
  const v = f.values();
  const body = { name: v.name };
  if (v.kind === 'image') body.source_vm = v.image;
  else if (v.kind === 'vm') body.source_vm = v.vm;
  else body.os = v.kind;
  if (v.kind === 'macos' && v.ipsw) body.ipsw = v.ipsw;
  for (const k of ['cpu', 'memory', 'disk_size']) {
    const n = numberOrUndefined(v[k]);
    if (n !== undefined) body[k] = n;
  }
  if (!v.name) {
    f.setError('name', 'Give the VM a name.');
    f.input('name').focus();
    return;
  }
  await submitTask(f, '/api/vms/create', body, 'New VM ' + v.name, v.start ? v.name : null);
}

export function initCreateDialog() {
  const f = form();
  f.form.addEventListener('submit', onSubmit);
  f.input('kind').addEventListener('change', showFields);
}
