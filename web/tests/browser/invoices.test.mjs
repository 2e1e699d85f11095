// The invoices page as a customer sees it: every invoice with its number, status, lines and
// totals, and Stripe's hosted page and PDF to keep.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { screenshot, suite, userContext } from './browser.mjs';

const env = suite();

describe('invoices', () => {
  test('a paid subscription invoice with its lines, the hosted page and the PDF', async () => {
    const token = await env.app.token('invoice-reader');
    const products = await env.app.gql(null, '{ products { name prices { id currency recurring { interval } } } }');
    const pro = products.data.products.find((p) => p.name === 'Tollgate Pro');
    const monthly = pro.prices.find((p) => p.recurring?.interval === 'MONTH' && p.currency === 'usd');
    const sub = await env.app.gql(token, `mutation($input: CreateSubscriptionInput!) {
      createSubscription(input: $input) { subscription { status } } }`,
      { input: { priceId: monthly.id, quantity: 3, paymentMethodId: 'pm_card_visa' } });
    assert.equal(sub.errors, undefined, JSON.stringify(sub.errors));
    assert.equal(sub.data.createSubscription.subscription.status, 'ACTIVE');

    const user = await userContext(env.browser, env.app, { token });
    try {
      const page = await user.page('/invoices');
      const card = page.getByRole('article', { name: /^Invoice .+-0001$/ });
      await card.waitFor();
      await card.locator('[data-status=PAID]').waitFor();
      await screenshot(page, 'invoices');
      const line = card.getByRole('row', { name: /Tollgate Pro/ });
      await line.getByRole('cell', { name: '3', exact: true }).waitFor();
      await line.getByRole('cell', { name: '$36.00' }).waitFor();
      await card.getByText('Total').waitFor();
      const pdf = card.getByRole('link', { name: 'Download PDF' });
      assert.match(await pdf.getAttribute('href'), /\/pdf$/);
      await screenshot(page, 'invoices');
      const [hosted] = await Promise.all([
        page.context().waitForEvent('page'),
        card.getByRole('link', { name: 'View invoice' }).click(),
      ]);
      await hosted.waitForLoadState();
      await hosted.getByRole('heading', { name: /^Invoice .+-0001$/ }).waitFor();
      await hosted.getByText('Status: paid').waitFor();
      user.assertClean();
    } finally {
      await user.close();
    }
  });
});
