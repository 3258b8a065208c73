// Keyboard and mouse on the screen canvas, sent as RFB events through `client()` (the
// connection of the moment, or null). Keys are tracked by physical key so each release
// carries the keysym its press did, and everything held is released when the canvas
// loses focus, so no key stays down in the guest.
import { eventKeysym } from './keys.js';

/** Wheel distance (in pixels) that makes one wheel click. */
const WHEEL_STEP = 50;

export function attachInput(canvas, client) {
  const held = new Map();

  const releaseAll = () => {
    const c = client();
    for (const keysym of held.values()) if (c) c.key(keysym, false);
    held.clear();
  };

  canvas.addEventListener('keydown', (e) => {
    const c = client();
    const keysym = eventKeysym(e);
    if (!c || !keysym) return;
    e.preventDefault();
    held.set(e.code || e.key, keysym);
    c.key(keysym, true);
  });
  canvas.addEventListener('keyup', (e) => {
    const c = client();
    const id = e.code || e.key;
    const keysym = held.get(id) || eventKeysym(e);
    held.delete(id);
    if (!c || !keysym) return;
    e.preventDefault();
    c.key(keysym, false);
  });
  canvas.addEventListener('blur', releaseAll);

  // Pointer position in framebuffer pixels, whatever the canvas is scaled to.
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor(((e.clientX - box.left) * canvas.width) / Math.max(1, box.width));
    const y = Math.floor(((e.clientY - box.top) * canvas.height) / Math.max(1, box.height));
    return [x, y];
  };
  // DOM buttons bits (1 left, 2 right, 4 middle) → RFB (1 left, 2 middle, 4 right).
  const mask = (b) => (b & 1) | ((b & 4) >> 1) | ((b & 2) << 1);
  let buttons = 0;
  const send = (e) => {
    const c = client();
    if (!c) return;
    buttons = mask(e.buttons);
    const [x, y] = at(e);
    c.pointer(buttons, x, y);
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.focus();
    canvas.setPointerCapture(e.pointerId);
    e.preventDefault();
    send(e);
  });
  canvas.addEventListener('pointerup', send);
  canvas.addEventListener('pointermove', send);
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());

  let wheel = 0;
  canvas.addEventListener('wheel', (e) => {
    const c = client();
    if (!c) return;
    e.preventDefault();
    wheel += e.deltaMode === 0 ? e.deltaY : e.deltaY * WHEEL_STEP;
    const [x, y] = at(e);
    while (Math.abs(wheel) >= WHEEL_STEP) {
      const bit = wheel < 0 ? 8 : 16; // 8 up, 16 down
      c.pointer(buttons | bit, x, y);
      c.pointer(buttons, x, y);
      wheel -= Math.sign(wheel) * WHEEL_STEP;
    }
  }, { passive: false });

  return { releaseAll };
}
