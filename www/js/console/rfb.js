// An RFB 3.8 client (RFC 6143) over the console WebSocket, written for this project.
//
// The server has already authenticated with the VM's VNC server and offers this page
// security type None; everything after that is the VNC server's own bytes. Supported:
// Raw and CopyRect updates, the DesktopSize pseudo-encoding, bell and server cut text;
// keyboard, pointer and client cut text out. Pixels are asked for as 32-bit
// little-endian with red in the low byte, which is the byte order of canvas ImageData.

/** Encodings offered, most preferred first. */
const ENCODINGS = [1 /* CopyRect */, 0 /* Raw */, -223 /* DesktopSize */];

/** Longest clipboard text sent (32 KiB): the server takes WebSocket messages up to 64 KiB. */
export const MAX_CUT_TEXT = 32 * 1024;

/** Longest server cut text or reason string accepted (1 MiB). */
const MAX_STRING = 1024 * 1024;

const latin1 = new TextDecoder('latin1');

/** Bytes that arrive in WebSocket messages, read as a stream. */
class ByteQueue {
  constructor() {
    this.chunks = [];
    this.length = 0;
    this.wake = null;
    this.closed = false;
  }

  push(bytes) {
    this.chunks.push(bytes);
    this.length += bytes.length;
    this.notify();
  }

  close() {
    this.closed = true;
    this.notify();
  }

  notify() {
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
  }

  /** Resolves to exactly `n` bytes; rejects if the connection ends first. */
  async bytes(n) {
    while (this.length < n) {
      if (this.closed) throw new Error('connection closed');
      await new Promise((resolve) => { this.wake = resolve; });
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0];
      const take = Math.min(head.length, n - filled);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
    }
    this.length -= n;
    return out;
  }

  async u8() { return (await this.bytes(1))[0]; }

  async u16() {
    const b = await this.bytes(2);
    return (b[0] << 8) | b[1];
  }

  async u32() {
    const b = await this.bytes(4);
    return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
  }

  async string() {
    const len = await this.u32();
    if (len > MAX_STRING) throw new Error('string too long');
    return latin1.decode(await this.bytes(len));
  }
}

/** The server refused the console before it began; `reason` says why. */
export class RfbRefused extends Error {}

/**
 * One console connection. `handlers`: `init(width, height, name)`, `resize(width,
 * height)`, `raw(x, y, w, h, rgba)`, `copy(sx, sy, x, y, w, h)`, `cutText(text)`,
 * `bell()`, `closed(reason, refused)`.
 */
export class RfbClient {
  constructor(url, handlers) {
    this.handlers = handlers;
    this.queue = new ByteQueue();
    this.width = 0;
    this.height = 0;
    this.ended = false;
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.addEventListener('message', (e) => {
      if (e.data instanceof ArrayBuffer) this.queue.push(new Uint8Array(e.data));
    });
    this.ws.addEventListener('close', (e) => {
      this.closeReason = e.reason;
      this.queue.close();
    });
    this.ws.addEventListener('error', () => this.queue.close());
    this.run().catch((err) => this.end(err));
  }

  send(bytes) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /** Ends the connection from this side. */
  close() {
    this.ws.close(1000);
  }

  end(err) {
    if (this.ended) return;
    this.ended = true;
    try { this.ws.close(); } catch (_) { /* already closed */ }
    const refused = err instanceof RfbRefused;
    const reason = refused ? err.message : (this.closeReason || (err && err.message) || '');
    this.handlers.closed(reason, refused);
  }

  async run() {
    const q = this.queue;
    const version = latin1.decode(await q.bytes(12));
    if (!/^RFB 003\.\d{3}\n$/.test(version)) throw new RfbRefused('not a VNC server');
    this.send(new TextEncoder().encode('RFB 003.008\n'));
    const count = await q.u8();
    if (count === 0) throw new RfbRefused(await q.string());
    const types = await q.bytes(count);
    if (!types.includes(1)) throw new RfbRefused('the server asks for a password');
    this.send(Uint8Array.of(1));
    if ((await q.u32()) !== 0) throw new RfbRefused(await q.string());
    this.send(Uint8Array.of(1)); // ClientInit: share the screen with other viewers.
    const init = await q.bytes(20);
    this.width = (init[0] << 8) | init[1];
    this.height = (init[2] << 8) | init[3];
    const name = await q.string();
    this.setPixelFormat();
    this.setEncodings();
    this.handlers.init(this.width, this.height, name);
    this.requestUpdate(false);
    for (;;) await this.readMessage();
  }

  setPixelFormat() {
    const m = new Uint8Array(20);
    m[0] = 0;
    m.set([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16], 4);
    this.send(m);
  }

  setEncodings() {
    const m = new DataView(new ArrayBuffer(4 + 4 * ENCODINGS.length));
    m.setUint8(0, 2);
    m.setUint16(2, ENCODINGS.length);
    ENCODINGS.forEach((e, i) => m.setInt32(4 + 4 * i, e));
    this.send(m.buffer);
  }

  requestUpdate(incremental) {
    const m = new DataView(new ArrayBuffer(10));
    m.setUint8(0, 3);
    m.setUint8(1, incremental ? 1 : 0);
    m.setUint16(6, this.width);
    m.setUint16(8, this.height);
    this.send(m.buffer);
  }

  async readMessage() {
    const q = this.queue;
    const type = await q.u8();
    if (type === 0) {
      await q.bytes(1);
      const rects = await q.u16();
      for (let i = 0; i < rects; i++) await this.readRect();
      this.requestUpdate(true);
    } else if (type === 1) {
      await q.bytes(3);
      const colours = await q.u16();
      await q.bytes(colours * 6); // true colour was asked for; a map changes nothing
    } else if (type === 2) {
      this.handlers.bell();
    } else if (type === 3) {
      await q.bytes(3);
      this.handlers.cutText(await q.string());
    } else {
      throw new Error('unknown message ' + type + ' from the VNC server');
    }
  }

  async readRect() {
    const q = this.queue;
    const head = new DataView((await q.bytes(12)).buffer);
    const [x, y, w, h] = [0, 2, 4, 6].map((o) => head.getUint16(o));
    const encoding = head.getInt32(8);
    if (encoding === 0) {
      const rgba = await q.bytes(w * h * 4);
      for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
      this.handlers.raw(x, y, w, h, rgba);
    } else if (encoding === 1) {
      const src = new DataView((await q.bytes(4)).buffer);
      this.handlers.copy(src.getUint16(0), src.getUint16(2), x, y, w, h);
    } else if (encoding === -223) {
      this.width = w;
      this.height = h;
      this.handlers.resize(w, h);
    } else {
      throw new Error('the VNC server sent encoding ' + encoding + ', which was not asked for');
    }
  }

  /** KeyEvent. */
  key(keysym, down) {
    const m = new DataView(new ArrayBuffer(8));
    m.setUint8(0, 4);
    m.setUint8(1, down ? 1 : 0);
    m.setUint32(4, keysym);
    this.send(m.buffer);
  }

  /** PointerEvent: `buttons` is RFB's mask (1 left, 2 middle, 4 right, 8/16 wheel). */
  pointer(buttons, x, y) {
    const m = new DataView(new ArrayBuffer(6));
    m.setUint8(0, 5);
    m.setUint8(1, buttons);
    m.setUint16(2, Math.max(0, Math.min(this.width - 1, x)));
    m.setUint16(4, Math.max(0, Math.min(this.height - 1, y)));
    this.send(m.buffer);
  }

  /** ClientCutText; RFB text is Latin-1, other characters become '?'. */
  cutText(text) {
    const chars = Array.from(text.slice(0, MAX_CUT_TEXT), (c) => {
      const code = c.codePointAt(0);
      return code < 256 ? code : 63;
    });
    const m = new Uint8Array(8 + chars.length);
    m[0] = 6;
    new DataView(m.buffer).setUint32(4, chars.length);
    m.set(chars, 8);
    this.send(m);
  }
}
