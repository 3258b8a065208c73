// Layout and legibility in a real browser: the list view at common laptop widths (no
// control cut off, long names not crushed), WCAG AA contrast of every status label in
// light and dark mode, and the screenshots the README uses.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeHome, sim, startServer, apiCall, launchBrowser, newPage, shot, vmItem, repoRoot, SHOTS_DIR } from './support/harness.mjs';

/** WCAG 2.x AA for normal-size text. */
const MIN_CONTRAST = 4.5;
/** Longest a start may take here. */
const TASK_TIMEOUT = 30000;
const LONG_NAME = 'ci-runner-sequoia-xcode-16-with-a-rather-long-name';
/** Set to copy the light-mode screenshot to docs/ (the README shows it). */
const UPDATE_DOCS = !!process.env.UPDATE_DOCS_SCREENSHOT;

let browser;
let home;
let server;
before(async () => {
  browser = await launchBrowser();
  home = makeHome('layout');
  sim(home, 'create', '--linux', 'ubuntu-runner');
  sim(home, 'create', '--from-ipsw', 'latest', 'sequoia-dev');
  sim(home, 'create', '--linux', LONG_NAME);
  sim(home, 'pull', 'ghcr.io/cirruslabs/macos-sequoia-base:latest');
  server = await startServer(home);
  const start = await apiCall(server, 'POST', '/api/vms/ubuntu-runner/start');
  assert.equal(start.status, 202);
  const deadline = Date.now() + TASK_TIMEOUT;
  for (;;) {
    const t = await apiCall(server, 'GET', '/api/tasks/' + start.body.id);
    if (t.body.status === 'completed') break;
    assert.notEqual(t.body.status, 'failed', JSON.stringify(t.body));
    assert.ok(Date.now() < deadline, 'the start finished in time');
    await new Promise((r) => setTimeout(r, 100));
  }
});
after(async () => {
  await browser?.close();
  // The started VM outlives the server (as VMs do): stop it.
  if (server) await apiCall(server, 'POST', '/api/vms/ubuntu-runner/stop').catch(() => {});
  if (home) {
    try {
      sim(home, 'stop', 'ubuntu-runner');
    } catch (_) {
      /* already stopped by the API call */
    }
  }
  await server?.stop();
});

async function openList(opts) {
  const view = await newPage(browser, opts);
  await view.page.goto(server.pageUrl);
  await vmItem(view.page, 'sequoia-dev').waitFor({ timeout: 15000 });
  await vmItem(view.page, 'ubuntu-runner').locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
  await view.page.click('#view-list');
  return view;
}

describe('list view at laptop widths', { timeout: 120000 }, () => {
  for (const width of [1280, 1366, 1440]) {
    test(width + ' px: every control is inside the list and long names keep room', async () => {
      const { page, context } = await openList({ viewport: { width, height: 900 } });
      try {
        const problems = await page.evaluate(() => {
          const out = [];
          for (const list of document.querySelectorAll('#vm-list, #image-list')) {
            const box = list.getBoundingClientRect();
            for (const btn of list.querySelectorAll('button')) {
              if (btn.hidden || btn.offsetParent === null) continue;
              const r = btn.getBoundingClientRect();
              if (r.right > box.right + 0.5 || r.left < box.left - 0.5 || r.right > window.innerWidth) {
                out.push((btn.getAttribute('aria-label') || btn.textContent) + ' ends at ' + Math.round(r.right) + ', list at ' + Math.round(box.right));
              }
            }
            // A name's column: crushed names wrapped a letter group per line.
            for (const name of list.querySelectorAll('.vm-name')) {
              const w = name.getBoundingClientRect().width;
              if (w < 200) out.push('the name column of "' + name.textContent + '" is ' + Math.round(w) + ' px wide');
            }
          }
          return out;
        });
        assert.deepEqual(problems, []);
        for (const label of ['Delete ' + LONG_NAME, 'Details ' + LONG_NAME, 'Stop ubuntu-runner']) {
          assert.equal(await page.getByRole('button', { name: label, exact: true }).isVisible(), true, label);
        }
        await shot(page, 'layout-list-' + width);
      } finally {
        await context.close();
      }
    });
  }
});

describe('contrast', { timeout: 120000 }, () => {
  for (const scheme of ['light', 'dark']) {
    test(scheme + ': every status pill, task status and the Start label reach ' + MIN_CONTRAST + ':1', async () => {
      const { page, context } = await openList({ viewport: { width: 1280, height: 900 }, colorScheme: scheme });
      try {
        // Probes with every status class, inside a VM row and inside the Tasks panel,
        // beside the real pills, so states this world does not show are checked too.
        const ratios = await page.evaluate(() => {
          const row = document.querySelector('#vm-list li.vm');
          const tasks = document.querySelector('#task-list') || document.body;
          for (const s of ['running', 'stopped', 'unknown', 'suspended', 'image']) {
            const probe = document.createElement('span');
            probe.className = 'status-pill status-' + s;
            probe.textContent = s;
            probe.dataset.probe = 'pill ' + s;
            row.querySelector('.vm-head').append(probe);
          }
          for (const s of ['pending', 'running', 'completed', 'failed']) {
            const probe = document.createElement('span');
            probe.className = 'task-status status-' + s;
            probe.textContent = s;
            probe.dataset.probe = 'task ' + s;
            tasks.append(probe);
          }
          const parse = (c) => {
            const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c) || /color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)/.exec(c);
            if (!m) throw new Error('unparsed colour ' + c);
            const scale = c.startsWith('color(') ? 255 : 1;
            return { r: m[1] * scale, g: m[2] * scale, b: m[3] * scale, a: m[4] === undefined ? 1 : Number(m[4]) };
          };
          const over = (top, under) => ({
            r: top.r * top.a + under.r * (1 - top.a),
            g: top.g * top.a + under.g * (1 - top.a),
            b: top.b * top.a + under.b * (1 - top.a),
            a: 1,
          });
          const background = (el) => {
            const layers = [];
            for (let e = el; e; e = e.parentElement) {
              const c = parse(getComputedStyle(e).backgroundColor);
              if (c.a > 0) layers.push(c);
              if (c.a === 1) break;
            }
            let bg = { r: 255, g: 255, b: 255, a: 1 };
            for (const layer of layers.reverse()) bg = over(layer, bg);
            return bg;
          };
          const lum = (c) => {
            const f = (v) => {
              v /= 255;
              return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
            };
            return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
          };
          const ratio = (el) => {
            const bg = background(el);
            const fg = over(parse(getComputedStyle(el).color), bg);
            const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
            return (hi + 0.05) / (lo + 0.05);
          };
          const out = [];
          for (const el of document.querySelectorAll('.status-pill, .task-status')) {
            out.push([el.dataset.probe || 'real ' + el.className, ratio(el)]);
          }
          for (const el of document.querySelectorAll('.btn-start:not(:disabled) span')) out.push(['Start label', ratio(el)]);
          return out;
        });
        assert.ok(ratios.length >= 10, 'the probes were measured');
        const low = ratios.filter(([, r]) => r < 4.5).map(([what, r]) => what + ': ' + r.toFixed(2));
        assert.deepEqual(low, []);
      } finally {
        await context.close();
      }
    });
  }
});

describe('screenshots', { timeout: 120000 }, () => {
  for (const [label, opts] of [
    ['light-1280', { viewport: { width: 1280, height: 800 }, colorScheme: 'light' }],
    ['dark-1280', { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' }],
    ['light-phone', { viewport: { width: 390, height: 844 }, colorScheme: 'light' }],
    ['dark-phone', { viewport: { width: 390, height: 844 }, colorScheme: 'dark' }],
  ]) {
    test(label, async () => {
      const view = await newPage(browser, opts);
      try {
        await view.page.goto(server.pageUrl);
        await vmItem(view.page, 'ubuntu-runner').locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
        const overflow = await view.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, 'no horizontal scrolling (' + overflow + ' px)');
        await shot(view.page, 'cards-' + label, { fullPage: label.endsWith('phone') });
        if (label === 'light-1280' && UPDATE_DOCS) {
          fs.copyFileSync(path.join(SHOTS_DIR, 'cards-' + label + '.png'), path.join(repoRoot, 'docs/ui.png'));
        }
      } finally {
        await view.context.close();
      }
    });
  }
});
