// The console page (/console?vm=<name>): asks the API for a console ticket, connects
// the RFB client to it, draws the VM's screen on the canvas, forwards keyboard, mouse
// and clipboard, and keeps the state line honest: connecting, connected, VM stopped,
// disconnected (with Reconnect).
import { api, TOKEN } from '../api.js';
import { $ } from '../dom.js';
import { detailText } from '../format.js';
import { COMBOS, charKeysym } from './keys.js';
import { attachInput } from './input.js';
import { RfbClient } from './rfb.js';

const vm = new URLSearchParams(location.search).get('vm') || '';
const canvas = $('console-screen');
const stage = $('console-stage');
const ctx = canvas.getContext('2d', { alpha: false });

/** The connection of the moment, or null between connections. */
let client = null;
/** Fit the screen to the window (true) or show it pixel for pixel. */
let fit = true;

function setState(state, text) {
  const line = $('console-state');
  line.dataset.state = state;
  $('console-state-text').textContent = text;
  $('console-reconnect').hidden = state === 'connected' || state === 'connecting';
  stage.classList.toggle('is-stale', state !== 'connected');
  document.title = (vm ? vm + ' — ' : '') + 'Screen — taartenfabriek';
}

function layout() {
  if (!canvas.width || !canvas.height) return;
  stage.classList.toggle('is-native', !fit);
  if (!fit) {
    canvas.style.width = canvas.width + 'px';
    canvas.style.height = canvas.height + 'px';
    return;
  }
  const scale = Math.min(stage.clientWidth / canvas.width, stage.clientHeight / canvas.height);
  canvas.style.width = Math.floor(canvas.width * scale) + 'px';
  canvas.style.height = Math.floor(canvas.height * scale) + 'px';
}

const handlers = {
  init(width, height, name) {
    canvas.width = width;
    canvas.height = height;
    canvas.dataset.name = name;
    layout();
    setState('connected', 'Connected · ' + width + '×' + height);
    canvas.focus();
  },
  resize(width, height) {
    canvas.width = width;
    canvas.height = height;
    layout();
    setState('connected', 'Connected · ' + width + '×' + height);
  },
  raw(x, y, w, h, rgba) {
    ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), w, h), x, y);
  },
  copy(sx, sy, x, y, w, h) {
    ctx.drawImage(canvas, sx, sy, w, h, x, y, w, h);
  },
  cutText(text) {
    $('console-clip-guest').textContent = text;
  },
  bell() {
    stage.animate([{ opacity: 0.6 }, { opacity: 1 }], { duration: 150 });
  },
  closed(reason, refused) {
    client = null;
    input.releaseAll();
    if (refused) setState('failed', reason || 'The VM refused the console.');
    else setState('disconnected', 'Disconnected' + (reason ? ': ' + reason : ''));
    watchStatus();
  },
};

/** How often a page without a connection asks whether the VM still runs (2 s). */
const STATUS_POLL_MS = 2000;

/**
 * While there is no connection, asks the server about the VM until it is known to be
 * stopped, so the state line says "VM stopped" when that is why the screen went away
 * (the server learns of a stop a moment after the screen closes).
 */
let watching = false;
async function watchStatus() {
  if (watching) return;
  watching = true;
  try {
    await pollStatus();
  } finally {
    watching = false;
  }
}

async function pollStatus() {
  while (!client) {
    try {
      const info = await api('GET', '/api/vms/' + encodeURIComponent(vm));
      if (client) return;
      if (info.status !== 'running') {
        setState('stopped', 'VM stopped');
        return;
      }
    } catch (_) {
      // Not reachable now; try again.
    }
    await new Promise((resolve) => setTimeout(resolve, STATUS_POLL_MS));
  }
}

const input = attachInput(canvas, () => client);

async function connect() {
  if (client) return;
  if (!vm) {
    setState('failed', 'No VM named: open this page from a VM’s “Open screen”.');
    return;
  }
  if (!TOKEN) {
    setState('failed', 'This page needs the server’s token: open it with “Open screen” in the VM list.');
    return;
  }
  setState('connecting', 'Connecting…');
  let ticket;
  try {
    ticket = await api('POST', '/api/vms/' + encodeURIComponent(vm) + '/console');
  } catch (err) {
    const detail = detailText(err.body) || err.message;
    if (err.status === 409 && /not running/.test(detail)) setState('stopped', 'VM stopped');
    else setState('failed', detail);
    watchStatus();
    return;
  }
  client = new RfbClient(ticket.url, handlers);
}

function sendCombo(keys) {
  if (!client) return;
  for (const k of keys) client.key(k, true);
  for (const k of [...keys].reverse()) client.key(k, false);
}

$('console-vm').textContent = vm;
$('console-reconnect').addEventListener('click', connect);
$('console-scale').addEventListener('click', () => {
  fit = !fit;
  $('console-scale').setAttribute('aria-pressed', String(fit));
  layout();
});
for (const button of document.querySelectorAll('[data-combo]')) {
  button.addEventListener('click', () => {
    sendCombo(COMBOS[button.dataset.combo]);
    $('console-keys').open = false;
    canvas.focus();
  });
}
$('console-clip-send').addEventListener('click', () => {
  if (client) client.cutText($('console-clip-text').value);
});
$('console-clip-type').addEventListener('click', () => {
  if (!client) return;
  for (const ch of $('console-clip-text').value) {
    const keysym = charKeysym(ch);
    client.key(keysym, true);
    client.key(keysym, false);
  }
  $('console-clip').open = false;
  canvas.focus();
});
window.addEventListener('resize', layout);
connect();
