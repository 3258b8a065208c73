// Keyboard → X11 keysyms (what RFB KeyEvents carry), and the key combinations the
// Keys menu sends. Printable characters go by what the key produces (`event.key`), so
// the guest gets the character the user's layout typed; other keys go by name.

/** Keysyms of named keys (X11 keysymdef.h values). */
const NAMED = {
  Backspace: 0xff08, Tab: 0xff09, Enter: 0xff0d, Escape: 0xff1b, Delete: 0xffff,
  Home: 0xff50, ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  PageUp: 0xff55, PageDown: 0xff56, End: 0xff57, Insert: 0xff63, ContextMenu: 0xff67,
  CapsLock: 0xffe5, NumLock: 0xff7f, ScrollLock: 0xff14, Pause: 0xff13, PrintScreen: 0xff61,
};

/** Modifiers by physical key, so left and right stay apart. Cmd is Super. */
const MODIFIERS = {
  ShiftLeft: 0xffe1, ShiftRight: 0xffe2, ControlLeft: 0xffe3, ControlRight: 0xffe4,
  AltLeft: 0xffe9, AltRight: 0xffea, MetaLeft: 0xffeb, MetaRight: 0xffec,
  OSLeft: 0xffeb, OSRight: 0xffec,
};

export const KEYSYM = {
  shift: 0xffe1, ctrl: 0xffe3, alt: 0xffe9, cmd: 0xffeb, del: 0xffff, tab: 0xff09,
  esc: 0xff1b, space: 0x20, q: 0x71, f1: 0xffbe, f2: 0xffbf,
};

/** The keysym of a character: Latin-1 as is, the rest as Unicode keysyms. */
export function charKeysym(ch) {
  const code = ch.codePointAt(0);
  if (code === 10 || code === 13) return NAMED.Enter;
  if (code === 9) return NAMED.Tab;
  if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
  return 0x01000000 + code;
}

/** The keysym for a keyboard event, or 0 when it has none. */
export function eventKeysym(e) {
  if (MODIFIERS[e.code]) return MODIFIERS[e.code];
  if (NAMED[e.key]) return NAMED[e.key];
  const f = /^F([1-9]|1[0-9]|2[0-4])$/.exec(e.key);
  if (f) return 0xffbe + Number(f[1]) - 1;
  if (e.key === 'Shift') return MODIFIERS.ShiftLeft;
  if (e.key === 'Control') return MODIFIERS.ControlLeft;
  if (e.key === 'Alt') return MODIFIERS.AltLeft;
  if (e.key === 'Meta') return MODIFIERS.MetaLeft;
  if ([...e.key].length === 1) return charKeysym(e.key);
  return 0;
}

/** The Keys menu: each combination as keysyms pressed in order, released in reverse. */
export const COMBOS = {
  'ctrl-alt-del': [KEYSYM.ctrl, KEYSYM.alt, KEYSYM.del],
  'cmd-tab': [KEYSYM.cmd, KEYSYM.tab],
  'cmd-space': [KEYSYM.cmd, KEYSYM.space],
  'cmd-q': [KEYSYM.cmd, KEYSYM.q],
  'cmd-opt-esc': [KEYSYM.cmd, KEYSYM.alt, KEYSYM.esc],
  'ctrl-alt-f1': [KEYSYM.ctrl, KEYSYM.alt, KEYSYM.f1],
  'ctrl-alt-f2': [KEYSYM.ctrl, KEYSYM.alt, KEYSYM.f2],
};
