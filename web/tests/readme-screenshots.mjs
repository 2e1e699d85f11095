// Makes the README's screenshots (docs/screenshots/shop.png and admin.png, 1280x800) from a
// private demo with a few orders in it: node web/tests/readme-screenshots.mjs
// (after scripts/build-web; TOLLGATE_BIN as for the tests).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, startTollgate } from './harness.mjs';
import { launchBrowser, userContext } from './browser/browser.mjs';

const OUT = join(ROOT, 'docs/screenshots');
const app = await startTollgate();
const chromium = await launchBrowser();
try {
  await mkdir(OUT, { recursive: true });
  const orders = [
    ['ada', 'Rust Payments Handbook (e-book)', 'usd', 'pm_card_visa'],
    ['grace', 'Rust Payments Handbook (e-book)', 'eur', 'pm_card_mastercard'],
    ['linus', 'Sticker pack', 'usd', 'pm_card_visa'],
    ['yuki', 'Rust Payments Handbook (e-book)', 'jpy', 'pm_card_visa'],
    ['minho', 'Rust Payments Handbook (e-book)', 'krw', 'pm_card_visa'],
    ['ada', 'Sticker pack', 'eur', 'pm_card_chargeDeclined'],
  ];
  const paid = [];
  for (const [user, product, currency, card] of orders) {
    const token = await app.token(user);
    const r = await app.pay(token, { priceId: await app.priceId(product, currency), paymentMethodId: card, description: product });
    if (r.data) paid.push(r.data.createPaymentIntent.payment.id);
  }
  const admin = await app.token('operator', { admin: true });
  await app.gql(admin, 'mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { id } }',
    { input: { paymentId: paid[2], reason: 'REQUESTED_BY_CUSTOMER' } });
  const subscriber = await app.token('ada');
  await app.gql(subscriber, 'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
    { input: { priceId: await app.priceId('Tollgate Pro', 'usd', { recurring: true }), paymentMethodId: 'pm_card_visa' } });
  await new Promise((r) => setTimeout(r, 1500)); // webhooks settle

  const customer = await userContext(chromium.browser, app, { token: await app.token('ada') });
  const shop = await customer.page('/');
  await shop.getByRole('article', { name: 'Tollgate Pro' }).getByRole('button').click();
  await shop.getByRole('region', { name: 'Checkout' }).waitFor();
  await shop.screenshot({ path: join(OUT, 'shop.png') });

  const operator = await userContext(chromium.browser, app, { token: admin });
  const page = await operator.page('/admin');
  await page.getByRole('img', { name: /Revenue in USD/ }).waitFor();
  await page.getByRole('tab', { name: 'Processed' }).click();
  await page.locator('tr[data-event-id]').first().waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(OUT, 'admin.png'), fullPage: false });
  console.log(`wrote ${OUT}/shop.png and admin.png`);
} finally {
  await chromium.close();
  await app.stop();
}
