// One task's element in the Tasks panel: created once, then updated in place from each
// task record (status, progress, result with IP and VNC link, error, log). Appending
// only new log lines keeps the reader's scroll position and selection.
import { actionLabel, taskTitle } from './actions.js';
import { copyText } from './clipboard.js';
import { h, svgIcon, ICONS, appendBreakable } from './dom.js';
import { screenLink } from './screen-link.js';
import { formatTime } from './format.js';
import { isTerminal } from './vms.js';

/** Log lines kept per task in the page (the server caps them too). */
export const MAX_LOG_LINES = 2000;

export function createTaskEl(task) {
  const li = h('li', { class: 'task' });
  const title = h('h3', { class: 'task-title' }, [
    h('span', { class: 'task-verb', text: actionLabel(task.action) }),
    ' ',
    h('span', { class: 'task-target' }),
  ]);
  appendBreakable(title.querySelector('.task-target'), task.vm_name || '');
  const head = h('div', { class: 'task-head' }, [title, h('span', { class: 'task-status' })]);
  const meta = h('p', { class: 'task-meta' }, [h('time', { class: 'task-time' }), h('span', { class: 'task-mode' })]);
  const progress = h('div', { class: 'task-progress', hidden: true }, [
    h('progress', { max: '100', 'aria-label': 'Pull progress of ' + (task.vm_name || 'image') }),
    h('span', { class: 'task-percent' }),
  ]);
  const result = h('div', { class: 'task-result', hidden: true });
  const error = h('p', { class: 'task-error', hidden: true });
  const logPre = h('pre', { class: 'task-log', tabindex: '0', 'aria-label': 'Log of ' + taskTitle(task) });
  // The log is open while the task runs and folds away when it ends.
  const log = h('details', { class: 'task-log-wrap', open: !isTerminal(task.status) }, [
    h('summary', {}, [h('span', { class: 'task-log-summary', text: 'Log' })]),
    logPre,
  ]);
  li.append(head, meta, progress, result, error, log);
  return li;
}

/**
 * A start's VNC link works only while that run lasts: `live` false turns it into plain
 * text (no href, so nothing opens a screen that is gone), true makes it a link again.
 */
export function showVncLive(el, live) {
  const link = el.querySelector('a.vnc-link');
  if (!link) return;
  if (live) {
    link.setAttribute('href', link.dataset.href);
    link.classList.remove('is-stale');
    link.removeAttribute('aria-disabled');
    link.removeAttribute('title');
  } else {
    link.removeAttribute('href');
    link.classList.add('is-stale');
    link.setAttribute('aria-disabled', 'true');
    link.title = 'The VM has stopped since';
  }
}

/** Shows how the task is followed: 'live', 'polling', 'connecting' or ''. */
export function showTaskMode(el, mode) {
  const m = el.querySelector('.task-mode');
  m.textContent = mode === 'live' ? 'live' : mode === 'polling' ? 'polling' : mode === 'connecting' ? 'connecting…' : '';
  m.title =
    mode === 'live'
      ? 'Following this task over a WebSocket'
      : mode === 'polling'
        ? 'The live connection dropped; checking the task every second'
        : '';
}

/**
 * Updates the element of `entry` ({ el, shownLines }) from `task`; returns the error
 * text shown ('' unless failed).
 */
export function updateTaskEl(entry, task) {
  const el = entry.el;
  const status = String(task.status || 'pending');
  el.dataset.status = status;
  el.dataset.action = String(task.action || '');
  const statusEl = el.querySelector('.task-status');
  statusEl.textContent = status;
  statusEl.className = 'task-status status-' + status;
  el.querySelector('.task-time').textContent = formatTime(task.created_at);

  // Progress: pulls report a percentage; before the first number it is indeterminate.
  const isPull = task.action === 'pull_vm';
  const pwrap = el.querySelector('.task-progress');
  const bar = pwrap.querySelector('progress');
  const pct = typeof task.progress === 'number' && isFinite(task.progress) ? Math.max(0, Math.min(100, task.progress)) : null;
  pwrap.hidden = !(isPull || pct !== null) || (status === 'failed' && pct === null);
  if (pct !== null || status === 'completed') {
    const v = status === 'completed' && isPull ? 100 : pct;
    bar.value = v;
    // Long tasks with phases (clone from an image, create from an IPSW) name the phase.
    const stage = task.stage ? String(task.stage) + ' ' : '';
    pwrap.querySelector('.task-percent').textContent = stage + Math.round(v) + '%';
  } else {
    bar.removeAttribute('value');
    pwrap.querySelector('.task-percent').textContent = '';
  }

  // Result: message, IP with copy button, VNC link.
  const res = el.querySelector('.task-result');
  res.replaceChildren();
  const r = task.result && typeof task.result === 'object' ? task.result : null;
  if (r) {
    if (r.message) res.append(h('p', { class: 'task-message', text: String(r.message) }));
    if (r.ip_address) {
      const ip = String(r.ip_address);
      const copy = h('button', { type: 'button', class: 'btn btn-icon btn-quiet', 'aria-label': 'Copy IP address ' + ip, title: 'Copy IP address' });
      copy.append(svgIcon(ICONS.copy));
      copy.addEventListener('click', () => copyText(ip, copy, 'IP address'));
      res.append(h('p', { class: 'task-ip' }, [h('span', { class: 'muted', text: 'IP ' }), h('code', { text: ip }), copy]));
    }
    if (r.vnc_url && /^vnc:\/\//i.test(String(r.vnc_url))) {
      const link = h('a', { href: String(r.vnc_url), class: 'vnc-link', text: String(r.vnc_url) });
      link.dataset.href = String(r.vnc_url);
      res.append(h('p', { class: 'task-vnc' }, [link]));
    }
    // tart's own VNC server (display vnc): its screen opens in the browser.
    if (task.action === 'start_vm' && task.vm_name && /^vnc:\/\/:[^@]+@127\.0\.0\.1:\d+$/.test(String(r.vnc_url || ''))) {
      res.append(h('p', { class: 'task-screen' }, [screenLink(String(task.vm_name))]));
    }
  }
  res.hidden = !res.firstChild;

  const errEl = el.querySelector('.task-error');
  const errText = status === 'failed' ? String(task.error || task.stderr || 'The task failed.') : '';
  errEl.textContent = errText;
  errEl.hidden = !errText;

  // Log: append only what is new when the lines only grew, so scrolling and selection survive.
  const pre = el.querySelector('.task-log');
  const lines = Array.isArray(task.logs) ? task.logs.slice(-MAX_LOG_LINES).map(String) : [];
  const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  const shown = entry.shownLines || [];
  const grewOnly = shown.length <= lines.length && shown.every((l, i) => l === lines[i]);
  if (grewOnly) {
    if (lines.length > shown.length) pre.append(document.createTextNode(lines.slice(shown.length).map((l) => l + '\n').join('')));
  } else {
    pre.textContent = lines.map((l) => l + '\n').join('');
  }
  entry.shownLines = lines;
  el.querySelector('.task-log-summary').textContent = 'Log (' + lines.length + (lines.length === 1 ? ' line)' : ' lines)');
  el.querySelector('.task-log-wrap').hidden = lines.length === 0;
  if (atBottom) pre.scrollTop = pre.scrollHeight;
  return errText;
}
