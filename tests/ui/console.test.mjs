// The VM's screen in the browser, for real: the server, tart-sim's VNC server and the
// project's RFB client in headless Chromium. It opens the console from the VM's card,
// reads tart-sim's documented test pattern from the canvas (docs/simulator.md, "The
// VNC console"), types and clicks, and checks that tart-sim's VNC log got them.
// A Linux VM starts with display `vnc` (`tart run --vnc-experimental`) by default.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  makeHome,
  sim,
  startServer,
  apiCall,
  launchBrowser,
  newPage,
  shot,
  vmItem,
  taskItem,
} from './support/harness.mjs';

/** Longest a start or stop may take here. */
const TASK_TIMEOUT = 30000;

/** The pattern's colours: eight bars across the top half, grey below, an orange marker. */
const BARS = [
  [255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
  [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0],
];
const BACKGROUND = [64, 64, 64];
const MARKER = [255, 128, 0];

function vncLog(home) {
  try {
    return fs
      .readFileSync(home.env.TART_SIM_VNC_LOG, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch (_) {
    return [];
  }
}

async function until(what, check, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting until ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The canvas pixel at framebuffer (x, y), as [r, g, b]. */
function pixel(page, x, y) {
  return page.evaluate(([px, py]) => {
    const c = document.getElementById('console-screen');
    return Array.from(c.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3));
  }, [x, y]);
}

/** Where on the page framebuffer (x, y) is shown, whatever the scale. */
async function pagePoint(page, x, y) {
  return page.evaluate(([fx, fy]) => {
    const c = document.getElementById('console-screen');
    const box = c.getBoundingClientRect();
    return [box.left + ((fx + 0.5) * box.width) / c.width, box.top + ((fy + 0.5) * box.height) / c.height];
  }, [x, y]);
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('the console', { timeout: 240000 }, () => {
  let home;
  let server;
  let main;
  let screen;

  before(async () => {
    home = makeHome('console');
    home.env.TART_SIM_VNC_LOG = path.join(home.tmp, 'vnc.jsonl');
    sim(home, 'create', '--linux', 'desk');
    server = await startServer(home);
    main = await newPage(browser, { viewport: { width: 1280, height: 800 } });
    await main.page.goto(server.pageUrl);
  });
  after(async () => {
    await main?.context.close();
    await server?.stop();
  });

  test('"Open screen" appears on the started VM and its task, and opens the console', async () => {
    const { page, context } = main;
    await vmItem(page, 'desk').waitFor({ state: 'visible', timeout: 15000 });
    assert.equal(await vmItem(page, 'desk').getByRole('link', { name: 'Open screen of desk' }).isVisible(), false, 'no screen while stopped');
    await page.getByRole('button', { name: 'Start desk', exact: true }).click();
    const task = taskItem(page, 'Start', 'desk');
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    assert.equal(await task.getByRole('link', { name: 'Open screen of desk' }).isVisible(), true, 'the start task offers the screen');
    const link = vmItem(page, 'desk').getByRole('link', { name: 'Open screen of desk' });
    await link.waitFor({ state: 'visible', timeout: 15000 });
    const opened = context.waitForEvent('page');
    await link.click();
    screen = await opened;
    await screen.waitForLoadState();
    assert.equal(new URL(screen.url()).pathname, '/console');
    assert.equal(new URL(screen.url()).searchParams.get('vm'), 'desk');
    assert.equal(await link.getAttribute('href'), '/console?vm=desk', 'the link itself carries no token');
  });

  test('the canvas shows the test pattern and follows its changes', async () => {
    await screen.locator('#console-state[data-state="connected"]').waitFor({ timeout: 15000 });
    assert.match(await screen.locator('#console-state-text').textContent(), /Connected · 1024×768/);
    await until('the first update is drawn', async () => (await pixel(screen, 64, 10))[0] === 255);
    for (let i = 0; i < BARS.length; i++) {
      assert.deepEqual(await pixel(screen, i * 128 + 64, 100), BARS[i], 'bar ' + i);
    }
    assert.deepEqual(await pixel(screen, 2, 760), BACKGROUND);
    const markerX = () =>
      screen.evaluate((orange) => {
        const c = document.getElementById('console-screen');
        const row = c.getContext('2d').getImageData(0, (c.height / 4) * 3, c.width, 1).data;
        for (let x = 0; x < c.width; x++) {
          if (row[4 * x] === orange[0] && row[4 * x + 1] === orange[1] && row[4 * x + 2] === orange[2]) return x;
        }
        return -1;
      }, MARKER);
    const first = await markerX();
    assert.ok(first >= 0 && first % 64 === 0, 'the marker is on its row at a 64 px step: ' + first);
    await until('the marker moves', async () => {
      const now = await markerX();
      return now >= 0 && now !== first;
    });
    await shot(screen, 'console-light-1280');
  });

  test('typing and clicking reach the VM', async () => {
    await screen.locator('#console-screen').focus();
    await screen.keyboard.type('hi VM');
    await screen.keyboard.press('Enter');
    await screen.keyboard.press('Shift+A');
    const [px, py] = await pagePoint(screen, 300, 200);
    await screen.mouse.click(px, py);
    await screen.mouse.click(px, py, { button: 'right' });
    await screen.mouse.move(px, py);
    await screen.mouse.wheel(0, 120);
    await until('the VNC log has the keys and clicks', () => {
      const log = vncLog(home);
      const downs = log.filter((r) => r.event === 'key' && r.down).map((r) => r.keysym);
      const typed = String.fromCharCode(...downs.filter((k) => k < 0x100));
      const pointer = log.filter((r) => r.event === 'pointer');
      const near = (r) => Math.abs(r.x - 300) <= 1 && Math.abs(r.y - 200) <= 1;
      return (
        typed.includes('hi VM') &&
        downs.includes(0xff0d) && // Enter
        downs.includes(0xffe1) && // Shift
        downs.includes(0x41) && // 'A'
        pointer.some((r) => r.buttons === 1 && near(r)) &&
        pointer.some((r) => r.buttons === 4 && near(r)) && // right button is RFB's 4
        pointer.some((r) => r.buttons === 16) // wheel down
      );
    });
    // Every key pressed was released.
    const keys = vncLog(home).filter((r) => r.event === 'key');
    for (const k of new Set(keys.map((r) => r.keysym))) {
      const downs = keys.filter((r) => r.keysym === k && r.down).length;
      const ups = keys.filter((r) => r.keysym === k && !r.down).length;
      assert.equal(ups, downs, 'key ' + k.toString(16) + ' released as often as pressed');
    }
  });

  test('Ctrl-Alt-Del from the Keys menu, and the clipboard both ways', async () => {
    await screen.locator('#console-keys summary').click();
    await screen.getByRole('button', { name: 'Ctrl-Alt-Del' }).click();
    await screen.locator('#console-clip summary').click();
    assert.equal(await screen.locator('#console-clip-guest').textContent(), 'tart-sim clipboard of desk');
    await screen.locator('#console-clip-text').fill('from the page');
    await screen.getByRole('button', { name: "Put on the VM's clipboard" }).click();
    await shot(screen, 'console-clipboard');
    await until('the VNC log has the combination and the text', () => {
      const log = vncLog(home);
      const downs = log.filter((r) => r.event === 'key' && r.down).map((r) => r.keysym);
      const at = (k) => downs.lastIndexOf(k);
      return (
        at(0xffe3) >= 0 && at(0xffe3) < at(0xffe9) && at(0xffe9) < at(0xffff) &&
        log.some((r) => r.event === 'cut_text' && r.text === 'from the page')
      );
    });
    await screen.locator('#console-clip summary').click();
  });

  test('dark and phone-width screenshots, no CSP or script errors', async () => {
    const dark = await newPage(browser, { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    const phone = await newPage(browser, { viewport: { width: 390, height: 844 } });
    try {
      for (const [p, name] of [[dark.page, 'console-dark-1280'], [phone.page, 'console-phone']]) {
        await p.goto(server.url + '/console?vm=desk#token=' + server.token);
        assert.equal(new URL(p.url()).hash, '', 'the token leaves the address bar');
        await p.locator('#console-state[data-state="connected"]').waitFor({ timeout: 15000 });
        await until('drawn', async () => (await pixel(p, 64, 10))[0] === 255);
        const box = await p.locator('#console-screen').boundingBox();
        const viewport = p.viewportSize();
        assert.ok(box.width <= viewport.width + 1, 'the screen fits the window width');
        await shot(p, name);
      }
      for (const pr of [main.problems, dark.problems, phone.problems]) {
        assert.deepEqual(pr.csp, []);
        assert.deepEqual(pr.pageErrors, []);
      }
    } finally {
      await dark.context.close();
      await phone.context.close();
    }
  });

  test('without the token the page says how to get it', async () => {
    const bare = await newPage(browser);
    try {
      await bare.page.goto(server.url + '/console?vm=desk');
      await bare.page.locator('#console-state[data-state="failed"]').waitFor({ timeout: 15000 });
      assert.match(await bare.page.locator('#console-state-text').textContent(), /token/);
    } finally {
      await bare.context.close();
    }
  });

  test('stopping the VM says so on the state line', async () => {
    const stop = await apiCall(server, 'POST', '/api/vms/desk/stop');
    assert.equal(stop.status, 202);
    await screen.locator('#console-state[data-state="stopped"]').waitFor({ timeout: TASK_TIMEOUT });
    assert.equal(await screen.locator('#console-state-text').textContent(), 'VM stopped');
    assert.equal(await screen.getByRole('button', { name: 'Reconnect' }).isVisible(), true);
    await screen.getByRole('button', { name: 'Reconnect' }).click();
    await screen.locator('#console-state[data-state="stopped"]').waitFor({ timeout: 15000 });
    await shot(screen, 'console-stopped');
  });
});
