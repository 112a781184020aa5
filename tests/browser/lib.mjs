// lib.mjs: what the dashboard's browser tests share. They drive Debian's headless
// chromium through playwright-core against a real vmvaultd (started by
// tests/e2e/t0700-dashboard.sh, which passes its URL and tokens in the environment)
// and print "PASS name" / "FAIL name: why" lines like the shell tests.
//
//   VV_URL     the server's base URL          VV_SHOTS  folder for screenshots
//   VV_TOKEN   the token to sign in with      (each test adds what it needs)
//   VV_SELF_SIGNED=1  the server's certificate is self-signed (a test's own server)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export const URL = process.env.VV_URL;
export const SHOTS = process.env.VV_SHOTS || '/tmp/vv-dashboard-shots';
let failed = 0;

export function pass(name) { console.log(`PASS ${name}`); }
export function fail(name, why) {
  failed = 1;
  console.log(`FAIL ${name}: ${String(why).split('\n').slice(0, 4).join(' | ')}`);
}

// check(name, fn): passes when fn (may be async) returns without throwing and not false.
export async function check(name, fn) {
  try {
    const r = await fn();
    if (r === false) fail(name, 'condition is false');
    else pass(name);
    return r !== false;
  } catch (e) {
    fail(name, e.message || e);
    return false;
  }
}

export function expect(cond, why) { if (!cond) throw new Error(why); }

// A browser and a page on a laptop-sized screen. Requests to anything but the
// server, failed requests and console errors (a CSP violation is one) are recorded.
export async function open() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  // VV_SELF_SIGNED=1: the server is a test's own, with a self-signed certificate.
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 }, timezoneId: 'America/New_York',
    ignoreHTTPSErrors: process.env.VV_SELF_SIGNED === '1',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const problems = [];
  const origin = new globalThis.URL(URL).origin;
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:')) problems.push(`request to ${u}`);
  });
  // The API's refusals (4xx) are expected by some checks and shown by the page.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { browser, page, problems };
}

export async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

export async function signIn(page, token) {
  await page.goto(`${URL}/`);
  await page.getByLabel('User token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').waitFor();
}

// The REST API with a token, from the test itself (to check what the page did).
export async function apiGet(path, token) {
  const r = await fetch(`${URL}/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}

export async function done(ctx) {
  await check('the page fetched nothing outside the server and logged no error', () => {
    expect(ctx.problems.length === 0, ctx.problems.join('; '));
  });
  await ctx.browser.close();
  process.exit(failed);
}
