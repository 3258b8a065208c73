// The Disk space dialog: what each VM and cached image uses, and Prune with a preview.
// tart prune has no dry-run; the server computes the preview by tart's rules
// (POST /api/prune/preview), and the Prune button only appears for a preview of the
// very options it will send, with the list and the total shown first.
import { api } from '../api.js';
import { h, appendBreakable } from '../dom.js';
import { state } from '../store.js';
import { isImage } from '../vms.js';
import { buildFormDialog, numberOrUndefined } from './form.js';
import { submitTask } from './submit.js';
import { bytesText } from '../lifecycle-rules.js';

/** The options the shown preview was made for (JSON), or '' when there is none. */
let previewed = '';

const usage = h('div', { class: 'lc-usage' });
const preview = h('div', { class: 'lc-preview', id: 'prune-preview', 'aria-live': 'polite' });
const previewBtn = h('button', { type: 'button', class: 'btn', id: 'prune-preview-btn', text: 'Preview' });
/** Built once: `form()` is called often and must not move these elements. */
const extra = h('div', {}, [h('div', { class: 'lc-row' }, [previewBtn]), preview]);

function form() {
  return buildFormDialog({
    id: 'prune-dialog',
    title: 'Disk space',
    intro: 'Prune removes what tart has not used for a while: cached images and restore images, or stopped VMs (suspended ones too). Running VMs are never removed.',
    submit: 'Prune',
    extra,
    fields: [
      {
        name: 'entries',
        label: 'Remove',
        type: 'select',
        options: [
          { value: 'caches', label: 'Cached images and IPSW files' },
          { value: 'vms', label: 'Stopped and suspended VMs' },
        ],
      },
      { name: 'older_than_days', label: 'Not used for (days)', type: 'number', min: 0, max: 36500, hint: 'Everything last used at least this many days ago.' },
      { name: 'space_budget_gb', label: 'Keep at most (GiB)', type: 'number', min: 0, max: 1000000, hint: 'Keeps the most recently used entries that fit; removes the rest. Give this, the days, or both.' },
    ],
  });
}

function body() {
  const v = form().values();
  const b = { entries: v.entries };
  const days = numberOrUndefined(v.older_than_days);
  const budget = numberOrUndefined(v.space_budget_gb);
  if (days !== undefined) b.older_than_days = days;
  if (budget !== undefined) b.space_budget_gb = budget;
  return b;
}

function renderUsage() {
  const rows = state.vms
    .map((v) => ({ name: v.name, kind: isImage(v) ? 'image' : 'VM', gb: Number(v.size_on_disk_gb) || 0, accessed: v.accessed || '' }))
    .sort((a, b) => b.gb - a.gb);
  const list = h('ul', { class: 'lc-list' });
  for (const r of rows) {
    const name = h('span', { class: 'lc-name' });
    appendBreakable(name, r.name);
    list.append(h('li', {}, [name, h('span', { class: 'muted', text: r.kind }), h('span', { class: 'lc-size', text: r.gb.toFixed(1) + ' GB' })]));
  }
  usage.replaceChildren(h('h3', { text: 'What uses space' }), rows.length ? list : h('p', { class: 'muted', text: 'No VMs or images.' }));
}

function resetPreview() {
  previewed = '';
  preview.replaceChildren();
  form().submitButton.hidden = true;
}

async function runPreview() {
  const f = form();
  f.clearErrors();
  resetPreview();
  const b = body();
  previewBtn.disabled = true;
  try {
    const answer = await api('POST', '/api/prune/preview', b);
    const entries = Array.isArray(answer.entries) ? answer.entries : [];
    if (!entries.length) {
      preview.replaceChildren(h('p', { class: 'muted', text: 'Nothing would be removed.' }));
      return;
    }
    const list = h('ul', { class: 'lc-list', id: 'prune-list' });
    for (const e of entries) {
      const name = h('span', { class: 'lc-name' });
      appendBreakable(name, String(e.name));
      list.append(
        h('li', {}, [name, h('span', { class: 'muted', text: String(e.kind) + ', used ' + String(e.accessed || '').replace('T', ' ').replace('Z', ' UTC') }), h('span', { class: 'lc-size', text: bytesText(e.size_bytes) })]),
      );
    }
    const total = h('p', { class: 'lc-total', id: 'prune-total', text: entries.length + (entries.length === 1 ? ' entry, ' : ' entries, ') + bytesText(answer.total_bytes) + ' in all' });
    preview.replaceChildren(h('h3', { text: 'Would be removed' }), list, total);
    previewed = JSON.stringify(b);
    f.submitButton.textContent = 'Prune ' + entries.length + (entries.length === 1 ? ' entry' : ' entries');
    f.submitButton.hidden = false;
  } catch (err) {
    f.showError(err);
  } finally {
    previewBtn.disabled = false;
  }
}

export function openPrune() {
  const f = form();
  f.form.reset();
  f.clearErrors();
  resetPreview();
  renderUsage();
  if (!usage.isConnected) f.form.querySelector('h2').after(usage);
  f.dlg.showModal();
  f.input('older_than_days').focus();
}

async function onSubmit(ev) {
  ev.preventDefault();
  const b = body();
  if (!previewed || JSON.stringify(b) !== previewed) {
    await runPreview();
    return;
  }
  await submitTask(form(), '/api/prune', b, 'Prune');
}

export function initPruneDialog() {
  const f = form();
  f.form.addEventListener('submit', onSubmit);
  previewBtn.addEventListener('click', runPreview);
  for (const name of ['entries', 'older_than_days', 'space_budget_gb']) {
    f.input(name).addEventListener('input', resetPreview);
    f.input(name).addEventListener('change', resetPreview);
  }
}
