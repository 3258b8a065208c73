// Starts the real taartenfabriek server with tart-sim in a temporary home, and a
// headless Debian Chromium driven by playwright-core. Every wait has a timeout.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');

export const SERVER_BIN = process.env.TAARTENFABRIEK_BIN || path.join(repoRoot, 'target/debug/taartenfabriek');
export const SIM_BIN = process.env.TART_SIM_BIN || path.join(repoRoot, 'target/debug/tart-sim');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const SHOTS_DIR = path.join(repoRoot, 'target/ui-screenshots');

/** How long the server may take to print its address. */
const START_TIMEOUT_MS = 20000;
/** How long a stopped server may take to exit before it is killed. */
const STOP_TIMEOUT_MS = 5000;

/** Small simulator timings so the tests run in seconds. */
const SIM_ENV = {
  TART_SIM_BOOT_MS: '300',
  TART_SIM_PULL_MS: '1500',
  TART_SIM_LATENCY_MS: '0',
  TART_SIM_IP_RETRY_MS: '100',
};

/**
 * The TART_HOME of every home this test file made. A simulated VM (`tart-sim run`)
 * outlives a stopped server on purpose, as a real one does (a restart adopts it); when
 * the test file's process exits, whatever still runs for one of its homes is ended, so
 * no test leaves a process behind, whichever test started it.
 */
const homes = [];

/** Processes whose environment holds exactly `entry` (`NAME=value`), from /proc. */
function processesWithEnv(entry) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let environ;
    try {
      environ = fs.readFileSync('/proc/' + pid + '/environ', 'utf8');
    } catch (_) {
      continue; // ended meanwhile, or not ours to read
    }
    if (Number(pid) !== process.pid && environ.split('\0').includes(entry)) found.push(Number(pid));
  }
  return found;
}

process.on('exit', () => {
  for (const tartHome of homes) {
    for (const pid of processesWithEnv('TART_HOME=' + tartHome)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (_) {
        /* already gone */
      }
    }
  }
});

/** A fresh temporary home: HOME, TART_HOME and the server's data dir live inside it. */
export function makeHome(label) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taartenfabriek-ui-' + label + '-'));
  const env = {
    ...process.env,
    ...SIM_ENV,
    HOME: tmp,
    TART_HOME: path.join(tmp, 'tart-home'),
  };
  fs.mkdirSync(env.TART_HOME, { recursive: true });
  homes.push(env.TART_HOME);
  return { tmp, env, dataDir: path.join(tmp, 'data') };
}

/** Runs tart-sim directly, e.g. sim(home, 'create', '--linux', 'vm1'). */
export function sim(home, ...args) {
  return execFileSync(SIM_BIN, args, { env: home.env, timeout: 30000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Starts the server. `tart` defaults to tart-sim; pass another path to simulate a missing tart;
 * `args` are extra flags (e.g. `--demo-cluster`).
 * Resolves to { url, pageUrl, token, port, proc, stop() }; `pageUrl` is what the server
 * prints to open: the page with the token in the fragment.
 */
export async function startServer(home, opts = {}) {
  const tart = opts.tart || SIM_BIN;
  const port = opts.port || 0;
  const logPath = path.join(home.tmp, 'server-' + Date.now() + '.log');
  const log = fs.openSync(logPath, 'a');
  const args = ['--port', String(port), '--data-dir', home.dataDir, '--tart', tart, ...(opts.args || [])];
  const proc = spawn(SERVER_BIN, args, {
    env: home.env,
    stdio: ['ignore', 'pipe', log],
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('server did not print its address within ' + START_TIMEOUT_MS + ' ms; log: ' + logPath));
    }, START_TIMEOUT_MS);
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1].replace(/\/$/, ''));
      else reject(new Error('unexpected first line from the server: ' + JSON.stringify(line)));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error('server exited early with ' + code + '; log: ' + fs.readFileSync(logPath, 'utf8')));
    });
  });
  // Keep draining stdout so the server never blocks on a full pipe.
  proc.stdout.resume();

  const token = fs.readFileSync(path.join(home.dataDir, 'token'), 'utf8').trim();
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    fs.closeSync(log);
  };
  const pageUrl = url + '/#token=' + token;
  return { url, pageUrl, token, port: Number(new URL(url).port), proc, stop, logPath };
}

/** Calls the API directly (for setup and checks that do not belong to the UI). */
export async function apiCall(server, method, p, body) {
  const res = await fetch(server.url + p, {
    method,
    headers: { 'X-Local-Token': server.token, 'Content-Type': 'application/json' },
    body: method === 'GET' ? undefined : JSON.stringify(body || {}),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(CHROMIUM + ' is missing: run scripts/ui-test, which installs Debian chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page that records console errors, page errors and dialogs (an `alert` from
 * injected markup would show up here) so tests can assert there were none.
 */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.viewport || { width: 1440, height: 900 },
    colorScheme: opts.colorScheme || 'light',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  const problems = { console: [], pageErrors: [], dialogs: [], csp: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const text = msg.text();
      problems.console.push(text);
      if (/Content.Security.Policy/i.test(text)) problems.csp.push(text);
    }
  });
  page.on('pageerror', (err) => problems.pageErrors.push(String(err)));
  page.on('dialog', async (d) => {
    problems.dialogs.push(d.type() + ': ' + d.message());
    await d.dismiss().catch(() => {});
  });
  return { context, page, problems };
}

export async function shot(page, name, opts = {}) {
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS_DIR, name + '.png'), fullPage: !!opts.fullPage, timeout: 15000 });
}

/** The list item of a VM or image, found by its exact name. */
export function vmItem(page, name) {
  return page.locator('li.vm').filter({ has: page.locator('.vm-name-text', { hasText: exactText(name) }) });
}

/** The task panel entry for an action on a target (newest first). */
export function taskItem(page, verb, target) {
  return page
    .locator('li.task')
    .filter({ has: page.locator('.task-verb', { hasText: exactText(verb) }) })
    .filter({ has: page.locator('.task-target', { hasText: exactText(target) }) })
    .first();
}

function exactText(s) {
  return new RegExp('^' + s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');
}
