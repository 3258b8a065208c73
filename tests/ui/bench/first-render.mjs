// The UI's first render, for the benchmark's scale run (issue 14; started by
// benches/load/events.rs, not a test: it asserts nothing about time).
//
//   node tests/ui/bench/first-render.mjs <page-url-with-#token=> <rows> [runs]
//
// Opens the page in headless Debian Chromium (the UI tests' launch flags) `runs` times,
// each in a fresh context (empty cache, as a first visit), and measures from the start of
// navigation to the moment the VM list holds `rows` VM rows. A MutationObserver installed
// before the page's own scripts stamps that moment with `performance.now()`, whose zero is
// the navigation's start, so polling adds no delay to the figure. Prints one JSON line:
// {"rows":N,"runs_ms":[...],"median_ms":M}. Every wait has a timeout.
import { launchBrowser } from '../support/harness.mjs';

/** How long one page may take to show every row before the run fails (a watchdog). */
const RENDER_TIMEOUT_MS = 60000;
/** Page loads measured; the median is reported. */
const DEFAULT_RUNS = 3;

const [pageUrl, rowsArg, runsArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const runs = Number(runsArg || DEFAULT_RUNS);
if (!pageUrl || !Number.isInteger(rows) || rows < 1 || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: first-render.mjs <page-url> <rows> [runs]');
  process.exit(2);
}

// Runs in the page before its scripts: records when the local VM rows first number `want`.
function watchRows(want) {
  const count = () => document.querySelectorAll('li.vm:not(.is-image)').length;
  const check = () => {
    if (window.__firstRenderMs === undefined && count() >= want) {
      window.__firstRenderMs = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true });
}

const browser = await launchBrowser();
try {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    context.setDefaultTimeout(RENDER_TIMEOUT_MS);
    const page = await context.newPage();
    await page.addInitScript(watchRows, rows);
    await page.goto(pageUrl, { waitUntil: 'commit' });
    const handle = await page.waitForFunction(() => window.__firstRenderMs, null, {
      polling: 20,
      timeout: RENDER_TIMEOUT_MS,
    });
    times.push(Math.round((await handle.jsonValue()) * 10) / 10);
    await context.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(JSON.stringify({ rows, runs_ms: times, median_ms: sorted[Math.floor(sorted.length / 2)] }));
} finally {
  await browser.close();
}
