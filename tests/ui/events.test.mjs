// The event stream in the browser: two pages of the same server stay in step live, with
// no inventory polling while the stream is up; a VM made with the tart CLI appears; on a
// phone the Tasks panel stays in view while a task runs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeHome, sim, startServer, apiCall, launchBrowser, newPage, shot, vmItem, taskItem } from './support/harness.mjs';

/** Longest a single task may take in these tests. */
const TASK_TIMEOUT = 30000;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Records the page's inventory requests (GET /api/vms, POST /api/vms/refresh). */
function recordInventoryRequests(page) {
  const seen = [];
  page.on('request', (rq) => {
    const url = new URL(rq.url());
    if (url.pathname === '/api/vms' || url.pathname === '/api/vms/refresh') seen.push(rq.method() + ' ' + url.pathname);
  });
  return seen;
}

describe('two pages on one event stream', { timeout: 180000 }, () => {
  let home;
  let server;
  let a;
  let b;

  before(async () => {
    home = makeHome('events');
    home.env.TART_SIM_PULL_MS = '20000';
    sim(home, 'create', '--linux', 'linux-a');
    server = await startServer(home);
    a = await newPage(browser);
    b = await newPage(browser);
    await a.page.goto(server.pageUrl);
    await b.page.goto(server.pageUrl);
    for (const p of [a.page, b.page]) {
      await p.locator('body.is-streaming').waitFor({ timeout: 15000 });
      await vmItem(p, 'linux-a').waitFor({ timeout: 15000 });
    }
  });
  after(async () => {
    await a?.context.close();
    await b?.context.close();
    await server?.stop();
  });

  test('a start in one page shows live in the other, without inventory polling', async () => {
    const polled = recordInventoryRequests(b.page);
    await a.page.getByRole('button', { name: 'Start linux-a', exact: true }).click();
    const there = taskItem(b.page, 'Start', 'linux-a');
    await there.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: TASK_TIMEOUT });
    await vmItem(b.page, 'linux-a').locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
    assert.equal(await there.getAttribute('data-followed'), 'stream', 'no task socket: the stream brought it');
    await b.page.locator('body.is-streaming').waitFor({ timeout: 1000 });
    assert.deepEqual(polled, [], 'no /api/vms request while the stream is up');
    await shot(b.page, '40-events-second-page');
  });

  test('a VM made with the tart CLI appears in both pages', async () => {
    const polled = recordInventoryRequests(a.page);
    sim(home, 'create', '--linux', 'from-cli');
    for (const p of [a.page, b.page]) await vmItem(p, 'from-cli').waitFor({ timeout: 15000 });
    assert.deepEqual(polled, []);
  });

  test('both pages show the same task history, running tasks first', async () => {
    const reference = 'ghcr.io/cirruslabs/ubuntu:latest';
    const pulled = await apiCall(server, 'POST', '/api/vms/pull', { oci_url: reference });
    assert.equal(pulled.status, 202);
    for (const p of [a.page, b.page]) {
      const first = p.locator('li.task').first();
      await first.locator('.task-target', { hasText: reference }).waitFor({ timeout: 15000 });
      const titles = await p.locator('li.task .task-verb').allTextContents();
      assert.ok(titles.includes('Start'), 'the earlier start is in the history too');
    }
    // On a phone the panel is pinned in view while the pull runs.
    const phone = await newPage(browser, { viewport: { width: 390, height: 844 } });
    try {
      await phone.page.goto(server.pageUrl);
      await phone.page.locator('body.is-streaming.has-running-tasks').waitFor({ timeout: 15000 });
      const panel = phone.page.locator('aside.tasks');
      assert.equal(await panel.evaluate((el) => getComputedStyle(el).position), 'fixed');
      const box = await panel.boundingBox();
      assert.ok(box && box.y + box.height <= 844 && box.y >= 0, 'the panel is on screen: ' + JSON.stringify(box));
      await shot(phone.page, '41-events-phone-running-task');
    } finally {
      await phone.context.close();
    }
  });

  test('Cancel ends a running pull in every page; Retry asks for it again', async () => {
    const reference = 'ghcr.io/cirruslabs/ubuntu:latest';
    const task = taskItem(a.page, 'Pull', reference);
    await task.getByRole('button', { name: 'Cancel pull_vm ' + reference }).click();
    for (const p of [a.page, b.page]) {
      await taskItem(p, 'Pull', reference).locator('.task-status', { hasText: 'failed' }).waitFor({ timeout: TASK_TIMEOUT });
    }
    const pulls = await apiCall(server, 'GET', '/api/tasks?action=pull_vm');
    assert.equal(pulls.body[0].cancelled, true);
    await taskItem(b.page, 'Pull', reference).getByRole('button', { name: 'Retry pull_vm ' + reference }).click();
    await a.page.locator('li.task').filter({ hasText: reference }).locator('.task-status', { hasText: /pending|running/ }).first().waitFor({ timeout: 15000 });
    const again = await apiCall(server, 'GET', '/api/tasks?action=pull_vm');
    assert.equal(again.body.length, 2, 'the retry is a new pull');
    assert.equal(await taskItem(a.page, 'Pull', reference).getByRole('button', { name: /^Cancel/ }).count(), 1);
  });

  test('a page reconnects after the server restarts and catches up', async () => {
    await server.stop();
    await a.page.locator('body:not(.is-streaming)').waitFor({ timeout: 15000 });
    server = await startServer(home, { port: server.port });
    await a.page.locator('body.is-streaming').waitFor({ timeout: 30000 });
    sim(home, 'create', '--linux', 'after-restart');
    await vmItem(a.page, 'after-restart').waitFor({ timeout: 15000 });
  });
});
