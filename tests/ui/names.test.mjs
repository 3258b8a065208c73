// Names that would spoof another in the UI (issue 11, red team finding 9): tart accepts any
// VM name, so a bidi override can make "evil\u202egnp.exe" read "evilexe.png", and
// "vm1 " look like "vm1". The page shows hidden characters as escapes and edge spaces
// as "␣", in the list, the task panel and the dialogs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeHome, sim, startServer, launchBrowser, newPage, shot } from './support/harness.mjs';

describe('names that spoof', { timeout: 120000 }, () => {
  let browser;
  let home;
  let server;
  before(async () => {
    browser = await launchBrowser();
    home = makeHome('names');
    sim(home, 'create', '--linux', 'evil\u202egnp.exe');
    sim(home, 'create', '--linux', 'vm1');
    sim(home, 'create', '--linux', 'vm1 ');
    sim(home, 'create', '--linux', 'zero\u200bwidth');
    server = await startServer(home);
  });
  after(async () => {
    await server?.stop();
    await browser?.close();
  });

  test('hidden characters and trailing spaces are shown', async () => {
    const { context, page, problems } = await newPage(browser);
    try {
      await page.goto(server.pageUrl);
      const names = page.locator('#vm-list .vm-name-text');
      await page.waitForFunction(() => document.querySelectorAll('#vm-list .vm-name-text').length === 4, null, { timeout: 15000 });
      const shown = (await names.allTextContents()).sort();
      assert.deepEqual(shown, ['evil\\u202egnp.exe', 'vm1', 'vm1\u2423', 'zero\\u200bwidth'].sort());
      // No shown name contains a bidi or zero-width character any more.
      for (const text of shown) assert.ok(!/[\u200b-\u200f\u202a-\u202e\u2066-\u2069]/.test(text), text);
      // The delete confirmation names the VM the same way.
      const li = page.locator('li.vm').filter({ has: page.locator('.vm-name-text', { hasText: /^vm1\u2423$/ }) });
      await li.getByRole('button', { name: /^Delete/ }).click();
      await page.locator('#delete-dialog').waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await page.locator('#delete-name').textContent(), '\u201cvm1\u2423\u201d');
      await shot(page, '21-spoofing-names');
      await page.locator('#delete-cancel').click();
      assert.deepEqual(problems.pageErrors, []);
    } finally {
      await context.close();
    }
  });
});
