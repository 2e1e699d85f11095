// Paying in the browser: a card that pays, one that is declined, one that needs 3-D Secure,
// and an admin's refund reaching the customer's open Payments page live.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually } from '../harness.mjs';
import { fillCard, openCheckout, screenshot, suite, userContext } from './browser.mjs';

const EBOOK = 'Rust Payments Handbook (e-book)';

const env = suite();

async function paymentsOf(token) {
  const result = await env.app.gql(token, '{ payments(first: 50) { edges { node { id status description amount { formatted } } } } }');
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data.payments.edges.map((e) => e.node);
}

describe('payments', () => {
  test('signing in with a pasted token, then a card that pays shows Succeeded on the open Payments page without a reload', async () => {
    const token = await env.app.token('buyer');
    const user = await userContext(env.browser, env.app);
    try {
      const shop = await user.page('/');
      await shop.getByRole('article', { name: EBOOK }).waitFor();
      await screenshot(shop, 'shop-signed-out');
      await shop.getByRole('link', { name: 'Sign in' }).click();
      await shop.locator('#token').fill(token);
      await screenshot(shop, 'sign-in');
      await shop.getByRole('button', { name: 'Sign in' }).click();
      await shop.getByText('buyer@example.com').waitFor();

      // The history is open in another tab of the same session before the purchase.
      const history = await user.page('/payments', { token });
      await history.getByText('No payments yet').waitFor();
      let reloaded = false;
      history.on('load', () => { reloaded = true; });

      const checkout = await openCheckout(shop, EBOOK);
      await fillCard(checkout, '4242424242424242');
      await screenshot(shop, 'checkout');
      const pay = checkout.getByRole('button', { name: /^Pay / });
      await pay.click();
      await checkout.getByRole('status').filter({ hasText: 'Payment succeeded' }).waitFor();

      const row = history.locator('tr', { hasText: EBOOK });
      await row.locator('[data-status=SUCCEEDED]').waitFor();
      assert.match(await row.textContent(), /\$19\.00/);
      assert.equal(reloaded, false, 'the Payments page reloaded');
      await screenshot(history, 'payments');

      // The link in the confirmation goes to the same history in place.
      await checkout.getByRole('link', { name: 'See your payments' }).click();
      await shop.locator('tr', { hasText: EBOOK }).locator('[data-status=SUCCEEDED]').waitFor();
      const payments = await paymentsOf(token);
      assert.deepEqual(payments.map((p) => p.status), ['SUCCEEDED']);
      user.assertClean();
    } finally {
      await user.close();
    }
  });

  test('a declined card shows the decline message and nothing is charged', async () => {
    const token = await env.app.token('declined');
    const user = await userContext(env.browser, env.app, {
      token,
      // Stripe's API answers a declined card with HTTP 402, which Chromium logs as a failed load.
      allowed: [{ text: /status of 402/, url: new RegExp(`^${env.app.stripeBase}/v1/`) }],
    });
    try {
      const shop = await user.page('/');
      const checkout = await openCheckout(shop, EBOOK);
      await fillCard(checkout, '4000000000000002');
      await checkout.getByRole('button', { name: /^Pay / }).click();
      await checkout.getByRole('alert').filter({ hasText: 'Your card was declined.' }).waitFor();
      await screenshot(shop, 'declined');
      assert.equal(await checkout.getByRole('button', { name: /^Pay / }).isEnabled(), true);
      // The gateway hears of the failure by webhook; nothing succeeded, nothing was captured.
      const payments = await eventually('the failed payment', async () => {
        const list = await paymentsOf(token);
        return list.length > 0 && list.every((p) => p.status !== 'PENDING') ? list : null;
      });
      assert.deepEqual(payments.map((p) => p.status), ['FAILED']);
      user.assertClean();
    } finally {
      await user.close();
    }
  });

  test('a card that needs 3-D Secure reaches the authentication step; failed, then completed, it pays once', async () => {
    const token = await env.app.token('threeds');
    const user = await userContext(env.browser, env.app, { token });
    try {
      const shop = await user.page('/');
      const checkout = await openCheckout(shop, EBOOK);
      await fillCard(checkout, '4000002500003155');
      const pay = checkout.getByRole('button', { name: /^Pay / });
      const dialog = shop.getByRole('dialog', { name: '3D Secure' });

      await pay.click();
      await dialog.waitFor();
      // While the customer authenticates, the button cannot start a second payment.
      assert.equal(await checkout.getByRole('button', { name: 'Processing…' }).isDisabled(), true);
      await screenshot(shop, '3d-secure');
      await dialog.getByRole('button', { name: 'Fail authentication' }).click();
      await checkout.getByRole('alert').filter({ hasText: 'unable to authenticate' }).waitFor();

      // The same purchase again: the same idempotency key, so the same PaymentIntent.
      await pay.click();
      await dialog.getByRole('button', { name: 'Complete authentication' }).click();
      await checkout.getByRole('status').filter({ hasText: 'Payment succeeded' }).waitFor();
      const payments = await eventually('the succeeded payment', async () => {
        const list = await paymentsOf(token);
        return list.some((p) => p.status === 'SUCCEEDED') ? list : null;
      });
      assert.deepEqual(payments.map((p) => p.status), ['SUCCEEDED'], 'one payment, not one per attempt');
      user.assertClean();
    } finally {
      await user.close();
    }
  });

  test('a saved card that needs 3-D Secure: authenticated when saved, and again when the gateway charges it', async () => {
    const token = await env.app.token('saved3ds');
    const user = await userContext(env.browser, env.app, { token });
    try {
      const page = await user.page('/cards');
      await fillCard(page, '4000002500003155');
      await page.getByRole('button', { name: 'Save card' }).click();
      const dialog = page.getByRole('dialog', { name: '3D Secure' });
      await dialog.getByRole('button', { name: 'Complete authentication' }).click();
      await page.locator('.saved-card[data-last4="3155"]').getByText('(default)').waitFor();

      await page.getByRole('link', { name: 'Shop' }).click();
      const checkout = await openCheckout(page, EBOOK);
      // The saved default card is chosen: the gateway confirms with it, Stripe.js continues.
      assert.equal(await checkout.getByRole('radio', { name: /•••• 3155/ }).isChecked(), true);
      await checkout.getByRole('button', { name: /^Pay / }).click();
      await dialog.getByRole('button', { name: 'Complete authentication' }).click();
      await checkout.getByRole('status').filter({ hasText: 'Payment succeeded' }).waitFor();
      const payments = await eventually('the succeeded payment', async () => {
        const list = await paymentsOf(token);
        return list.some((p) => p.status === 'SUCCEEDED') ? list : null;
      });
      assert.deepEqual(payments.map((p) => p.status), ['SUCCEEDED']);
      user.assertClean();
    } finally {
      await user.close();
    }
  });

  test("an admin's refund updates the customer's open Payments page live", async () => {
    const token = await env.app.token('refunded');
    const adminToken = await env.app.token('admin', { admin: true });
    // A paid order, made through the API with Stripe's test card.
    const paid = await env.app.pay(token, {
      priceId: await env.app.priceId(EBOOK, 'usd'), paymentMethodId: 'pm_card_visa', idempotencyKey: 'refund-test-order',
    });
    assert.equal(paid.errors, undefined, JSON.stringify(paid.errors));
    const paymentId = paid.data.createPaymentIntent.payment.id;
    assert.equal(paid.data.createPaymentIntent.payment.status, 'SUCCEEDED');

    const customer = await userContext(env.browser, env.app, { token });
    const operator = await userContext(env.browser, env.app, { token: adminToken });
    try {
      const history = await customer.page('/payments');
      const row = history.locator(`tr[data-payment-id="${paymentId}"]`);
      await row.locator('[data-status=SUCCEEDED]').waitFor();

      const admin = await operator.page('/admin');
      const adminRow = admin.locator(`tr[data-payment-id="${paymentId}"]`);
      await adminRow.locator('[data-status=SUCCEEDED]').waitFor();
      await admin.getByRole('img', { name: /Revenue in USD/ }).waitFor();
      await screenshot(admin, 'admin');
      await adminRow.getByRole('button', { name: /^Refund / }).click();
      await adminRow.locator('[data-status=REFUNDED]').waitFor();

      await row.locator('[data-status=REFUNDED]').waitFor();
      assert.match(await row.textContent(), /Refund \$19\.00/);
      await screenshot(history, 'payments-refunded');
      customer.assertClean();
      operator.assertClean();
    } finally {
      await customer.close();
      await operator.close();
    }
  });

  test('an admin replays a webhook event: queued at once, applied again by the worker', async () => {
    const adminToken = await env.app.token('replayer', { admin: true });
    const operator = await userContext(env.browser, env.app, { token: adminToken });
    try {
      const admin = await operator.page('/admin');
      await admin.getByRole('tab', { name: 'Processed' }).click();
      const first = admin.locator('tr[data-event-id]').first();
      await first.locator('[data-status=PROCESSED]').waitFor();
      const eventId = await first.getAttribute('data-event-id');
      // By id from here on: "the first row" is whatever the list shows first at each step.
      const row = admin.locator(`tr[data-event-id="${eventId}"]`);
      await row.getByRole('button', { name: /^Replay / }).click();
      await row.locator('[data-status=PENDING]').waitFor();
      await screenshot(admin, 'admin-replayed');
      const replayed = await eventually('the replayed event processed again', async () => {
        const r = await env.app.gql(adminToken, '{ webhookEvents(status: PROCESSED, first: 100) { edges { node { id attempts processedAt } } } }');
        return r.data.webhookEvents.edges.map((e) => e.node).find((e) => e.id === eventId);
      });
      assert.equal(replayed.attempts, 1, 'attempts start again from zero on replay');
      operator.assertClean();
    } finally {
      await operator.close();
    }
  });

  test('the Payments page scrolls on past the first page in the server order, whatever live updates arrive meanwhile', async () => {
    const token = await env.app.token('regular');
    const adminToken = await env.app.token('scroll-admin', { admin: true });
    const priceId = await env.app.priceId('Sticker pack', 'usd');
    const made = [];
    for (let i = 0; i < 23; i++) {
      const r = await env.app.pay(token, { priceId, paymentMethodId: 'pm_card_visa', description: `Order ${i + 1}` });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      made.push(r.data.createPaymentIntent.payment.id);
    }
    const refund = async (paymentId) => {
      const r = await env.app.gql(adminToken, 'mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { id } }', {
        input: { paymentId, idempotencyKey: `scroll-refund-${paymentId}` },
      });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    };
    const user = await userContext(env.browser, env.app, { token, height: 400 });
    try {
      const page = await user.page('/payments');
      const rows = page.locator('tr[data-payment-id]');
      await rows.nth(19).waitFor();
      assert.equal(await rows.count(), 20, 'the second page waits for the scroll');
      // The oldest payment changes while it is only on the second page, then the newest: the
      // live events arrive in that order on one socket. The first must not put an old payment
      // on top (nor hide it from the page it is on).
      await refund(made[0]);
      await refund(made[22]);
      await page.locator(`tr[data-payment-id="${made[22]}"] [data-status=REFUNDED]`).waitFor();
      assert.equal(await rows.count(), 20, 'an update to a payment on a later page waits for that page');
      await page.locator('tr[data-payment-id]').last().scrollIntoViewIfNeeded();
      await page.mouse.wheel(0, 5000);
      await rows.nth(22).waitFor();
      const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-payment-id')));
      assert.deepEqual(shown, [...made].reverse(), 'newest first, each payment once');
      assert.match(await rows.first().textContent(), /Order 23/);
      await rows.last().locator('[data-status=REFUNDED]').waitFor();
      user.assertClean();
    } finally {
      await user.close();
    }
  });
});
