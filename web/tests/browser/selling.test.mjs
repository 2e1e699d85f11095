// Selling with seats, promotion codes, quoted plan changes and cancel reasons, as a shopper and
// an operator see it: the discounted price is shown before paying and is what is charged; a
// plan change shows Stripe's quote and charges exactly its "due now".
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fillCard, openCheckout, screenshot, suite, userContext } from './browser.mjs';

const env = suite();

describe('selling', () => {
  test('seats and a promotion code in checkout, a quoted seat change, a cancel with a reason', async () => {
    const admin = await env.app.token('offers-admin', { admin: true });
    const coupon = await env.app.gql(admin, `mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }`,
      { input: { name: 'Team launch', percentOff: '20', duration: 'FOREVER' } });
    assert.equal(coupon.errors, undefined, JSON.stringify(coupon.errors));
    const code = await env.app.gql(admin, `mutation($input: CreatePromotionCodeInput!) { createPromotionCode(input: $input) { code } }`,
      { input: { couponId: coupon.data.createCoupon.id, code: 'TEAM20' } });
    assert.equal(code.errors, undefined, JSON.stringify(code.errors));

    const token = await env.app.token('team-lead');
    const user = await userContext(env.browser, env.app, { token });
    try {
      const shop = await user.page('/');
      const checkout = await openCheckout(shop, 'Tollgate Pro', '$12.00 / month (USD)');
      await checkout.getByRole('checkbox', { name: /free trial/ }).uncheck();
      const more = checkout.getByRole('button', { name: 'More seats' });
      for (let i = 0; i < 4; i += 1) await more.click();
      assert.equal(await checkout.getByRole('spinbutton', { name: 'Seats' }).inputValue(), '5');
      await checkout.getByRole('button', { name: 'Subscribe — 5 × $12.00 / month' }).waitFor();

      const codeInput = checkout.getByRole('textbox', { name: 'Promotion code' });
      await codeInput.fill('NOPE');
      await checkout.getByRole('button', { name: 'Apply' }).click();
      await checkout.getByRole('alert').filter({ hasText: 'there is no such promotion code' }).waitFor();
      await codeInput.fill('team20');
      await codeInput.press('Enter');
      await checkout.getByRole('status').filter({ hasText: '20% off forever — $48.00 instead of $60.00' }).waitFor();
      const pay = checkout.getByRole('button', { name: 'Subscribe — $48.00 now (5 × $12.00 / month)' });
      await fillCard(checkout, '4242424242424242');
      await screenshot(shop, 'checkout-seats-code');
      await pay.click();
      await checkout.getByRole('status').filter({ hasText: 'Subscribed to Tollgate Pro (5 seats).' }).waitFor();
      await shop.getByRole('article', { name: 'Tollgate Pro' }).getByText('You subscribe to this.').waitFor();
      await screenshot(shop, 'shop-subscribed');

      const paid = await env.app.gql(token, '{ payments(first: 5) { edges { node { amount { minorUnits } } } } subscriptions { quantity discount { promotionCode } } }');
      assert.deepEqual(paid.data.payments.edges.map((e) => e.node.amount.minorUnits), ['4800'], 'shown is paid');
      assert.deepEqual(paid.data.subscriptions, [{ quantity: 5, discount: { promotionCode: 'TEAM20' } }]);

      await shop.getByRole('link', { name: 'Manage it' }).click();
      const card = shop.getByRole('article', { name: 'Tollgate Pro' });
      await card.getByText('5 seats × $12.00 every month').waitFor();
      await card.getByText('20% off forever').waitFor();
      const seats = card.getByRole('spinbutton', { name: 'Seats' });
      await seats.fill('7');
      await card.getByRole('button', { name: 'Review change' }).click();
      const quote = shop.getByRole('dialog', { name: 'Review plan change' });
      await quote.getByText('Due now').waitFor();
      const dueNow = (await quote.getByTestId('quote-due-now').textContent()).trim();
      assert.match(dueNow, /^\$\d+\.\d\d$/);
      assert.equal((await quote.getByTestId('quote-next-invoice').textContent()).trim(), '$67.20', '7 × 12.00 × 0.8');
      assert.ok(await quote.getByRole('row').count() >= 3, 'a header and the proration lines');
      await screenshot(shop, 'quote-dialog');
      await quote.getByRole('button', { name: `Confirm — pay ${dueNow} now` }).click();
      await card.getByText('7 seats × $12.00 every month').waitFor();
      const after = await env.app.gql(token, '{ payments(first: 5) { edges { node { amount { formatted } } } } }');
      const amounts = after.data.payments.edges.map((e) => e.node.amount.formatted);
      assert.ok(amounts.includes(dueNow), `the quote's due now was charged: ${amounts}`);

      await card.getByRole('button', { name: 'Cancel subscription…' }).click();
      let dialog = shop.getByRole('dialog', { name: 'Cancel subscription' });
      await dialog.waitFor();
      await shop.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await card.getByRole('button', { name: 'Cancel subscription…' }).click();
      dialog = shop.getByRole('dialog', { name: 'Cancel subscription' });
      await dialog.getByRole('combobox', { name: /Why are you leaving/ }).selectOption({ label: 'It is too expensive' });
      await dialog.getByRole('textbox', { name: /Anything we should know/ }).fill('We are only three people.');
      await screenshot(shop, 'cancel-with-reason');
      await dialog.getByRole('button', { name: 'Cancel at period end' }).click();
      await card.getByText(/Ends on/).waitFor();
      const subs = await env.app.gql(token, '{ subscriptions { cancelAtPeriodEnd cancellationReason cancellationComment } }');
      assert.deepEqual(subs.data.subscriptions, [{ cancelAtPeriodEnd: true, cancellationReason: 'too_expensive', cancellationComment: 'We are only three people.' }]);
      user.assertClean();
    } finally {
      await user.close();
    }

    const operator = await userContext(env.browser, env.app, { token: admin });
    try {
      const page = await operator.page('/admin');
      const table = page.getByRole('region', { name: 'Subscriptions' });
      const row = page.locator('table.admin-subscriptions tr', { hasText: 'team-lead' });
      await row.getByText('Too expensive').waitFor();
      await row.getByText('TEAM20').waitFor();
      await row.getByText('“We are only three people.”').waitFor();
      assert.ok(table);
      await row.scrollIntoViewIfNeeded();
      await screenshot(page, 'admin-subscriptions');
      operator.assertClean();
    } finally {
      await operator.close();
    }
  });
});
