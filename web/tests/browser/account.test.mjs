// The customer's account pages: a subscription from the shop, canceled at the period's end and
// resumed; a card saved through a SetupIntent, made default, and removed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually } from '../harness.mjs';
import { fillCard, openCheckout, screenshot, suite, userContext } from './browser.mjs';

const env = suite();

describe('account', () => {
  test('subscribe to a plan with its trial, cancel at the period end, resume, change plan', async () => {
    const token = await env.app.token('subscriber');
    // A second plan in the same currency, so there is a plan to change to.
    const admin = await env.app.token('catalog-admin', { admin: true });
    const products = await env.app.gql(null, '{ products { id name } }');
    const pro = products.data.products.find((p) => p.name === 'Tollgate Pro');
    const yearly = await env.app.gql(admin, `mutation($input: CreatePriceInput!) { createPrice(input: $input) { id } }`,
      { input: { productId: pro.id, amount: '120.00', currency: 'usd', recurring: { interval: 'YEAR' } } });
    assert.equal(yearly.errors, undefined, JSON.stringify(yearly.errors));
    const user = await userContext(env.browser, env.app, { token });
    try {
      const shop = await user.page('/');
      // The trial belongs to the price (recurring.trialPeriodDays): the yearly plan offers none.
      const proCard = shop.getByRole('article', { name: 'Tollgate Pro' });
      const proPrice = proCard.getByRole('combobox', { name: 'Price for Tollgate Pro' });
      await proPrice.selectOption({ label: '$120.00 / year (USD)' });
      await proCard.getByRole('button', { name: 'Subscribe', exact: true }).waitFor();
      await proPrice.selectOption({ label: '$12.00 / month (USD)' });
      await proCard.getByRole('button', { name: 'Start 14-day trial' }).waitFor();
      const checkout = await openCheckout(shop, 'Tollgate Pro', '$12.00 / month (USD)');
      const trial = checkout.getByRole('checkbox', { name: /14-day free trial/ });
      assert.equal(await trial.isChecked(), true);
      await fillCard(checkout, '4242424242424242');
      await checkout.getByRole('button', { name: /^Subscribe — \$12\.00/ }).click();
      await checkout.getByRole('status').filter({ hasText: 'Subscribed to Tollgate Pro' }).waitFor();
      await checkout.getByRole('link', { name: 'See your subscriptions' }).click();

      const card = shop.getByRole('article', { name: 'Tollgate Pro' });
      await card.locator('[data-status=TRIALING]').waitFor();
      await card.getByText(/Free trial until/).waitFor();
      await card.getByText(/Renews on/).waitFor();
      await screenshot(shop, 'subscriptions');

      await card.getByRole('button', { name: 'Cancel subscription…' }).click();
      await shop.getByRole('dialog', { name: 'Cancel subscription' })
        .getByRole('button', { name: 'Cancel at period end' }).click();
      await card.getByText(/Ends on/).waitFor();
      await screenshot(shop, 'subscriptions-canceling');
      let subs = await env.app.gql(token, '{ subscriptions { status cancelAtPeriodEnd } }');
      assert.deepEqual(subs.data.subscriptions, [{ status: 'TRIALING', cancelAtPeriodEnd: true }]);

      await card.getByRole('button', { name: 'Resume' }).click();
      await card.getByText(/Renews on/).waitFor();
      subs = await env.app.gql(token, '{ subscriptions { status cancelAtPeriodEnd } }');
      assert.deepEqual(subs.data.subscriptions, [{ status: 'TRIALING', cancelAtPeriodEnd: false }]);

      await card.getByRole('combobox', { name: 'New plan' }).selectOption({ label: 'Tollgate Pro — $120.00 / year' });
      await card.getByRole('button', { name: 'Change plan' }).click();
      await card.getByText('$120.00 every year').waitFor();
      subs = await env.app.gql(token, '{ subscriptions { price { id } } }');
      assert.deepEqual(subs.data.subscriptions, [{ price: { id: yearly.data.createPrice.id } }]);
      user.assertClean();
    } finally {
      await user.close();
    }
  });

  test('add a card through a SetupIntent, make another the default, remove one', async () => {
    const token = await env.app.token('cardholder');
    const user = await userContext(env.browser, env.app, { token });
    const cardsOf = async () =>
      (await env.app.gql(token, '{ viewer { paymentMethods { last4 isDefault } } }')).data.viewer.paymentMethods;
    try {
      const page = await user.page('/cards');
      await page.getByText('No saved cards.').waitFor();
      const save = page.getByRole('button', { name: 'Save card' });
      assert.equal(await save.isDisabled(), true, 'saving an empty card form');

      await fillCard(page, '4242424242424242');
      await save.click();
      await page.locator('.saved-card[data-last4="4242"]').getByText('(default)').waitFor();
      await fillCard(page, '5555555555554444');
      await save.click();
      const mastercard = page.locator('.saved-card[data-last4="4444"]');
      await mastercard.waitFor();
      await screenshot(page, 'cards');
      assert.deepEqual(await cardsOf(), [{ last4: '4242', isDefault: true }, { last4: '4444', isDefault: false }]);

      await mastercard.getByRole('button', { name: 'Make default' }).click();
      await mastercard.getByText('(default)').waitFor();
      await page.locator('.saved-card[data-last4="4242"]').getByRole('button', { name: /^Remove/ }).click();
      await page.locator('.saved-card[data-last4="4242"]').waitFor({ state: 'detached' });
      const left = await eventually('the removal', async () => {
        const cards = await cardsOf();
        return cards.length === 1 ? cards : null;
      });
      assert.deepEqual(left, [{ last4: '4444', isDefault: true }]);
      user.assertClean();
    } finally {
      await user.close();
    }
  });
});
