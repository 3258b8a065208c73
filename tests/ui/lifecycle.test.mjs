// Real-browser tests of making and changing VMs: New VM from an image, Settings, Start,
// Rename, Start with options, Suspend and Resume, Delete, Disk space with the prune preview, and
// Registries. Screenshots of each dialog, light and dark, at 1280 px and phone width,
// go to target/ui-screenshots/lifecycle-*.png.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeHome, sim, startServer, apiCall, launchBrowser, newPage, shot, vmItem, taskItem } from './support/harness.mjs';

/** Longest one task may take in these tests. */
const TASK_TIMEOUT = 30000;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function taskDone(page, verb, target) {
  const task = taskItem(page, verb, target);
  await task.waitFor({ state: 'visible', timeout: 10000 });
  await task.locator('.task-status', { hasText: /^(completed|failed)$/ }).waitFor({ timeout: TASK_TIMEOUT });
  const status = await task.locator('.task-status').textContent();
  const error = (await task.locator('.task-error').isVisible()) ? await task.locator('.task-error').textContent() : '';
  assert.equal(status, 'completed', verb + ' ' + target + ': ' + error);
}

async function openMore(page, name) {
  await vmItem(page, name).locator('.lc-menu > summary').click();
}

describe('making and changing VMs', { timeout: 300000 }, () => {
  let home;
  let server;
  let page;
  let problems;
  let context;

  before(async () => {
    home = makeHome('lifecycle');
    sim(home, 'pull', 'ghcr.io/cirruslabs/ubuntu:latest');
    server = await startServer(home);
    ({ page, problems, context } = await newPage(browser, { viewport: { width: 1280, height: 900 } }));
    await page.goto(server.pageUrl);
    await vmItem(page, 'ghcr.io/cirruslabs/ubuntu:latest').waitFor({ timeout: 15000 });
  });
  after(async () => {
    await context?.close();
    await server?.stop();
  });

  test('an image card offers Clone as its main action', async () => {
    const card = vmItem(page, 'ghcr.io/cirruslabs/ubuntu:latest');
    const clone = card.getByRole('button', { name: 'Clone ghcr.io/cirruslabs/ubuntu:latest', exact: true });
    assert.ok(await clone.isVisible());
    assert.match(await clone.getAttribute('class'), /btn-primary/);
  });

  test('New VM from an image: a refusal shows next to its field, then the VM is made', async () => {
    await page.locator('#create-btn').click();
    const dlg = page.locator('#create-dialog');
    await dlg.waitFor({ state: 'visible' });
    await page.locator('#create-dialog-image option[value="ghcr.io/cirruslabs/ubuntu:latest"]').waitFor({ state: 'attached' });
    await page.selectOption('#create-dialog-image', 'ghcr.io/cirruslabs/ubuntu:latest');
    await page.fill('#create-dialog-name', 'dev');
    await page.fill('#create-dialog-cpu', '0');
    await page.click('#create-dialog-submit');
    const cpuError = page.locator('#create-dialog-cpu-error');
    await cpuError.waitFor({ state: 'visible' });
    assert.match(await cpuError.textContent(), /greater than or equal to 1/);
    await shot(page, 'lifecycle-10-new-vm-error');
    await page.fill('#create-dialog-cpu', '2');
    await page.fill('#create-dialog-memory', '6');
    await page.click('#create-dialog-submit');
    await dlg.waitFor({ state: 'hidden' });
    await taskDone(page, 'Create', 'dev');
    const card = vmItem(page, 'dev');
    await card.waitFor({ timeout: 15000 });
    await card.locator('.v-cpu', { hasText: '2' }).waitFor({ timeout: 15000 });
  });

  test('Settings change a stopped VM; the disk cannot shrink', async () => {
    await openMore(page, 'dev');
    await vmItem(page, 'dev').getByRole('button', { name: 'Settings dev', exact: true }).click();
    const dlg = page.locator('#settings-dialog');
    await dlg.waitFor({ state: 'visible' });
    assert.match(await page.locator('#settings-dialog-disk_size-hint').textContent(), /Now 20 GB/);
    await page.fill('#settings-dialog-disk_size', '15');
    await page.click('#settings-dialog-submit');
    await page.locator('#settings-dialog-disk_size-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#settings-dialog-disk_size-error').textContent(), /only grow/);
    await page.fill('#settings-dialog-disk_size', '');
    await page.fill('#settings-dialog-cpu', '3');
    await page.fill('#settings-dialog-display', '1280x800');
    await page.click('#settings-dialog-submit');
    await dlg.waitFor({ state: 'hidden' });
    await taskDone(page, 'Settings', 'dev');
    await vmItem(page, 'dev').locator('.v-cpu', { hasText: '3' }).waitFor({ timeout: 15000 });
  });

  test('Start, then Settings and Rename are refused while it runs; Stop; Rename', async () => {
    await page.getByRole('button', { name: 'Start dev', exact: true }).click();
    await taskDone(page, 'Start', 'dev');
    const card = vmItem(page, 'dev');
    await card.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
    await openMore(page, 'dev');
    assert.equal(await card.getByRole('button', { name: 'Settings dev', exact: true }).isDisabled(), true);
    assert.equal(await card.getByRole('button', { name: 'Rename dev', exact: true }).isDisabled(), true);
    await openMore(page, 'dev'); // closes it
    await page.getByRole('button', { name: 'Stop dev', exact: true }).click();
    await taskDone(page, 'Stop', 'dev');
    await card.locator('.status-pill', { hasText: 'stopped' }).waitFor({ timeout: 15000 });
    await openMore(page, 'dev');
    await card.getByRole('button', { name: 'Rename dev', exact: true }).click();
    await page.locator('#rename-dialog').waitFor({ state: 'visible' });
    await page.fill('#rename-dialog-new_name', 'dev-2');
    await page.click('#rename-dialog-submit');
    await taskDone(page, 'Rename', 'dev');
    await vmItem(page, 'dev-2').waitFor({ timeout: 15000 });
  });

  test('Start with options (suspendable), Suspend, then Resume', async () => {
    sim(home, 'create', '--from-ipsw', 'latest', 'mac');
    await page.locator('#refresh-btn').click();
    const card = vmItem(page, 'mac');
    await card.waitFor({ timeout: 15000 });
    assert.equal(await card.getByRole('button', { name: 'Suspend mac', exact: true }).isVisible(), false, 'a stopped VM has no Suspend');
    await openMore(page, 'mac');
    await card.getByRole('button', { name: 'Start with options… mac', exact: true }).click();
    await page.locator('#start-dialog').waitFor({ state: 'visible' });
    await page.check('#start-dialog-suspendable');
    await page.click('#start-dialog-submit');
    await taskDone(page, 'Start', 'mac');
    await card.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
    await card.getByRole('button', { name: 'Suspend mac', exact: true }).click();
    await taskDone(page, 'Suspend', 'mac');
    await card.locator('.status-pill', { hasText: 'suspended' }).waitFor({ timeout: 15000 });
    const resume = card.getByRole('button', { name: 'Resume mac', exact: true });
    assert.ok(await resume.isVisible());
    await resume.click();
    await taskDone(page, 'Start', 'mac');
    await card.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: 'Stop mac', exact: true }).click();
    await taskDone(page, 'Stop', 'mac');
    await card.locator('.status-pill', { hasText: 'stopped' }).waitFor({ timeout: 15000 });
  });

  test('Delete a VM', async () => {
    await page.getByRole('button', { name: 'Delete dev-2', exact: true }).click();
    await page.locator('#delete-confirm').click();
    await taskDone(page, 'Delete', 'dev-2');
    await vmItem(page, 'dev-2').waitFor({ state: 'detached', timeout: 15000 });
  });

  test('Disk space: the preview lists what prune removes and the total, then Prune removes it', async () => {
    sim(home, 'create', '--linux', 'old-vm');
    const old = new Date(Date.now() - 30 * 86400 * 1000);
    fs.utimesSync(path.join(home.env.TART_HOME, 'vms/old-vm'), old, new Date());
    await page.locator('#refresh-btn').click();
    await vmItem(page, 'old-vm').waitFor({ timeout: 15000 });
    await page.locator('#disk-btn').click();
    await page.locator('#prune-dialog').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#prune-dialog-submit').isVisible(), false, 'no Prune before a preview');
    await page.selectOption('#prune-dialog-entries', 'vms');
    await page.fill('#prune-dialog-older_than_days', '7');
    await page.click('#prune-preview-btn');
    await page.locator('#prune-list').waitFor({ state: 'visible' });
    const names = await page.locator('#prune-list .lc-name').allTextContents();
    assert.deepEqual(names, ['old-vm']);
    assert.match(await page.locator('#prune-total').textContent(), /^1 entry, .* in all$/);
    assert.equal(await page.locator('#prune-dialog-submit').textContent(), 'Prune 1 entry');
    await shot(page, 'lifecycle-11-prune-preview');
    await page.click('#prune-dialog-submit');
    await taskDone(page, 'Prune', '');
    await vmItem(page, 'old-vm').waitFor({ state: 'detached', timeout: 15000 });
    assert.ok(fs.existsSync(path.join(home.env.TART_HOME, 'vms/mac')), 'a recent VM stays');
  });

  test('New VM: an empty Linux VM with "start when ready" is started once made', async () => {
    await page.locator('#create-btn').click();
    await page.locator('#create-dialog').waitFor({ state: 'visible' });
    await page.selectOption('#create-dialog-kind', 'linux');
    assert.equal(await page.locator('#create-dialog-image').isVisible(), false, 'no image for an empty VM');
    await page.fill('#create-dialog-name', 'fresh vm (ü)');
    await page.fill('#create-dialog-disk_size', '30');
    await page.check('#create-dialog-start');
    await page.click('#create-dialog-submit');
    await taskDone(page, 'Create', 'fresh vm (ü)');
    await taskDone(page, 'Start', 'fresh vm (ü)');
    const card = vmItem(page, 'fresh vm (ü)');
    await card.locator('.status-pill', { hasText: 'running' }).waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: 'Stop fresh vm (ü)', exact: true }).click();
    await taskDone(page, 'Stop', 'fresh vm (ü)');
  });

  test('Registries: log in with a password that is never shown back, then log out', async () => {
    await page.locator('#registries-btn').click();
    await page.locator('#registries-dialog').waitFor({ state: 'visible' });
    await page.fill('#registries-dialog-host', 'ghcr.io');
    await page.fill('#registries-dialog-username', 'me');
    await page.fill('#registries-dialog-password', 'hunter2-secret');
    assert.equal(await page.locator('#registries-dialog-password').getAttribute('type'), 'password');
    await page.click('#registries-dialog-submit');
    await taskDone(page, 'Log in', '');
    assert.equal(await page.locator('#registries-dialog-password').inputValue(), '', 'the field is emptied');
    assert.ok(!(await page.content()).includes('hunter2-secret'));
    await page.locator('#registries-btn').click();
    await page.fill('#registries-dialog-host', 'ghcr.io');
    await page.click('#registries-logout');
    await taskDone(page, 'Log out', '');
    const tasks = await apiCall(server, 'GET', '/api/tasks');
    assert.ok(!JSON.stringify(tasks.body).includes('hunter2-secret'));
    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(problems.csp, []);
  });
});

describe('lifecycle dialogs: screenshots light and dark, wide and phone', { timeout: 240000 }, () => {
  let home;
  let server;
  before(async () => {
    home = makeHome('lifecycle-shots');
    sim(home, 'pull', 'ghcr.io/cirruslabs/ubuntu:latest');
    sim(home, 'create', '--linux', 'web-server');
    server = await startServer(home);
  });
  after(async () => {
    await server?.stop();
  });

  for (const scheme of ['light', 'dark']) {
    for (const [label, viewport] of [
      ['1280', { width: 1280, height: 900 }],
      ['phone', { width: 390, height: 844 }],
    ]) {
      test('every dialog, ' + scheme + ' at ' + label, async () => {
        const { page, context, problems } = await newPage(browser, { viewport, colorScheme: scheme });
        try {
          await page.goto(server.pageUrl);
          await vmItem(page, 'web-server').waitFor({ timeout: 15000 });
          const tag = scheme + '-' + label;
          await shot(page, 'lifecycle-' + tag + '-0-inventory');
          const open = async (button, dialog) => {
            await page.locator(button).click();
            await page.locator(dialog).waitFor({ state: 'visible' });
          };
          const close = async (dialog) => {
            await page.keyboard.press('Escape');
            await page.locator(dialog).waitFor({ state: 'hidden' });
          };
          await open('#create-btn', '#create-dialog');
          await page.locator('#create-dialog-image option').first().waitFor({ state: 'attached' });
          await shot(page, 'lifecycle-' + tag + '-1-new-vm');
          await close('#create-dialog');
          await vmItem(page, 'ghcr.io/cirruslabs/ubuntu:latest').getByRole('button', { name: /^Clone / }).click();
          await page.locator('#clone-dialog').waitFor({ state: 'visible' });
          await shot(page, 'lifecycle-' + tag + '-2-clone');
          await close('#clone-dialog');
          await openMore(page, 'web-server');
          await shot(page, 'lifecycle-' + tag + '-3-more-menu');
          await vmItem(page, 'web-server').getByRole('button', { name: 'Settings web-server', exact: true }).click();
          await page.locator('#settings-dialog').waitFor({ state: 'visible' });
          await shot(page, 'lifecycle-' + tag + '-4-settings');
          await close('#settings-dialog');
          await openMore(page, 'web-server');
          await vmItem(page, 'web-server').getByRole('button', { name: 'Start with options… web-server', exact: true }).click();
          await page.locator('#start-dialog').waitFor({ state: 'visible' });
          await shot(page, 'lifecycle-' + tag + '-8-start-options');
          await close('#start-dialog');
          await openMore(page, 'web-server');
          await vmItem(page, 'web-server').getByRole('button', { name: 'Rename web-server', exact: true }).click();
          await page.locator('#rename-dialog').waitFor({ state: 'visible' });
          await shot(page, 'lifecycle-' + tag + '-5-rename');
          await close('#rename-dialog');
          await open('#disk-btn', '#prune-dialog');
          await page.fill('#prune-dialog-space_budget_gb', '0');
          await page.click('#prune-preview-btn');
          await page.locator('#prune-total').waitFor({ state: 'visible' });
          await shot(page, 'lifecycle-' + tag + '-6-disk-space');
          await close('#prune-dialog');
          await open('#registries-btn', '#registries-dialog');
          await shot(page, 'lifecycle-' + tag + '-7-registries');
          await close('#registries-dialog');
          assert.deepEqual(problems.pageErrors, []);
          assert.deepEqual(problems.csp, []);
        } finally {
          await context.close();
        }
      });
    }
  }
});
