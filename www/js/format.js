// Pure formatting: labels for what tart reports, readable error sentences, the rows
// of the details panel. No DOM and no state, so `node --test` checks it without a
// browser (tests/ui/unit/).

/** Local time of day for a Unix timestamp in seconds, or '' for anything else. */
export function formatTime(unixSecs) {
  if (typeof unixSecs !== 'number' || !isFinite(unixSecs)) return '';
  const d = new Date(unixSecs * 1000);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function osLabel(os) {
  if (!os) return '—';
  const o = String(os).toLowerCase();
  if (o === 'darwin' || o === 'macos') return 'macOS';
  if (o === 'linux') return 'Linux';
  return String(os);
}

export function diskLabel(d) {
  if (d === null || d === undefined || d === '') return '—';
  if (typeof d === 'number') return d + ' GB';
  const s = String(d);
  const m = /^(\d+(?:\.\d+)?)\s*G(?:B)?$/i.exec(s);
  if (m) return m[1] + ' GB';
  if (/^\d+(?:\.\d+)?$/.test(s)) return s + ' GB';
  return s;
}

export function memoryLabel(m) {
  if (m === null || m === undefined || m === '') return '—';
  if (typeof m === 'number') return m + ' MB';
  const s = String(m);
  const g = /^(\d+(?:\.\d+)?)\s*G(?:B|iB)?$/i.exec(s);
  if (g) return g[1] + ' GB';
  const mm = /^(\d+(?:\.\d+)?)\s*M(?:B|iB)?$/i.exec(s);
  if (mm) return mm[1] + ' MB';
  return s;
}

export function cpuLabel(c) {
  if (c === null || c === undefined || c === '') return '—';
  const n = Number(c);
  if (Number.isFinite(n)) return n === 1 ? '1 core' : n + ' cores';
  return String(c);
}

/**
 * Space a VM uses, from tart's `Size` (GB as a string with three decimals, "12.345"):
 * whole GB from 10 up, one decimal below, "under 0.1 GB" for a VM that uses next to none.
 */
export function usedLabel(size) {
  const n = typeof size === 'number' ? size : Number.parseFloat(String(size));
  if (!Number.isFinite(n) || n < 0) return size === null || size === undefined || size === '' ? '—' : String(size);
  if (n === 0) return '0 GB';
  if (n < 0.1) return 'under 0.1 GB';
  if (n < 10) return (Math.round(n * 10) / 10).toString() + ' GB';
  return Math.round(n).toString() + ' GB';
}

/** "3" or "2 of 3": how many items a filtered list shows. */
export function countText(shown, total) {
  return shown === total ? String(total) : shown + ' of ' + total;
}

/** Turns an error body into one readable sentence (plain or FastAPI 422). */
export function detailText(body, status) {
  if (body && typeof body === 'object') {
    const d = body.detail;
    if (typeof d === 'string' && d.trim()) return d;
    if (Array.isArray(d) && d.length) {
      return d
        .map((item) => {
          if (!item || typeof item !== 'object') return String(item);
          const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== 'body') : [];
          const raw = String(item.msg || item.type || 'invalid value');
          // The predecessor's validators prefix their own sentence with "Value error, ";
          // that sentence names the problem, so neither it nor the field name is shown.
          const own = /^(value|assertion) error,\s*/i.exec(raw);
          const rest = own ? raw.slice(own[0].length) : raw;
          const msg = rest.charAt(0).toUpperCase() + rest.slice(1);
          return own || !loc.length ? msg : loc.join('.') + ': ' + msg;
        })
        .join('; ');
    }
    if (d && typeof d === 'object') return JSON.stringify(d);
  }
  if (status === 0) return 'The server could not be reached.';
  return 'The server answered HTTP ' + status + '.';
}

/** The [label, value] rows of the details panel, from a config answer and the VM row. */
export function configRows(cfg, vm) {
  const c = cfg && typeof cfg === 'object' ? cfg : {};
  const raw = c.raw && typeof c.raw === 'object' ? c.raw : {};
  const v = vm || {};
  const rows = [
    ['CPU', cpuLabel(c.cpu ?? raw.CPU ?? v.cpu)],
    ['Memory', memoryLabel(c.memory ?? v.memory)],
    ['Disk', diskLabel(c.disk_size ?? v.disk_size)],
    ['Display', raw.Display || v.display || '—'],
    ['OS', osLabel(raw.OS || v.os)],
  ];
  if (raw.DiskFormat) rows.push(['Disk format', String(raw.DiskFormat)]);
  if (raw.Size !== undefined) rows.push(['Space used', usedLabel(raw.Size)]);
  if (raw.State) rows.push(['Tart state', String(raw.State)]);
  return rows;
}

// Characters that change how a name looks without showing themselves: bidi controls
// (U+202E turns "evil\u202egnp.exe" into "evilexe.png"), zero-width and other invisible
// format characters, control characters, and spaces other than the plain one.
const HIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u00a0\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]/g;

/**
 * A VM name as it must be shown so it cannot pass for another (tart accepts any name):
 * hidden characters as `\u202e` escapes, and leading or trailing spaces as `␣`.
 */
export function visibleName(name) {
  const escaped = String(name).replace(HIDDEN_CHARS, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const m = /^( *)(.*?)( *)$/s.exec(escaped);
  return '\u2423'.repeat(m[1].length) + m[2] + '\u2423'.repeat(m[3].length);
}
