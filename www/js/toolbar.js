// The toolbar: refresh, filter, status filter, sort, cards/list view, and the "/"
// shortcut that focuses the filter.
import { $ } from './dom.js';
import { refreshInventory } from './inventory.js';
import { state, renderNow, writeStorage, STORAGE_SORT, STORAGE_VIEW } from './store.js';

function setView(view) {
  state.view = view === 'list' ? 'list' : 'cards';
  writeStorage(localStorage, STORAGE_VIEW, state.view);
  renderNow();
}

export function initToolbar() {
  $('sort').value = ['name', 'name-desc', 'status'].includes(state.sort) ? state.sort : 'name';
  state.sort = $('sort').value;
  $('refresh-btn').addEventListener('click', () => refreshInventory({ quiet: false }));
  $('filter-text').addEventListener('input', (ev) => {
    state.filterText = ev.target.value;
    renderNow();
  });
  $('filter-status').addEventListener('change', (ev) => {
    state.filterStatus = ev.target.value;
    renderNow();
  });
  $('sort').addEventListener('change', (ev) => {
    state.sort = ev.target.value;
    writeStorage(localStorage, STORAGE_SORT, state.sort);
    renderNow();
  });
  $('clear-filter-btn').addEventListener('click', () => {
    state.filterText = '';
    state.filterStatus = '';
    $('filter-text').value = '';
    $('filter-status').value = '';
    renderNow();
    $('filter-text').focus();
  });
  $('view-cards').addEventListener('click', () => setView('cards'));
  $('view-list').addEventListener('click', () => setView('list'));

  // "/" focuses the filter, like many native tools.
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (typing || document.querySelector('dialog[open]')) return;
    if (ev.key === '/') {
      ev.preventDefault();
      $('filter-text').focus();
    }
  });
}
