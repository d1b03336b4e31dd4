// The dashboard in a real browser, against a running local stack (tools/local/smoke.sh runs it
// after `make demo`): Debian's chromium, headless, driven by playwright-core, in a time zone other
// than the schedules' (Asia/Tokyo). It loads the page, submits a job through the form and watches
// it reach SUCCEEDED without reloading, shows a running job's attempt as running and cancels it,
// shows a job that succeeded after a failure without an error banner (the failure in its
// history) and opens every run's log, shows a failed row's error in the table, pauses and resumes
// a schedule, checks a schedule's next fire time (in the browser's zone) and last run, filters the
// jobs table, and saves screenshots.
//   DASHBOARD_URL=http://127.0.0.1:3000/ CHROMIUM=/usr/bin/chromium OUT_DIR=… [API_TOKEN=…] node dashboard.test.mjs
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.DASHBOARD_URL ?? 'http://127.0.0.1:3000/';
const out = process.env.OUT_DIR ?? '.';
const token = process.env.API_TOKEN;
// A second pass over the same stack (through `jobsctl ui`) skips what only waits on the stack's
// clock (a schedule's firing, up to a minute), which the first pass checked.
const quick = process.env.BROWSER_QUICK === '1';
const WAIT = 120_000;
mkdirSync(out, { recursive: true });

const step = (text) => console.log(`browser: ${text}`);

async function call(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(new URL(path, base), { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const problems = [];
let failed = false;
try {
  // The schedules below are in UTC: the page must show their times in the browser's zone.
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 }, timezoneId: 'Asia/Tokyo', locale: 'en-GB' });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Failed requests are checked by status (the console repeats them without the URL).
  let refusals = 0; // the 4xx answers a step expects
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    if (r.status() < 500 && refusals > 0) { refusals -= 1; return; }
    problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.setDefaultTimeout(WAIT);

  step('load the page');
  await page.goto(new URL(token ? `/?token=${encodeURIComponent(token)}` : '/', base).href);
  await page.locator('[data-testid=live]').filter({ hasText: 'live' }).waitFor();
  assert.ok(!page.url().includes('token='), 'the token is taken out of the URL');
  const tile = async (name) => (await page.locator(`[data-tile=${name}] .n`).textContent()).trim();
  assert.match(await tile('succeeded'), /^\d+$/);
  assert.ok(Number(await tile('succeeded')) >= 1, 'the demo before this test ran jobs');
  assert.match(await tile('dead'), /^\d+$/, 'the dead-letter depth is known');
  const chart = page.locator('[data-testid=chart]');
  assert.ok(Number(await chart.getAttribute('data-succeeded')) >= 1, "the chart shows the demo's jobs");
  assert.equal(await chart.locator('svg').count(), 1);

  step('submit a noop job through the form and watch it succeed (no reload)');
  await page.locator('nav a[data-nav=submit]').click();
  await page.locator('[data-testid=submit-kind]').selectOption('noop');
  await page.locator('[data-testid=submit]').click();
  await page.waitForURL(/#\/jobs\/[^/]+$/);
  const okId = decodeURIComponent(page.url().split('#/jobs/')[1]);
  await page.locator('[data-testid=job-status] [data-status=SUCCEEDED]').waitFor();
  assert.equal(await page.locator('[data-testid=job-id]').textContent(), okId);
  assert.ok((await page.locator('[data-testid=attempts] tbody tr').count()) >= 1, 'the attempt is listed');
  await page.locator('[data-testid=result]').waitFor();
  assert.equal((await call('GET', `/jobs/${okId}`)).status, 'SUCCEEDED');
  await page.screenshot({ path: join(out, 'dashboard-job.png'), fullPage: true });

  step('a command kind (Python, its own image) submitted with its example payload, succeeding with its result');
  await page.locator('nav a[data-nav=submit]').click();
  await page.locator('[data-testid=submit-kind]').selectOption('report');
  assert.equal(await page.locator('[data-testid=kind-runtime]').getAttribute('data-runtime'), 'command');
  assert.match(await page.locator('[data-testid=kind-runtime]').textContent(), /python3 report\.py/);
  const example = JSON.parse(await page.locator('textarea[name=payload]').inputValue());
  assert.equal(example.campaign, 'spring-sale', 'the form holds the kind\'s example');
  await page.locator('[data-testid=submit]').click();
  await page.waitForURL(/#\/jobs\/[^/]+$/);
  const reportId = decodeURIComponent(page.url().split('#/jobs/')[1]);
  await page.locator('[data-testid=job-status] [data-status=SUCCEEDED]').waitFor({ timeout: 60_000 });
  await page.locator('[data-testid=result]').filter({ hasText: 'spring-sale' }).waitFor();
  assert.equal((await call('GET', `/jobs/${reportId}`)).result.campaign, 'spring-sale');

  step('a bad payload is refused with the API\'s message, and nothing is submitted');
  const before = (await call('GET', '/jobs/stats')).submitted;
  await page.locator('nav a[data-nav=submit]').click();
  await page.locator('[data-testid=submit-kind]').selectOption('sleep');
  await page.locator('textarea[name=payload]').fill('{"ms": -5}');
  refusals = 1;
  await page.locator('[data-testid=submit]').click();
  await page.locator('[data-testid=error]:not(.note)').filter({ hasText: 'HTTP 400' }).waitFor();
  assert.equal((await call('GET', '/jobs/stats')).submitted, before);
  assert.equal(refusals, 0, 'the refusal came from the API');
  // It stays up through the page's refreshes (every 3 s), until the user's next action.
  await page.waitForTimeout(3500);
  assert.ok(await page.locator('[data-testid=error]').filter({ hasText: 'HTTP 400' }).isVisible(), 'the refusal outlives a refresh');
  // A schedule that fires every minute (after the step above counted submissions): by the end of
  // the test it has a last run.
  const ticker = `browser-tick-${Date.now()}`;
  if (!quick) await call('POST', '/jobs/schedules', { cron: '* * * * *', job: 'noop', name: ticker });

  step('cancel a running job');
  await page.locator('textarea[name=payload]').fill('{"ms": 600000}');
  await page.locator('[data-testid=submit]').click();
  await page.waitForURL(/#\/jobs\/[^/]+$/);
  const longId = decodeURIComponent(page.url().split('#/jobs/')[1]);
  assert.notEqual(longId, okId);
  await page.locator('[data-testid=job-status] [data-status=RUNNING]').waitFor();
  // The attempt in progress is listed as running, and its start is the first start.
  await page.locator('[data-testid=attempts] tr[data-run="1"][data-outcome=running]').waitFor();
  assert.notEqual((await page.locator('[data-testid=first-started]').textContent()).trim(), '–');
  assert.equal(await page.locator('[data-testid=attempts] tr.empty').count(), 0, 'no "not started" row beside a running attempt');
  await page.locator('.actions [data-action=cancel]').click();
  await page.locator('[data-testid=job-status] [data-status=CANCELLED]').waitFor();
  assert.equal((await call('GET', `/jobs/${longId}`)).status, 'CANCELLED');

  step('a job that succeeded after a failure: no error banner, the failure in its history, every log link answers');
  const flaky = (await call('POST', '/jobs', { job: 'flaky', payload: { failures: 1 } })).jobId;
  await page.goto(new URL(`/#/jobs/${encodeURIComponent(flaky)}`, base).href);
  await page.locator('[data-testid=job-status] [data-status=SUCCEEDED]').waitFor();
  assert.equal(await page.locator('[data-testid=last-error]').count(), 0, 'a SUCCEEDED job shows no error banner');
  const failedRun = page.locator('[data-testid=attempts] tr[data-outcome=failed]');
  assert.match(await failedRun.textContent(), /planned failure/);
  await page.locator('[data-testid=attempts] tr[data-outcome=succeeded]').waitFor();
  const firstStart = (await page.locator('[data-testid=first-started]').textContent()).trim();
  const lastStart = (await page.locator('[data-testid=last-started]').textContent()).trim();
  assert.notEqual(firstStart, lastStart, 'both the first and the last start are shown');
  const links = page.locator('[data-testid=attempts] [data-action=log]');
  assert.equal(await links.count(), 2, 'each run links its log');
  for (let i = 0; i < 2; i += 1) {
    await links.nth(i).click();
    const box = page.locator('[data-testid=log-box]');
    await box.locator('[data-testid=log], [data-testid=log-missing]').first().waitFor();
    assert.equal(await box.locator('[data-testid=log-missing]').count(), 0, `run ${2 - i}'s log answers`);
    assert.ok((await box.locator('[data-testid=log]').textContent()).length > 0);
  }
  await page.screenshot({ path: join(out, 'dashboard-retried-job.png'), fullPage: true });

  step("a failed job's row shows its error");
  // permanent: FAILED on its first attempt, without waiting out retries.
  const doomed = (await call('POST', '/jobs', { job: 'fail', payload: { message: 'browser: meant to fail', permanent: true } })).jobId;
  for (let i = 0; i < 120 && (await call('GET', `/jobs/${doomed}`)).status !== 'FAILED'; i += 1) await page.waitForTimeout(1000);
  await page.goto(new URL('/#/jobs?status=FAILED', base).href);
  const doomedRow = page.locator(`[data-testid=jobs] tr[data-job="${doomed}"]`);
  await doomedRow.waitFor();
  assert.match(await doomedRow.locator('[data-testid=job-note]').textContent(), /browser: meant to fail/);

  step('the jobs table filters by status and opens a job');
  await page.goto(new URL('/#/jobs?status=CANCELLED', base).href);
  const row = page.locator(`[data-testid=jobs] tr[data-job="${longId}"]`);
  await row.waitFor();
  assert.equal(await page.locator('[data-testid=jobs] tbody tr[data-job]:not([data-status=CANCELLED])').count(), 0);
  await page.locator('[data-testid=filter-status]').selectOption('SUCCEEDED');
  await page.locator(`[data-testid=jobs] tr[data-job="${okId}"]`).waitFor();
  await page.locator(`[data-testid=jobs] tr[data-job="${okId}"] a[href^="#/jobs/"]`).click();
  await page.locator('[data-testid=job-status] [data-status=SUCCEEDED]').waitFor();

  step("a high-priority job of another pool, for a tenant, through the form; the tenant's jobs; the pools view shows every pool");
  const tenant = `browser-${Date.now()}`;
  await page.locator('nav a[data-nav=submit]').click();
  await page.locator('[data-testid=submit-kind]').selectOption('ping');
  await page.locator('[data-testid=submit-priority]').selectOption('high');
  await page.locator('[data-testid=submit-tenant]').fill(tenant);
  await page.locator('[data-testid=submit]').click();
  await page.waitForURL(/#\/jobs\/[^/]+$/);
  const pinged = decodeURIComponent(page.url().split('#/jobs/')[1]);
  await page.locator('[data-testid=job-status] [data-status=SUCCEEDED]').waitFor();
  assert.equal((await page.locator('[data-testid=job-priority]').textContent()).trim(), 'high');
  assert.match(await page.locator('[data-testid=job-pool]').textContent(), /^short\s*high$/);
  assert.equal((await page.locator('[data-testid=job-tenant]').textContent()).trim(), tenant);
  await page.locator('[data-testid=job-tenant] a').click();
  await page.locator(`[data-testid=jobs] tr[data-job="${pinged}"]`).waitFor();
  assert.equal(await page.locator('[data-testid=jobs] tbody tr[data-job]').count(), 1, "the tenant's only job");
  assert.equal(await page.locator('[data-testid=filter-tenant]').inputValue(), tenant);
  await page.locator('nav a[data-nav=pools]').click();
  const pools = page.locator('[data-testid=pools] tbody tr[data-pool]');
  await pools.first().waitFor();
  const listed = await call('GET', '/jobs/pools');
  assert.deepEqual(await pools.evaluateAll((rows) => rows.map((r) => r.dataset.pool)), listed.pools.map((p) => p.name));
  assert.match(await page.locator('tr[data-pool=short]').textContent(), /drain/);
  assert.match(await page.locator('tr[data-pool=long]').textContent(), /on-demand.*12 h/);
  await page.screenshot({ path: join(out, 'dashboard-pools.png'), fullPage: true });

  step("a tenant's limits through the Tenants view: paused, its job WAITING says why; raised, it runs; reset");
  const limited = `browser-limit-${Date.now()}`;
  await page.locator('nav a[data-nav=tenants]').click();
  await page.locator('[data-testid=tenant-form]').waitFor();
  await page.locator('[data-testid=tenant-name]').fill(limited);
  await page.locator('[data-testid=tenant-maxRunning]').fill('0');
  await page.locator('[data-testid=tenant-save]').click();
  const tenantRow = `[data-testid=tenants] tr[data-tenant="${limited}"]`;
  await page.locator(tenantRow).waitFor();
  const held = await call('POST', '/jobs', { job: 'noop', tenant: limited });
  assert.equal(held.status, 'WAITING');
  // The view refreshes every few seconds: wait for the row to count the waiting job.
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() === '1',
    `${tenantRow} [data-testid=tenant-waiting]`, { timeout: WAIT });
  await page.screenshot({ path: join(out, 'dashboard-tenants.png'), fullPage: true });
  await page.goto(new URL(`/#/jobs/${held.jobId}`, base).href);
  await page.locator('[data-testid=job-status] [data-status=WAITING]').waitFor();
  assert.match(await page.locator('[data-testid=waiting-for]').first().textContent(), /paused/);
  await page.locator('nav a[data-nav=tenants]').click();
  await page.locator(`${tenantRow} [data-testid=tenant-edit]`).click();
  assert.equal(await page.locator('[data-testid=tenant-maxRunning]').inputValue(), '0', 'Edit fills the form');
  await page.locator('[data-testid=tenant-maxRunning]').fill('2');
  await page.locator('[data-testid=tenant-save]').click();
  await page.goto(new URL(`/#/jobs/${held.jobId}`, base).href);
  await page.locator('[data-testid=job-status] [data-status=SUCCEEDED]').waitFor({ timeout: WAIT });
  await page.locator('nav a[data-nav=tenants]').click();
  await page.locator('[data-testid=tenant-name]').fill(limited);
  await page.locator('[data-testid=tenant-reset]').click();
  await page.locator(tenantRow).waitFor({ state: 'detached' });
  assert.deepEqual((await call('GET', '/tenants?limit=50')).tenants.map((t) => t.tenant).filter((t) => t === limited), []);

  step('pause and resume a schedule');
  const name = `browser-${Date.now()}`;
  await call('POST', '/jobs/schedule', { cron: '0 3 * * *', job: 'noop', name });
  try {
    await page.locator('nav a[data-nav=schedules]').click();
    const sched = page.locator(`[data-testid=schedules] tr[data-schedule="${name}"]`);
    await sched.locator('[data-action=pause]').click();
    await page.locator(`[data-testid=schedules] tr[data-schedule="${name}"][data-state=DISABLED]`).waitFor();
    assert.equal((await call('GET', `/jobs/schedules/${name}`)).state, 'DISABLED');
    await page.locator(`[data-testid=schedules] tr[data-schedule="${name}"] [data-action=resume]`).click();
    await page.locator(`[data-testid=schedules] tr[data-schedule="${name}"][data-state=ENABLED]`).waitFor();
    assert.equal((await call('GET', `/jobs/schedules/${name}`)).state, 'ENABLED');
    // 03:00 UTC is 12:00 in Tokyo: the next fire time is shown in the browser's zone.
    const next = page.locator(`[data-testid=schedules] tr[data-schedule="${name}"] [data-testid=next-fire]`);
    assert.match(await next.textContent(), /12:00:00/);
    assert.match(await next.getAttribute('data-at'), /T03:00:00Z$/);
  } finally {
    await call('DELETE', `/jobs/schedules/${name}`);
  }

  step(quick ? 'a schedule that fired shows its last run: skipped (BROWSER_QUICK; the first pass checks it)' : 'a schedule that fired shows its last run');
  if (!quick) try {
    const lastRun = page.locator(`[data-testid=schedules] tr[data-schedule="${ticker}"] [data-testid=last-run]`);
    // It fires within a minute or so of its creation (ministack checks every ~10 s); the page refreshes.
    await lastRun.locator('a').waitFor({ timeout: 150_000 });
    const view = await call('GET', `/jobs/schedules/${ticker}`);
    assert.equal(await lastRun.locator('a').textContent(), view.lastRun.jobId);
    assert.match(await lastRun.textContent(), /ago/);
    await page.screenshot({ path: join(out, 'dashboard-schedules.png'), fullPage: true });
  } finally {
    await call('DELETE', `/jobs/schedules/${ticker}`);
  }

  step('screenshot of the overview');
  await page.goto(new URL('/#/jobs', base).href);
  await page.locator('[data-testid=jobs] tbody tr[data-job]').first().waitFor();
  await page.screenshot({ path: join(out, 'dashboard.png'), fullPage: true });
  assert.deepEqual(problems, [], 'no script errors and no blocked resources');
  step(`ok (screenshots in ${out})`);
} catch (e) {
  failed = true;
  console.error(`browser: FAILED: ${e.stack || e}`);
  if (problems.length) console.error(problems.join('\n'));
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages[0]) await pages[0].screenshot({ path: join(out, 'dashboard-failure.png'), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
