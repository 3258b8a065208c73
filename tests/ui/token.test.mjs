// The token in the browser (issue 11): the server never serves it; the page takes it from
// the address's fragment, keeps it for the tab and removes it from the address bar, and a
// page opened without one asks for it and says where to find it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeHome, sim, startServer, launchBrowser, newPage, shot, vmItem } from './support/harness.mjs';

describe('the token', { timeout: 120000 }, () => {
  let browser;
  let home;
  let server;
  before(async () => {
    browser = await launchBrowser();
    home = makeHome('token');
    sim(home, 'create', '--linux', 'vm-one');
    server = await startServer(home);
  });
  after(async () => {
    await server?.stop();
    await browser?.close();
  });

  test('opening /#token=… works, and the fragment leaves the address bar', async () => {
    const { context, page, problems } = await newPage(browser);
    try {
      await page.goto(server.pageUrl);
      await vmItem(page, 'vm-one').waitFor({ state: 'visible', timeout: 15000 });
      assert.equal(new URL(page.url()).hash, '', 'the token is gone from the address');
      assert.ok(!page.url().includes(server.token));
      assert.equal(await page.evaluate(() => sessionStorage.getItem('taartenfabriek-token')), server.token);
      assert.equal(await page.locator('#auth-banner').isHidden(), true);
      // A reload of the tab keeps working without the fragment.
      await page.reload();
      await vmItem(page, 'vm-one').waitFor({ state: 'visible', timeout: 15000 });
      assert.equal(await page.locator('#auth-banner').isHidden(), true);
      // Nothing the page loaded carries the token: it is not in the document either.
      assert.ok(!(await page.content()).includes(server.token));
      assert.deepEqual(problems.pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('opened without a token, the page asks for it and says where to find it', async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(server.url + '/');
      const banner = page.locator('#auth-banner');
      await banner.waitFor({ state: 'visible', timeout: 15000 });
      const text = await banner.textContent();
      assert.match(text, /needs the server's token/);
      assert.match(text, /taartenfabriek url/);
      assert.match(text, /~\/\.tartvm-manager\/token/);
      assert.equal(await vmItem(page, 'vm-one').count(), 0);
      await shot(page, '20-token-asked');
      // Something that is not a token is refused in place.
      await page.locator('#token-input').fill('not a token!');
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.locator('#token-error').waitFor({ state: 'visible', timeout: 5000 });
      // The token pasted: the page reloads and works.
      await page.locator('#token-input').fill(server.token);
      await page.getByRole('button', { name: 'Use token' }).click();
      await vmItem(page, 'vm-one').waitFor({ state: 'visible', timeout: 15000 });
      assert.equal(await page.locator('#auth-banner').isHidden(), true);
    } finally {
      await context.close();
    }
  });

  test('a wrong token in the fragment is reported as refused', async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(server.url + '/#token=' + 'A'.repeat(43));
      await page.locator('#auth-refused').waitFor({ state: 'visible', timeout: 15000 });
      assert.equal(new URL(page.url()).hash, '');
    } finally {
      await context.close();
    }
  });
});
