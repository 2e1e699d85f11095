// The shop: products with their prices (browsable signed out), one-time purchases and
// subscriptions paid with Stripe's card Element or a saved card.
//
// One-time purchase with a new card, as Stripe recommends: the gateway creates the
// PaymentIntent (createPaymentIntent → clientSecret), Stripe.js confirms it with the card
// (confirmCardPayment, which also runs 3-D Secure), and the gateway learns the outcome from
// Stripe's webhooks — the Payments page shows it live. With a saved card the gateway confirms
// at once and Stripe.js only continues a 3-D Secure challenge.
import { CardElement, useElements, useStripe } from '@stripe/react-stripe-js';
import type { Stripe, StripeCardElement } from '@stripe/stripe-js';
import { useEffect, useRef, useState } from 'react';
import { useAuth } from '../auth';
import { ErrorMessage } from '../components/ErrorMessage';
import { PaymentMethodPicker, type CardChoice } from '../components/PaymentMethodPicker';
import { PromotionCodeField, type CodeCheck } from '../components/PromotionCodeField';
import { QuantityStepper } from '../components/QuantityStepper';
import { ApiError } from '../graphql/client';
import type { ProductsQuery } from '../graphql/generated/graphql';
import { asApiError, useClient, useQuery } from '../graphql/hooks';
import {
  CreatePaymentIntentMutation,
  CreateSubscriptionMutation,
  PaymentMethodsQuery,
  ProductsQuery as ProductsDocument,
  SubscriptionsQuery,
} from '../graphql/operations';
import { formatInterval } from '../format';
import { useIdempotencyKey } from '../idempotency';
import { Link } from '../router';

type Product = ProductsQuery['products'][number];
type Price = Product['prices'][number];

/**
 * The free trial a price offers, in days, or null: Stripe's `recurring.trial_period_days`, as
 * the catalog mirrors it. The gateway starts no trial by itself; the shop passes this as
 * `trialDays` when the customer keeps the trial ticked.
 */
export function trialDaysOf(price: Price): number | null {
  return price.recurring?.trialPeriodDays ?? null;
}

function priceLabel(price: Price): string {
  const amount = price.unitAmount?.formatted ?? 'Price on request';
  const per = price.recurring ? ` / ${formatInterval(price.recurring.interval, price.recurring.intervalCount)}` : '';
  return `${amount}${per}`;
}

/** Errors after which the purchase may or may not have happened: a retry must reuse the key. */
const OUTCOME_UNKNOWN = ['NETWORK', 'INTERNAL', 'STRIPE_UNAVAILABLE', 'RATE_LIMITED'];

/** Statuses in which the customer holds a subscription (the gateway refuses a second one). */
const HOLDING = ['TRIALING', 'ACTIVE', 'PAST_DUE', 'INCOMPLETE'];

export function ShopPage({ stripeReady }: { stripeReady: boolean }) {
  const { viewer } = useAuth();
  const products = useQuery(ProductsDocument, {});
  const subs = useQuery(SubscriptionsQuery, {}, { skip: !viewer });
  const held = new Set(
    (viewer ? subs.data?.subscriptions ?? [] : [])
      .filter((s) => HOLDING.includes(s.status))
      .map((s) => s.price?.productId)
      .filter((id): id is string => Boolean(id)),
  );
  const [checkout, setCheckout] = useState<{ product: Product; price: Price } | null>(null);

  return (
    <div className="page">
      <h1>Shop</h1>
      <ErrorMessage error={products.error} />
      {products.loading && !products.data ? <p className="muted">Loading products…</p> : null}
      {products.data?.products.length === 0 ? <p className="muted">Nothing for sale yet.</p> : null}
      <div className="products">
        {products.data?.products.map((product) => (
          <ProductCard
            key={product.id}
            product={product}
            held={held.has(product.id) && !product.allowsMultipleSubscriptions}
            selected={checkout?.product.id === product.id ? checkout.price : null}
            onChoose={(price) => setCheckout({ product, price })}
          />
        ))}
      </div>
      {checkout ? (
        <Checkout
          key={checkout.price.id}
          product={checkout.product}
          price={checkout.price}
          stripeReady={stripeReady}
          onClose={() => setCheckout(null)}
          onSubscribed={() => void subs.refetch()}
        />
      ) : null}
    </div>
  );
}

function ProductCard({ product, held, selected, onChoose }: {
  product: Product;
  /** The viewer already subscribes to it (and it allows only one subscription). */
  held: boolean;
  selected: Price | null;
  onChoose: (price: Price) => void;
}) {
  const buyable = product.prices.filter((p) => p.unitAmount);
  const [priceId, setPriceId] = useState(buyable[0]?.id ?? '');
  const price = buyable.find((p) => p.id === priceId) ?? buyable[0];
  const trial = price ? trialDaysOf(price) : null;
  return (
    <article className={`product${selected ? ' product-selected' : ''}`} aria-label={product.name}>
      <h2>{product.name}</h2>
      {product.description ? <p>{product.description}</p> : null}
      {product.features.length ? (
        <ul className="features">
          {product.features.map((f) => <li key={f}>{f}</li>)}
        </ul>
      ) : null}
      {price ? (
        <div className="buy-row">
          <label>
            <span className="visually-hidden">Price for {product.name}</span>
            <select value={price.id} onChange={(e) => setPriceId(e.target.value)} aria-label={`Price for ${product.name}`}>
              {buyable.map((p) => (
                <option key={p.id} value={p.id}>
                  {priceLabel(p)} ({p.currency.toUpperCase()})
                </option>
              ))}
            </select>
          </label>
          {held && price.recurring ? (
            <p className="held">
              You subscribe to this. <Link href="/subscriptions">Manage it</Link>
            </p>
          ) : (
            <button type="button" className="primary" onClick={() => onChoose(price)}>
              {price.recurring ? (trial ? `Start ${trial}-day trial` : 'Subscribe') : 'Buy'}
            </button>
          )}
        </div>
      ) : (
        <p className="muted">Not for sale right now.</p>
      )}
    </article>
  );
}

type Outcome = { kind: 'paid' | 'subscribed'; message: string };

function Checkout({ product, price, stripeReady, onClose, onSubscribed }: {
  product: Product;
  price: Price;
  stripeReady: boolean;
  onClose: () => void;
  onSubscribed: () => void;
}) {
  const { viewer } = useAuth();
  const recurring = price.recurring !== null && price.recurring !== undefined;
  return (
    <section className="checkout" aria-label="Checkout">
      <header className="checkout-head">
        <h2>
          {recurring ? 'Subscribe to' : 'Buy'} {product.name} — {priceLabel(price)}
        </h2>
        <button type="button" className="link" onClick={onClose}>Close</button>
      </header>
      {!viewer ? (
        <p>
          <Link href="/sign-in">Sign in</Link> to {recurring ? 'subscribe' : 'buy'}.
        </p>
      ) : !stripeReady ? (
        <p className="error">Payments are not configured on this gateway (no Stripe publishable key).</p>
      ) : (
        <PayForm product={product} price={price} onSubscribed={onSubscribed} />
      )}
    </section>
  );
}

function PayForm({ product, price, onSubscribed }: {
  product: Product;
  price: Price;
  onSubscribed: () => void;
}) {
  const stripe = useStripe();
  const elements = useElements();
  const client = useClient();
  const saved = useQuery(PaymentMethodsQuery, {});
  const cards = saved.data?.viewer.paymentMethods.filter((pm) => pm.type === 'card') ?? [];
  // Until the shopper picks, the choice is the default saved card, from the first render the
  // list arrives in (an effect would show "a new card" chosen for a frame, and a click then
  // could land on the wrong option).
  const [picked, setPicked] = useState<CardChoice | undefined>(undefined);
  const [cardComplete, setCardComplete] = useState(false);
  const trialDays = trialDaysOf(price);
  const [withTrial, setWithTrial] = useState(trialDays !== null);
  const [quantity, setQuantity] = useState(1);
  const [promo, setPromo] = useState<{ code: string; check: CodeCheck } | null>(null);
  const [checkingCode, setCheckingCode] = useState(false);
  const [key, renewKey] = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  // A new card made into a PaymentMethod for this key, reused if the same attempt is retried
  // (a network error), so the retried request is identical, as idempotency requires.
  const createdFor = useRef<{ key: string; id: string } | null>(null);

  const defaultCard = cards.find((c) => c.isDefault)?.stripePaymentMethodId ?? null;
  const choice: CardChoice = picked === undefined ? defaultCard : picked;
  // Another card or trial is another request: a new intent, so a new key.
  useEffect(() => renewKey(), [choice, withTrial, quantity, promo?.code, renewKey]);

  // While a code is being checked the button's amount is not the one to pay: wait for it.
  const ready = stripe !== null && elements !== null && (choice !== null || cardComplete) && !checkingCode;

  async function submit() {
    if (!stripe || !elements || busy) return;
    setBusy(true);
    setError(null);
    setOutcome(null);
    try {
      const result = price.recurring
        ? await subscribe(stripe, elements.getElement(CardElement))
        : await pay(stripe, elements.getElement(CardElement));
      setOutcome(result);
      if (result.kind === 'subscribed') onSubscribed();
      renewKey();
      createdFor.current = null;
      elements.getElement(CardElement)?.clear();
    } catch (err) {
      const apiError = asApiError(err);
      setError(apiError);
      // A definite refusal ends this intent; when the outcome is unknown (the network, the
      // gateway or Stripe failing midway) the retry keeps the key and cannot pay twice.
      if (!OUTCOME_UNKNOWN.includes(apiError.code) && !(err instanceof StripeJsError)) renewKey();
    } finally {
      setBusy(false);
    }
  }

  async function pay(stripe: Stripe, card: StripeCardElement | null): Promise<Outcome> {
    const input = {
      priceId: price.id,
      quantity,
      description: quantity > 1 ? `${product.name} × ${quantity}` : product.name,
      idempotencyKey: key,
      ...(choice !== null ? { paymentMethodId: choice } : {}),
    };
    const { createPaymentIntent: created } = await client.request(CreatePaymentIntentMutation, { input });
    const secret = created.clientSecret;
    if (choice === null) {
      if (!card || !secret) throw new ApiError('The card form is not ready.', 'INTERNAL');
      // Same key after a decline → same PaymentIntent, confirmed again with the next card.
      await confirmWithStripe(stripe.confirmCardPayment(secret, { payment_method: { card } }));
    } else if (created.payment.status === 'REQUIRES_ACTION' && secret) {
      await confirmWithStripe(stripe.confirmCardPayment(secret));
    } else if (created.payment.status === 'FAILED') {
      throw new ApiError(created.payment.failureMessage ?? 'The payment failed.', created.payment.failureCode?.toUpperCase() ?? 'CARD_DECLINED');
    }
    const what = quantity > 1 ? `${quantity} × ${priceLabel(price)}` : priceLabel(price);
    return { kind: 'paid', message: `Payment succeeded: ${what} for ${product.name}.` };
  }

  async function subscribe(stripe: Stripe, card: StripeCardElement | null): Promise<Outcome> {
    let paymentMethodId = choice;
    if (paymentMethodId === null) {
      if (createdFor.current?.key === key) {
        paymentMethodId = createdFor.current.id;
      } else {
        if (!card) throw new ApiError('The card form is not ready.', 'INTERNAL');
        const { paymentMethod, error } = await stripe.createPaymentMethod({ type: 'card', card });
        if (error || !paymentMethod) throw new StripeJsError(error?.message ?? 'The card was not accepted.', error?.code);
        paymentMethodId = paymentMethod.id;
        createdFor.current = { key, id: paymentMethodId };
      }
    }
    const input = {
      priceId: price.id,
      paymentMethodId,
      idempotencyKey: key,
      quantity,
      ...(promo ? { promotionCode: promo.code } : {}),
      ...(withTrial && trialDays ? { trialDays } : {}),
    };
    const { createSubscription: created } = await client.request(CreateSubscriptionMutation, { input });
    if (created.subscription.status === 'INCOMPLETE' && created.clientSecret) {
      // The first payment needs the customer (3-D Secure).
      await confirmWithStripe(stripe.confirmCardPayment(created.clientSecret));
    }
    const trialNote = withTrial && trialDays ? ` Your ${trialDays}-day trial has started.` : '';
    const seats = quantity > 1 ? ` (${quantity} seats)` : '';
    return { kind: 'subscribed', message: `Subscribed to ${product.name}${seats}.${trialNote}` };
  }

  if (outcome?.kind === 'subscribed') {
    // Subscribed: the product now shows "You subscribe to this"; offering the form again
    // would invite a second subscription the gateway refuses anyway.
    return (
      <p className="success" role="status">
        {outcome.message} <Link href="/subscriptions">See your subscriptions</Link>
      </p>
    );
  }

  return (
    <form
      className="pay-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <ErrorMessage error={saved.error} />
      <PaymentMethodPicker
        saved={cards}
        choice={choice}
        onChoice={setPicked}
        onCardComplete={(complete) => {
          setCardComplete(complete);
          // Another card after a failed subscription attempt is another attempt: the old
          // PaymentMethod and key belong to the card that failed.
          if (createdFor.current) {
            createdFor.current = null;
            renewKey();
          }
        }}
        disabled={busy}
      />
      {trialDays !== null ? (
        <label className="choice">
          <input type="checkbox" checked={withTrial} disabled={busy} onChange={(e) => setWithTrial(e.target.checked)} />
          Start with the {trialDays}-day free trial (the card is charged when it ends)
        </label>
      ) : null}
      <QuantityStepper
        label={price.recurring ? 'Seats' : 'Quantity'}
        value={quantity}
        onChange={setQuantity}
        disabled={busy}
      />
      {price.recurring ? (
        <PromotionCodeField
          priceId={price.id}
          quantity={quantity}
          disabled={busy}
          onApplied={setPromo}
          onPending={setCheckingCode}
        />
      ) : null}
      <button type="submit" className="primary" disabled={!ready || busy}>
        {busy ? 'Processing…' : payLabel(price, quantity, promo?.check ?? null, withTrial && trialDays !== null)}
      </button>
      <ErrorMessage error={error} />
      {outcome ? (
        <p className="success" role="status">
          {outcome.message}{' '}
          <Link href={outcome.kind === 'paid' ? '/payments' : '/subscriptions'}>
            {outcome.kind === 'paid' ? 'See your payments' : 'See your subscriptions'}
          </Link>
        </p>
      ) : null}
    </form>
  );
}

/**
 * What the button says the customer pays: the unit price × quantity as the gateway formats it,
 * or, with a code, the discounted first invoice the gateway computed (never a sum made here).
 */
function payLabel(price: Price, quantity: number, check: CodeCheck | null, trial: boolean): string {
  const each = quantity > 1 ? `${quantity} × ${priceLabel(price)}` : priceLabel(price);
  if (!price.recurring) return `Pay ${each}`;
  const after = check?.amountAfterDiscount?.formatted;
  if (after && trial) return `Subscribe — ${each}, ${after} when the trial ends`;
  if (after) return `Subscribe — ${after} now (${each})`;
  return `Subscribe — ${each}`;
}

/** A refusal reported by Stripe.js (a declined card, failed 3-D Secure, an invalid card). */
class StripeJsError extends ApiError {
  constructor(message: string, code: string | undefined) {
    super(message, (code ?? 'card_error').toUpperCase());
  }
}

async function confirmWithStripe(
  confirmation: Promise<{ error?: { message?: string; code?: string } | undefined; paymentIntent?: { status: string } | undefined }>,
): Promise<void> {
  const { error, paymentIntent } = await confirmation;
  if (error) throw new StripeJsError(error.message ?? 'The payment was not completed.', error.code);
  if (paymentIntent && !['succeeded', 'processing', 'requires_capture'].includes(paymentIntent.status)) {
    throw new StripeJsError(`The payment is ${paymentIntent.status.replace(/_/g, ' ')}.`, paymentIntent.status);
  }
}
