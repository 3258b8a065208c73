// Pure rules of the lifecycle dialogs: which cached images to offer, a name for a clone,
// the shared-folders text of Start with options, and byte counts. No DOM and no state
// (unit-tested with `node --test`).
import { isImage } from './vms.js';

/** Images on this Mac: tag entries, and digests no tag of the same repository names. */
export function localImageChoices(vms) {
  const images = vms.filter(isImage).map((v) => v.name);
  const tagged = new Set(images.filter((n) => !n.includes('@')).map((n) => n.slice(0, n.lastIndexOf(':'))));
  return images.filter((n) => !n.includes('@') || !tagged.has(n.slice(0, n.indexOf('@')))).sort();
}

/** A name suggestion: the image's repository or the VM's name, plus "-copy" for VMs. */
export function suggestName(src) {
  const at = src.search(/[:@][^/]*$/);
  const repo = at > 0 ? src.slice(0, at) : src;
  const last = repo.split('/').pop() || 'vm';
  return src.includes('/') ? last : last + '-copy';
}

/** "name:/path[:ro]" lines → [{name, path, read_only}], or a message about the first bad line. */
export function parseDirs(text) {
  const dirs = [];
  for (const raw of String(text || '').split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: 'Write each folder as name:/absolute/path (“' + line + '”).' };
    const name = line.slice(0, colon);
    let path = line.slice(colon + 1);
    let readOnly = false;
    if (path.endsWith(':ro')) {
      readOnly = true;
      path = path.slice(0, -3);
    }
    dirs.push({ name, path, read_only: readOnly });
  }
  return { dirs };
}

/** "1.5 GB" for a byte count (decimal units, as tart and Finder count). */
export function bytesText(n) {
  const v = Number(n) || 0;
  if (v >= 1e9) return (v / 1e9).toFixed(v >= 1e11 ? 0 : 1) + ' GB';
  if (v >= 1e6) return (v / 1e6).toFixed(1) + ' MB';
  if (v >= 1e3) return (v / 1e3).toFixed(0) + ' kB';
  return v + ' B';
}
