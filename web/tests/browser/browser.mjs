// Debian's Chromium driven by playwright-core (never a downloaded browser), with the flags this
// machine needs, and pages that fail the test on any uncaught error or console error.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { after, before } from 'node:test';
import { startTollgate, WEB } from '../harness.mjs';

export const ARTIFACTS = join(WEB, 'tests/artifacts');

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser() {
  await mkdir(ARTIFACTS, { recursive: true });
  // launch() starts Chromium on a fresh, temporary --user-data-dir of its own (and removes it
  // on close); each test then gets its own context, so no cookies or storage are shared.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
  return { browser, close: () => browser.close() };
}

/**
 * A private gateway and a browser for the test file that calls it: filled in before its tests,
 * stopped after them. `options` go to startTollgate.
 */
export function suite(options = {}) {
  const env = { app: null, browser: null };
  let chromium;
  before(async () => {
    [env.app, chromium] = await Promise.all([startTollgate(options), launchBrowser()]);
    env.browser = chromium.browser;
  });
  after(async () => {
    await chromium?.close();
    await env.app?.stop();
  });
  return env;
}

/**
 * A browser context for one user (token in sessionStorage, as after signing in) whose pages
 * record every uncaught error and console error; `assertClean()` fails the test on any.
 * `allowed` lists console errors a test expects, each with the reason; `height` is the
 * window's (a short one keeps the infinite scroll from loading a second page by itself).
 */
export async function userContext(browser, app, { token = null, allowed = [], height = 800 } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height } });
  context.setDefaultTimeout(15000);
  if (token) {
    await context.addInitScript(signIn, { token, origin: new URL(app.webUrl).origin });
  }
  const problems = [];
  context.on('page', (page) => watch(page, problems, allowed));
  return {
    context,
    /** A new tab at `path`; `token`: signed in in this tab only (sessionStorage is per tab). */
    async page(path = '/', { token: tabToken = null } = {}) {
      const page = await context.newPage();
      if (tabToken) {
        await page.addInitScript(signIn, { token: tabToken, origin: new URL(app.webUrl).origin });
      }
      await page.goto(new URL(path, app.webUrl).toString());
      return page;
    },
    assertClean() {
      assert.deepEqual(problems, [], `page errors:\n${problems.join('\n')}`);
    },
    close: () => context.close(),
  };
}

// Runs in every frame before the page's scripts: signed in as after the sign-in page, on the
// app's own origin only (Stripe's frames and blank frames have no sessionStorage to use).
function signIn({ token, origin }) {
  if (window.location.origin !== origin) return;
  if (!window.sessionStorage.getItem('tollgate.token')) window.sessionStorage.setItem('tollgate.token', token);
}

function watch(page, problems, allowed) {
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.stack ?? err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const url = msg.location()?.url ?? '';
    if (allowed.some((a) => a.text.test(text) && (!a.url || a.url.test(url)))) return;
    problems.push(`console.error: ${text} (${url})`);
  });
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Types a card into the (emulated) Stripe card Element. */
export async function fillCard(scope, number, { exp = '12 / 34', cvc = '123', postal = '12345' } = {}) {
  const card = scope.locator('[data-testid=card-element]');
  await card.locator('input[name=cardnumber]').fill(number);
  await card.locator('input[name=exp-date]').fill(exp);
  await card.locator('input[name=cvc]').fill(cvc);
  await card.locator('input[name=postal]').fill(postal);
}

/** Opens a product's checkout in the shop, for the price whose label contains `price`. */
export async function openCheckout(page, productName, price = '(USD)') {
  const product = page.getByRole('article', { name: productName });
  const select = product.locator('select');
  const option = select.locator('option', { hasText: price });
  await select.selectOption(await option.getAttribute('value'));
  await product.getByRole('button').click();
  return page.getByRole('region', { name: 'Checkout' });
}
