// The dashboard in headless Chromium, against the `stswatch serve` that dashboard_browser.cpp
// started on a seeded timeline. Every request to anything but the loopback is aborted and
// fails the test; so does any console error (a CSP violation among them).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('DASHBOARD_URL');
const token = env('DASHBOARD_TOKEN');
const domain = env('DASHBOARD_DOMAIN');
const newDomain = env('DASHBOARD_NEW_DOMAIN');
const marker = env('DASHBOARD_MARKER');
const topCause = env('DASHBOARD_TOP_CAUSE');
const out = env('DASHBOARD_OUT');
mkdirSync(out, { recursive: true });

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run',
         '--disable-domain-reliability', '--disable-sync'],
});
const blocked = [];
const consoleErrors = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: 'block' });
await context.route('**/*', (route) => {
  const url = new URL(route.request().url());
  if (url.protocol === 'data:' || url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
  blocked.push(url.href);
  return route.abort('blockedbyclient');
});
const page = await context.newPage();
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

// Bytes transferred per navigation, as the network saw them (CDP's encodedDataLength:
// headers and body on the wire). Routing requests disables the browser's cache, so every
// page is weighed as a first visit would load it.
let transfer = [];
const urls = new Map();
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
cdp.on('Network.loadingFinished', (e) => {
  const url = urls.get(e.requestId);
  if (url && !url.startsWith('data:')) transfer.push({ url, bytes: e.encodedDataLength });
});
const settle = async () => { await page.waitForLoadState('networkidle'); await new Promise((r) => setTimeout(r, 200)); };
const weigh = async (what, go) => {
  transfer = [];
  await go();
  await settle();
  const bytes = transfer.reduce((a, t) => a + t.bytes, 0);
  console.log(`weight ${what}: ${bytes} bytes (${transfer.map((t) => `${new URL(t.url).pathname} ${t.bytes}`).join(', ')})`);
  return { bytes, items: [...transfer] };
};

const shot = async (name) => {
  const file = path.join(out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
};

try {
  // Signed out: the sign-in form.
  await page.goto(`${base}/`);
  check(new URL(page.url()).pathname === '/signin', 'a signed-out visit lands on /signin');
  await page.getByLabel('API token').fill(token);
  const list = await weigh('domain list', async () => {
    await Promise.all([page.waitForURL(`${base}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
  });
  check(await page.locator('h1').textContent() === 'Domains', 'signed in, the domain list');
  const link = page.getByRole('link', { name: domain, exact: true });
  check(await link.count() === 1, `the list links ${domain}`);
  check(await page.locator('tr', { has: link }).locator('.badge').textContent() === 'Incident', 'its state is Incident');
  await shot('domains-laptop');

  const domainPage = await weigh('domain page', async () => {
    await Promise.all([page.waitForURL(`${base}/domains/${domain}`), link.click()]);
  });
  check(await page.locator('h1').textContent() === domain, 'the domain page');
  const bars = await page.locator('svg#chart-failures rect.bar[data-layer="validation-failure"]').count();
  check(bars >= 10, `the failures chart has validation-failure bars (${bars})`);
  const ok = await page.locator('svg#chart-sessions rect.bar[data-layer="successful"]').count();
  check(ok >= 25, `the sessions chart has successful bars (${ok})`);
  const markers = await page.locator('svg#chart-sessions g.marker > title').allTextContents();
  check(markers.some((t) => t.startsWith(marker)), `a change marker titled "${marker} …" (${markers.join(' | ')})`);
  const first = page.locator('section.incident').first();
  check(await first.count() === 1, 'an incident is listed');
  check(await first.locator('li.cause').first().getAttribute('data-code') === topCause, `its top cause is ${topCause}`);
  check((await first.locator('li.cause').first().textContent()).includes('Fix:'), 'the cause says how to fix it');
  check(await page.locator('.finding[data-code="mx-not-covered"]').count() === 1, 'the finding of the last check');
  check(await page.locator('a[href^="/api/v1/reports/"]').count() > 0, 'the reports link the API');
  await page.getByRole('link', { name: '7 days' }).click();
  await page.waitForURL(/range=7/);
  check(await page.locator('svg#chart-sessions rect.bar[data-layer="successful"]').count() <= 7, 'the 7-day range');
  await page.getByRole('link', { name: 'Sender' }).click();
  await page.waitForURL(/group=org/);
  check(await page.getByRole('rowheader', { name: 'Google Inc.' }).count() === 1, 'grouped by sender');
  await page.goto(`${base}/domains/${domain}`);
  await shot('domain-laptop');
  const ack = first.getByRole('button', { name: 'Acknowledge' });
  await Promise.all([page.waitForURL(/#incidents$/), ack.click()]);
  check((await page.locator('section.incident').first().textContent()).includes('Acknowledged'), 'acknowledged');

  // A phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/domains/${domain}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 391, `the domain page fits 390 px (${wide})`);
  await shot('domain-phone');
  await page.goto(`${base}/`);
  check(await page.evaluate(() => document.documentElement.scrollWidth) <= 391, 'the domain list fits 390 px');
  await shot('domains-phone');
  await page.setViewportSize({ width: 1280, height: 800 });

  // Adding a domain: its page refreshes itself until the first check is there.
  await page.getByLabel('Domain name').fill(newDomain);
  await Promise.all([page.waitForURL(`${base}/domains/${newDomain}`), page.getByRole('button', { name: 'Add and check' }).click()]);
  check(await page.locator('h1').textContent() === newDomain, 'the new domain page');
  await page.locator('#last-check').waitFor({ timeout: 60000 });
  check(await page.locator('#first-check').count() === 0, 'its first check appeared');
  await shot('new-domain-laptop');

  // Page weight, as a first visit transfers it: the document and its assets.
  const assets = list.items.filter((t) => new URL(t.url).pathname.startsWith('/assets/')).reduce((a, t) => a + t.bytes, 0);
  const html = (w) => w.items.filter((t) => !new URL(t.url).pathname.startsWith('/assets/')).reduce((a, t) => a + t.bytes, 0);
  const listFirst = html(list) + assets, pageFirst = html(domainPage) + assets;
  console.log(`page weight: domain list ${listFirst} bytes, domain page ${pageFirst} bytes (of which assets ${assets})`);
  check(listFirst < 300 * 1024 && pageFirst < 300 * 1024, 'each first page is under 300 KB');
  check(assets > 0, 'the assets were loaded from /assets/');
} catch (e) {
  failures.push(String(e && e.stack || e));
  console.log(`FAIL ${e && e.stack || e}`);
  try { await shot('failure'); } catch { /* none */ }
} finally {
  await browser.close();
}

check(blocked.length === 0, `no request left the loopback${blocked.length ? ': ' + blocked.join(', ') : ''}`);
check(consoleErrors.length === 0, `no console error${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);
if (failures.length) {
  console.log(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log('browser test passed');
