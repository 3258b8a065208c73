// Real-browser test of the Orchard cluster view: the server with --demo-cluster (the
// bundled orchard-sim with three fake workers and sample VMs), headless Chromium.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeHome, startServer, apiCall, launchBrowser, newPage, shot, taskItem } from './support/harness.mjs';

/** Longest the demo cluster's VMs and a stop may take here (the demo paces 1.5 s a step). */
const CLUSTER_TIMEOUT = 45000;

describe('the Orchard cluster', { timeout: 180000 }, () => {
  let browser;
  let server;
  let page;
  let problems;
  let context;

  before(async () => {
    browser = await launchBrowser();
    server = await startServer(makeHome('cluster'), { args: ['--demo-cluster'] });
    ({ page, problems, context } = await newPage(browser));
    await page.goto(server.pageUrl);
  });
  after(async () => {
    await context?.close();
    await server?.stop();
    await browser?.close();
  });

  const clusterVm = (name) =>
    page.locator('#cluster-vm-list li.cluster-vm').filter({ has: page.locator('.vm-name-text', { hasText: name }) });

  test('the Workers panel lists the workers with used and total resources', async () => {
    const rows = page.locator('#workers-body tr.worker');
    await rows.first().waitFor({ state: 'visible', timeout: CLUSTER_TIMEOUT });
    assert.equal(await rows.count(), 3);
    const w1 = page.locator('#workers-body tr.worker[data-name="worker-1"]');
    assert.equal(await w1.locator('.w-state .status-pill').textContent(), 'online');
    // Two sample VMs of 4 cores and 8 GB each sit on worker-1 (busiest first).
    assert.equal(await w1.locator('.w-cpu').textContent(), '8 / 12 cores');
    assert.equal(await w1.locator('.w-memory').textContent(), '16 / 32 GB');
    assert.equal(await w1.locator('.w-slots').textContent(), '2 / 2');
    const api = await apiCall(server, 'GET', '/api/workers');
    assert.equal(api.body.length, 3);
    assert.match(await page.locator('#cluster-health').textContent(), /connected/);
  });

  test('a cluster VM shows its worker and only what Orchard can do; stop is one-way', async () => {
    const vm = clusterVm('ci-runner-1');
    await vm.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: CLUSTER_TIMEOUT });
    assert.equal(await vm.locator('.c-worker').textContent(), 'on worker-1');
    assert.equal(await page.getByRole('button', { name: 'Start ci-runner-1' }).count(), 0);
    await shot(page, '20-cluster-workers-and-vms', { fullPage: true });
    const stop = page.getByRole('button', { name: 'Stop ci-runner-1', exact: true });
    await stop.click();
    assert.equal(await stop.textContent(), 'Stop for good?');
    await stop.click();
    const task = taskItem(page, 'Stop', 'ci-runner-1');
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: CLUSTER_TIMEOUT });
    await vm.locator('.status-pill', { hasText: 'stopped' }).waitFor({ timeout: CLUSTER_TIMEOUT });
    assert.equal(await page.getByRole('button', { name: 'Stop ci-runner-1' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete ci-runner-1' }).count(), 1);
    // The local list does not show cluster VMs.
    assert.equal(await page.locator('#vm-list li.vm').filter({ hasText: 'ci-runner-1' }).count(), 0);
    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(problems.csp, []);
    await shot(page, '21-cluster-vm-stopped', { fullPage: true });
  });

  test('create on the cluster: the task follows Orchard\'s stages and the VM appears on a worker', async () => {
    await page.locator('#cluster-create-name').fill('from-the-page');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const task = taskItem(page, 'Create', 'from-the-page');
    await task.waitFor({ state: 'visible', timeout: 10000 });
    await task.locator('.task-status', { hasText: 'completed' }).waitFor({ timeout: CLUSTER_TIMEOUT });
    const vm = clusterVm('from-the-page');
    await vm.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: CLUSTER_TIMEOUT });
    // The stop above freed a slot on worker-1, and Orchard's default profile fills the
    // busiest worker that has room first.
    assert.equal(await vm.locator('.c-worker').textContent(), 'on worker-1');
    const tasks = await apiCall(server, 'GET', '/api/tasks?limit=500');
    const created = tasks.body.find((t) => t.vm_name === 'from-the-page');
    assert.ok(created.logs.includes('cloning VM...'), JSON.stringify(created.logs));
    await page.locator('#cluster-create-name').fill('bad/name');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('#cluster-create-error').waitFor({ state: 'visible' });
    await shot(page, '22-cluster-create', { fullPage: true });
  });
});
