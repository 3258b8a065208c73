// Real-browser tests of the web UI: the real server, tart-sim, headless Chromium.
// Screenshots of each main state go to target/ui-screenshots/.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
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

/** Longest a single task (start, stop, pull, delete) may take in these tests. */
const TASK_TIMEOUT = 30000;
const MARKUP_NAME = 'x<img src=y onerror=alert(1)>';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('inventory with VMs', { timeout: 240000 }, () => {
  let home;
  let server;
  let page;
  let problems;
  let context;

  before(async () => {
    home = makeHome('main');
    sim(home, 'create', '--linux', 'linux-a');
    sim(home, 'create', '--from-ipsw', 'latest', 'mac-b');
    sim(home, 'create', '--linux', MARKUP_NAME);
    server = await startServer(home);
    ({ page, problems, context } = await newPage(browser));
    await page.goto(server.pageUrl);
  });
  after(async () => {
    await context?.close();
    await server?.stop();
  });

  test('the VMs appear with their status, OS and source', async () => {
    await vmItem(page, 'linux-a').waitFor({ state: 'visible', timeout: 15000 });
    await vmItem(page, 'mac-b').waitFor({ state: 'visible', timeout: 15000 });
    const linux = vmItem(page, 'linux-a');
    assert.equal(await linux.locator('.status-pill').textContent(), 'stopped');
    assert.equal(await linux.locator('.v-os').textContent(), 'Linux');
    assert.equal(await vmItem(page, 'mac-b').locator('.v-os').textContent(), 'macOS');
    // Local VMs are listed under "Virtual machines", not under "Images".
    assert.equal(await page.locator('#vm-list > li.vm').count(), 3);
    assert.equal(await page.locator('#image-list > li.vm').count(), 0);
    // The tart banner stays hidden: tart-sim answers --version.
    assert.equal(await page.locator('#tart-banner').isVisible(), false);
    await page.locator('#versions').filter({ hasText: 'tart' }).waitFor({ timeout: 10000 });
    await shot(page, '01-inventory-cards');
  });

  test('a VM whose name contains HTML markup is shown as plain text', async () => {
    const item = vmItem(page, MARKUP_NAME);
    await item.waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await item.locator('.vm-name-text').textContent(), MARKUP_NAME);
    assert.equal(await page.locator('#vm-list img').count(), 0, 'no <img> element was created from the name');
    assert.deepEqual(problems.dialogs, [], 'no alert() ran');
    await shot(page, '02-markup-name');
  });

  test('start a VM: its task completes and its VNC link and IP appear', async () => {
    const item = vmItem(page, 'linux-a');
    await page.getByRole('button', { name: 'Start linux-a', exact: true }).click();
    const task = taskItem(page, 'Start', 'linux-a');
    await task.waitFor({ state: 'visible', timeout: 10000 });
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    assert.equal(await task.getAttribute('data-followed'), 'stream', 'the task was followed live, over the event stream');
    // A Linux guest gets tart's own VNC server: the link is the URL tart printed.
    const link = task.locator('a.vnc-link');
    assert.match(await link.getAttribute('href'), /^vnc:\/\/:[a-z-]+@127\.0\.0\.1:\d+$/);
    // The inventory follows: running, then the IP once the guest has a lease, and a copy button.
    await item.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
    await item.locator('.ip-text').filter({ hasText: /^\s*\d{1,3}(\.\d{1,3}){3}\s*$/ }).waitFor({ timeout: 25000 });
    assert.equal(await item.getByRole('button', { name: 'Copy IP address of linux-a' }).isVisible(), true);
    // Only what is possible is offered: no Start on a running VM, Delete disabled.
    assert.equal(await page.getByRole('button', { name: 'Start linux-a', exact: true }).isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Delete linux-a', exact: true }).isDisabled(), true);
    await shot(page, '03-started');
  });

  test('the details panel shows the config and the raw JSON', async () => {
    await page.getByRole('button', { name: 'Details linux-a', exact: true }).click();
    const dlg = page.locator('#details');
    await dlg.waitFor({ state: 'visible', timeout: 10000 });
    await page.locator('#details-raw').filter({ hasText: '{' }).waitFor({ timeout: 10000 });
    const raw = JSON.parse(await page.locator('#details-raw').textContent());
    assert.equal(typeof raw, 'object');
    const facts = await page.locator('#details-facts dt').allTextContents();
    for (const k of ['CPU', 'Memory', 'Disk', 'Display', 'OS']) assert.ok(facts.includes(k), 'details show ' + k);
    await shot(page, '04-details');
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'hidden', timeout: 5000 });
  });

  test('stop the VM', async () => {
    const item = vmItem(page, 'linux-a');
    await page.getByRole('button', { name: 'Stop linux-a', exact: true }).click();
    const task = taskItem(page, 'Stop', 'linux-a');
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    await item.locator('.status-pill', { hasText: 'stopped' }).waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: 'Start linux-a', exact: true }).waitFor({ timeout: 5000 });
    // The start's VNC link no longer opens anything: its VM is gone from that address.
    const vnc = taskItem(page, 'Start', 'linux-a').locator('a.vnc-link');
    await page.waitForFunction((el) => el && !el.hasAttribute('href'), await vnc.elementHandle(), { timeout: 10000 });
    assert.equal(await vnc.getAttribute('aria-disabled'), 'true');
    await shot(page, '05-stopped');
  });

  test('shut down asks the guest, and the VM stops', async () => {
    const item = vmItem(page, 'linux-a');
    await page.getByRole('button', { name: 'Start linux-a', exact: true }).click();
    await item.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: TASK_TIMEOUT });
    await item.locator('summary', { hasText: 'More' }).click();
    const shutdown = page.getByRole('button', { name: 'Shut down linux-a', exact: true });
    await page.waitForFunction((el) => el && !el.disabled, await shutdown.elementHandle(), { timeout: 15000 });
    await shutdown.click();
    const task = taskItem(page, 'Stop', 'linux-a');
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    await item.locator('.status-pill', { hasText: 'stopped' }).waitFor({ timeout: 15000 });
    // The server asked the guest (SIGUSR2 to tart run) rather than pulling the plug.
    const { body: tasks } = await apiCall(server, 'GET', '/api/tasks');
    const last = tasks.find((t) => t.action === 'stop_vm' && t.vm_name === 'linux-a');
    assert.equal(last.result.graceful, true);
  });

  test('when the task socket fails, the task is followed by polling', async () => {
    const other = await newPage(browser);
    try {
      // Every WebSocket (the event stream and each task's) is closed at once, as if a
      // proxy or the network dropped it.
      await other.page.routeWebSocket(/\/ws\//, (ws) => ws.close({ code: 1011, reason: 'test: dropped' }));
      await other.page.goto(server.pageUrl);
      await vmItem(other.page, 'linux-a').waitFor({ timeout: 15000 });
      for (const verb of ['Start', 'Stop']) {
        await other.page.getByRole('button', { name: verb + ' linux-a', exact: true }).click();
        const task = taskItem(other.page, verb, 'linux-a');
        await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
        assert.equal(await task.getAttribute('data-followed'), null, 'no update came over a socket');
      }
      await vmItem(other.page, 'linux-a').locator('.status-pill', { hasText: 'stopped' }).waitFor({ timeout: 15000 });
    } finally {
      await other.context.close();
    }
  });

  test('a bad OCI reference shows the server message inline', async () => {
    await page.getByRole('button', { name: 'Pull image' }).click();
    await page.locator('#pull-dialog').waitFor({ state: 'visible', timeout: 5000 });
    await page.getByLabel('OCI reference').fill('not a valid reference!!');
    await page.getByRole('button', { name: 'Pull', exact: true }).click();
    const err = page.locator('#pull-error');
    await err.waitFor({ state: 'visible', timeout: 10000 });
    const text = (await err.textContent()).trim();
    assert.ok(text.length > 3, 'an error message is shown: ' + text);
    assert.equal(await page.locator('#pull-dialog').isVisible(), true, 'the dialog stays open');
    assert.equal(await page.getByLabel('OCI reference').getAttribute('aria-invalid'), 'true');
    await shot(page, '06-pull-invalid');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('#pull-dialog').waitFor({ state: 'hidden', timeout: 5000 });
  });

  test('pull an image: progress reaches 100% and the image appears among images', async () => {
    const ref = 'ghcr.io/cirruslabs/ubuntu:latest';
    await page.getByRole('button', { name: 'Pull image' }).click();
    // The suggestion chip fills in the reference.
    await page.getByRole('button', { name: 'ubuntu', exact: true }).click();
    assert.equal(await page.getByLabel('OCI reference').inputValue(), ref);
    await page.getByRole('button', { name: 'Pull', exact: true }).click();
    await page.locator('#pull-dialog').waitFor({ state: 'hidden', timeout: 10000 });
    const task = taskItem(page, 'Pull', ref);
    await task.waitFor({ state: 'visible', timeout: 10000 });
    const bar = task.locator('progress');
    // Somewhere on the way, and then done.
    await page
      .waitForFunction((el) => el && el.value > 0, await bar.elementHandle(), { timeout: TASK_TIMEOUT, polling: 50 })
      .catch(() => {});
    await shot(page, '07-pull-progress');
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    assert.equal(await bar.evaluate((el) => el.value), 100);
    assert.equal((await task.locator('.task-percent').textContent()).trim(), '100%');
    await page.locator('#image-list li.vm').filter({ hasText: 'ghcr.io/cirruslabs/ubuntu' }).first().waitFor({ timeout: 15000 });
    await shot(page, '08-pulled');
  });

  test('delete a VM after confirming', async () => {
    await page.getByRole('button', { name: 'Delete mac-b', exact: true }).click();
    const dlg = page.locator('#delete-dialog');
    await dlg.waitFor({ state: 'visible', timeout: 5000 });
    assert.match(await page.locator('#delete-title').textContent(), /mac-b/);
    await shot(page, '09-delete-confirm');
    // Cancel first: nothing happens.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 5000 });
    assert.equal(await vmItem(page, 'mac-b').isVisible(), true);
    // Then for real.
    await page.getByRole('button', { name: 'Delete mac-b', exact: true }).click();
    await dlg.waitFor({ state: 'visible', timeout: 5000 });
    await dlg.getByRole('button', { name: 'Delete', exact: true }).click();
    const task = taskItem(page, 'Delete', 'mac-b');
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    await vmItem(page, 'mac-b').waitFor({ state: 'detached', timeout: 15000 });
    const list = await apiCall(server, 'GET', '/api/vms');
    assert.ok(!list.body.some((v) => v.name === 'mac-b'), 'the server no longer lists mac-b');
    await shot(page, '10-deleted');
  });

  test('filter by name and status', async () => {
    await page.getByLabel('Filter by name').fill('linux');
    assert.equal(await page.locator('#vm-list > li.vm').count(), 1);
    await page.getByLabel('Filter by name').fill('');
    await page.getByLabel('Status', { exact: true }).selectOption('running');
    await page.locator('#empty-filter').waitFor({ state: 'visible', timeout: 5000 });
    await page.getByRole('button', { name: 'Clear filter' }).click();
    assert.equal(await page.locator('#vm-list > li.vm').count(), 2);
  });

  test('the list view is remembered across visits', async () => {
    await page.getByRole('button', { name: 'List' }).click();
    assert.equal(await page.locator('#vm-list').getAttribute('class'), 'vm-list view-list');
    await page.reload();
    await vmItem(page, 'linux-a').waitFor({ timeout: 15000 });
    assert.equal(await page.getByRole('button', { name: 'List' }).getAttribute('aria-pressed'), 'true');
    assert.match(await page.locator('#vm-list').getAttribute('class'), /view-list/);
    // Finished tasks of this session come back after a reload.
    await taskItem(page, 'Start', 'linux-a').waitFor({ timeout: 10000 });
    await shot(page, '11-list-view');
  });

  test('phone width and dark mode render', async () => {
    const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    try {
      await phone.page.goto(server.pageUrl);
      await vmItem(phone.page, 'linux-a').waitFor({ timeout: 15000 });
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, 'no horizontal scrolling at phone width (' + overflow + 'px)');
      await shot(phone.page, '12-phone-dark', { fullPage: true });
    } finally {
      await phone.context.close();
    }
  });

  test('no CSP violations or script errors', () => {
    assert.deepEqual(problems.csp, []);
    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(problems.dialogs, []);
  });

  test('server gone: offline state, then recovery when it returns', async () => {
    const port = server.port;
    await server.stop();
    await page.locator('#offline-banner').waitFor({ state: 'visible', timeout: 15000 });
    assert.equal(await page.getByRole('button', { name: 'Pull image' }).isDisabled(), true);
    await shot(page, '13-offline');
    // Same port and data dir: the same token, so the page recovers by itself.
    server = await startServer(home, { port });
    await page.locator('#offline-banner').waitFor({ state: 'hidden', timeout: 15000 });
    assert.equal(await page.getByRole('button', { name: 'Pull image' }).isDisabled(), false);
    await shot(page, '14-recovered');
  });
});

describe('empty inventory', { timeout: 60000 }, () => {
  let home;
  let server;
  let view;
  before(async () => {
    home = makeHome('empty');
    server = await startServer(home);
    view = await newPage(browser);
  });
  after(async () => {
    await view?.context.close();
    await server?.stop();
  });

  test('shows what to do next', async () => {
    const { page } = view;
    await page.goto(server.pageUrl);
    const empty = page.locator('#empty-all');
    await empty.waitFor({ state: 'visible', timeout: 15000 });
    assert.match(await empty.textContent(), /No virtual machines yet/);
    await empty.getByRole('button', { name: 'Pull an image' }).click();
    await page.locator('#pull-dialog').waitFor({ state: 'visible', timeout: 5000 });
    await shot(page, '15-empty-pull-dialog');
    await page.keyboard.press('Escape');
    await shot(page, '16-empty');
  });
});

describe('tart missing', { timeout: 60000 }, () => {
  let home;
  let server;
  let view;
  before(async () => {
    home = makeHome('notart');
    server = await startServer(home, { tart: '/nonexistent/tart' });
    view = await newPage(browser);
  });
  after(async () => {
    await view?.context.close();
    await server?.stop();
  });

  test('says it once, with what to do, and the header does not claim all is well', async () => {
    const { page } = view;
    await page.goto(server.pageUrl);
    const banner = page.locator('#tart-banner');
    await banner.waitFor({ state: 'visible', timeout: 15000 });
    assert.match(await banner.textContent(), /Tart was not found/);
    assert.match(await banner.textContent(), /brew install cirruslabs\/cli\/tart/);
    await page.locator('#conn-text', { hasText: 'Tart not found' }).waitFor({ timeout: 10000 });
    await page.locator('#empty-notart').waitFor({ state: 'visible', timeout: 10000 });
    // #empty-notart shows once the refresh has failed too: its error is not shown again.
    const text = await page.evaluate(() => document.body.innerText);
    const times = text.split('/nonexistent/tart').length - 1;
    assert.equal(times, 1, 'the error appears once:\n' + text);
    assert.equal(await page.getByRole('button', { name: 'Pull an image' }).isVisible(), false, 'no advice to pull');
    assert.equal(await page.getByRole('button', { name: 'Pull image' }).isDisabled(), true);
    await shot(page, '17-tart-missing');
  });
});

describe('tart too old', { timeout: 60000 }, () => {
  let home;
  let server;
  let view;
  before(async () => {
    home = makeHome('oldtart');
    home.env.TART_SIM_VERSION = '1.9.1';
    server = await startServer(home);
    view = await newPage(browser);
  });
  after(async () => {
    await view?.context.close();
    await server?.stop();
  });

  test('shows what the old tart breaks', async () => {
    const { page } = view;
    await page.goto(server.pageUrl);
    const banner = page.locator('#tart-old-banner');
    await banner.waitFor({ state: 'visible', timeout: 15000 });
    assert.match(await banner.textContent(), /tart 1\.9\.1 waits for a VM's IP/);
    assert.equal(await page.locator('#tart-banner').isVisible(), false);
    await shot(page, '18-tart-too-old');
  });
});
