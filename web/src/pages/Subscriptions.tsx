// The viewer's subscriptions: status, renewal date, trial, seats and discount; cancel at the
// period's end (with a reason) or resume; change plan or seats through a quote that is charged
// exactly as shown. Changes made elsewhere (renewals, webhooks) arrive live.
import { useState } from 'react';
import { CancelDialog } from '../components/CancelDialog';
import { ErrorMessage } from '../components/ErrorMessage';
import { QuantityStepper } from '../components/QuantityStepper';
import { QuoteDialog, type Quote } from '../components/QuoteDialog';
import { StatusBadge } from '../components/StatusBadge';
import type { ApiError } from '../graphql/client';
import type { ProductsQuery, SubscriptionFieldsFragment } from '../graphql/generated/graphql';
import { asApiError, useClient, useMutation, useQuery, useSubscription } from '../graphql/hooks';
import {
  CancelSubscriptionMutation,
  ChangeSubscriptionMutation,
  ChangeSubscriptionPriceMutation,
  PreviewSubscriptionChangeQuery,
  ProductsQuery as ProductsDocument,
  ResumeSubscriptionMutation,
  SubscriptionUpdatedSubscription,
  SubscriptionsQuery,
} from '../graphql/operations';
import { describeCoupon, formatDate, formatInterval } from '../format';
import { useIdempotencyKey } from '../idempotency';
import { Link } from '../router';

type Sub = SubscriptionFieldsFragment;
type Product = ProductsQuery['products'][number];

export function SubscriptionsPage() {
  const subs = useQuery(SubscriptionsQuery, {});
  const products = useQuery(ProductsDocument, {});
  const replace = (changed: Sub) =>
    subs.setData((prev) => {
      if (!prev) return prev;
      const known = prev.subscriptions.some((s) => s.id === changed.id);
      return {
        subscriptions: known
          ? prev.subscriptions.map((s) => (s.id === changed.id ? changed : s))
          : [changed, ...prev.subscriptions],
      };
    });
  const liveError = useSubscription(SubscriptionUpdatedSubscription, {}, (d, complete) => {
    // An event that came with errors lacks fields: read the list again instead.
    if (complete) replace(d.subscriptionUpdated);
    else void subs.refetch();
  }, {
    enabled: true,
    onReconnect: () => void subs.refetch(),
  });

  const list = subs.data?.subscriptions ?? [];
  return (
    <div className="page">
      <h1>Subscriptions</h1>
      <ErrorMessage error={subs.error} />
      {liveError ? <p className="muted small">Live updates paused: {liveError.message}</p> : null}
      {subs.loading && !subs.data ? <p className="muted">Loading…</p> : null}
      {subs.data && list.length === 0 ? (
        <p className="muted">
          No subscriptions. <Link href="/">Pick a plan in the shop</Link>.
        </p>
      ) : null}
      <div className="subscriptions">
        {list.map((s) => (
          <SubscriptionCard key={s.id} sub={s} products={products.data?.products ?? []} onChanged={replace} />
        ))}
      </div>
    </div>
  );
}

function SubscriptionCard({ sub, products, onChanged }: {
  sub: Sub;
  products: Product[];
  onChanged: (s: Sub) => void;
}) {
  const product = products.find((p) => p.id === sub.price?.productId);
  const cancel = useMutation(CancelSubscriptionMutation);
  const resume = useMutation(ResumeSubscriptionMutation);
  const [canceling, setCanceling] = useState(false);
  const busy = cancel.inFlight || resume.inFlight;
  const ended = sub.status === 'CANCELED' || sub.status === 'INCOMPLETE_EXPIRED';

  const price = sub.price;
  const amount = price?.unitAmount?.formatted;
  const every = price?.recurring ? formatInterval(price.recurring.interval, price.recurring.intervalCount) : null;
  const trialing = sub.status === 'TRIALING' && sub.trialEnd;
  const quotable = sub.status === 'ACTIVE' || sub.status === 'PAST_DUE';

  return (
    <article className="subscription" aria-label={product?.name ?? 'Subscription'} data-subscription-id={sub.id}>
      <header>
        <h2>{product?.name ?? price?.nickname ?? 'Subscription'}</h2>
        <StatusBadge status={sub.status} />
      </header>
      {amount ? (
        <p>
          {sub.quantity > 1 ? `${sub.quantity} seats × ` : ''}
          {amount}{every ? ` every ${every}` : ''}
        </p>
      ) : null}
      {sub.discount ? (
        <p className="discount">
          {sub.discount.promotionCode ? <strong>{sub.discount.promotionCode}</strong> : sub.discount.coupon.name ?? 'Discount'}:{' '}
          {describeCoupon(sub.discount.coupon)}
          {sub.discount.end ? ` (until ${formatDate(sub.discount.end)})` : ''}
        </p>
      ) : null}
      {trialing ? <p>Free trial until {formatDate(sub.trialEnd)}.</p> : null}
      {!ended && sub.currentPeriodEnd ? (
        <p>
          {sub.cancelAtPeriodEnd ? 'Ends on ' : 'Renews on '}
          <strong>{formatDate(sub.currentPeriodEnd)}</strong>
          {sub.daysUntilRenewal !== null && sub.daysUntilRenewal !== undefined ? ` (in ${sub.daysUntilRenewal} days)` : ''}
        </p>
      ) : null}
      {ended ? <p className="muted">Ended {formatDate(sub.endedAt)}.</p> : null}

      {!ended ? (
        <div className="actions">
          {sub.cancelAtPeriodEnd ? (
            <button
              type="button"
              disabled={busy}
              onClick={async () => {
                const r = await resume.run({ subscriptionId: sub.id });
                if (r) onChanged(r.resumeSubscription);
              }}
            >
              {resume.inFlight ? 'Resuming…' : 'Resume'}
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => { cancel.reset(); setCanceling(true); }}>
              Cancel subscription…
            </button>
          )}
        </div>
      ) : null}
      {!ended && !sub.cancelAtPeriodEnd && quotable && product ? (
        <PlanChange sub={sub} product={product} onChanged={onChanged} />
      ) : null}
      {!ended && !sub.cancelAtPeriodEnd && !quotable ? (
        <PriceSwitch sub={sub} products={products} onChanged={onChanged} />
      ) : null}
      {canceling ? (
        <CancelDialog
          endsOn={formatDate(sub.currentPeriodEnd)}
          busy={cancel.inFlight}
          error={cancel.error}
          onClose={() => setCanceling(false)}
          onCancel={async (reason, comment) => {
            const r = await cancel.run({
              input: { subscriptionId: sub.id, atPeriodEnd: true, reason, comment: comment.trim() || null },
            });
            if (r) {
              onChanged(r.cancelSubscription);
              setCanceling(false);
            }
          }}
        />
      ) : null}
      <ErrorMessage error={resume.error} />
    </article>
  );
}

/**
 * Another plan of the same product, another number of seats, maybe a code: quoted by Stripe
 * first (what is due now, what the next invoice is), then committed at exactly that price.
 */
function PlanChange({ sub, product, onChanged }: {
  sub: Sub;
  product: Product;
  onChanged: (s: Sub) => void;
}) {
  const client = useClient();
  const commit = useMutation(ChangeSubscriptionMutation);
  const [key, renewKey] = useIdempotencyKey();
  const plans = product.prices.filter((p) => p.recurring && p.currency === sub.price?.currency);
  const [priceId, setPriceId] = useState(sub.price?.id ?? '');
  const [seats, setSeats] = useState(sub.quantity);
  const [code, setCode] = useState('');
  const [quote, setQuote] = useState<Quote | null>(null);
  const [quoting, setQuoting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const unchanged = priceId === sub.price?.id && seats === sub.quantity && code.trim() === '';

  async function ask() {
    setQuoting(true);
    setError(null);
    commit.reset();
    try {
      const input = {
        subscriptionId: sub.id,
        ...(priceId !== sub.price?.id ? { priceId } : {}),
        ...(seats !== sub.quantity ? { quantity: seats } : {}),
        ...(code.trim() ? { promotionCode: code.trim() } : {}),
      };
      const { previewSubscriptionChange } = await client.request(PreviewSubscriptionChangeQuery, { input });
      renewKey();
      setQuote(previewSubscriptionChange);
    } catch (err) {
      setQuote(null);
      setError(asApiError(err));
    } finally {
      setQuoting(false);
    }
  }

  return (
    <div className="plan-change">
      <h3>Change plan or seats</h3>
      <div className="plan-change-row">
        {plans.length > 1 ? (
          <label className="field">
            Plan
            <select value={priceId} onChange={(e) => setPriceId(e.target.value)} disabled={quoting}>
              {plans.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.unitAmount?.formatted ?? '?'} / {formatInterval(p.recurring!.interval, p.recurring!.intervalCount)}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <QuantityStepper label="Seats" value={seats} onChange={setSeats} disabled={quoting} />
        <label className="field">
          Promotion code
          <input value={code} maxLength={64} autoComplete="off" onChange={(e) => setCode(e.target.value)} disabled={quoting} />
        </label>
        <button type="button" disabled={quoting || unchanged} onClick={() => void ask()}>
          {quoting ? 'Getting a quote…' : 'Review change'}
        </button>
      </div>
      <ErrorMessage error={error} />
      {quote ? (
        <QuoteDialog
          quote={quote}
          busy={commit.inFlight || quoting}
          error={commit.error}
          onClose={() => setQuote(null)}
          onRequote={() => void ask()}
          onConfirm={async () => {
            const r = await commit.run({ input: { subscriptionId: sub.id, quoteId: quote.id, idempotencyKey: key } });
            if (r) {
              onChanged(r.changeSubscription);
              setQuote(null);
              setCode('');
              renewKey();
            }
          }}
        />
      ) : null}
    </div>
  );
}

/** During a trial nothing is charged for a change: the plan is switched without a quote. */
function PriceSwitch({ sub, products, onChanged }: {
  sub: Sub;
  products: Product[];
  onChanged: (s: Sub) => void;
}) {
  const change = useMutation(ChangeSubscriptionPriceMutation);
  const [changeKey, renewChangeKey] = useIdempotencyKey();
  // Other plans in the same currency (the gateway refuses a currency change).
  const plans = products.flatMap((p) =>
    p.prices
      .filter((pr) => pr.recurring && pr.currency === sub.price?.currency && pr.id !== sub.price?.id)
      .map((pr) => ({ id: pr.id, label: `${p.name} — ${pr.unitAmount?.formatted ?? '?'} / ${formatInterval(pr.recurring!.interval, pr.recurring!.intervalCount)}` })),
  );
  const [planId, setPlanId] = useState('');
  if (plans.length === 0) return null;
  return (
    <div className="actions">
      <span className="change-plan">
        <select aria-label="New plan" value={planId} onChange={(e) => { setPlanId(e.target.value); renewChangeKey(); }} disabled={change.inFlight}>
          <option value="">Change plan…</option>
          {plans.map((p) => <option key={p.id} value={p.id}>{p.label}</option>)}
        </select>
        <button
          type="button"
          disabled={change.inFlight || planId === ''}
          onClick={async () => {
            const r = await change.run({ input: { subscriptionId: sub.id, priceId: planId, idempotencyKey: changeKey } });
            if (r) {
              onChanged(r.changeSubscriptionPrice);
              setPlanId('');
              renewChangeKey();
            }
          }}
        >
          {change.inFlight ? 'Changing…' : 'Change plan'}
        </button>
      </span>
      <ErrorMessage error={change.error} />
    </div>
  );
}
