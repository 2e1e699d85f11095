// The viewer's subscriptions: status, renewal date, trial; cancel at the period's end or
// resume; change plan. Changes made elsewhere (renewals, webhooks) arrive live.
import { useState } from 'react';
import { ErrorMessage } from '../components/ErrorMessage';
import { StatusBadge } from '../components/StatusBadge';
import type { ProductsQuery, SubscriptionFieldsFragment } from '../graphql/generated/graphql';
import { useMutation, useQuery, useSubscription } from '../graphql/hooks';
import {
  CancelSubscriptionMutation,
  ChangeSubscriptionPriceMutation,
  ProductsQuery as ProductsDocument,
  ResumeSubscriptionMutation,
  SubscriptionUpdatedSubscription,
  SubscriptionsQuery,
} from '../graphql/operations';
import { formatDate, formatInterval } from '../format';
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
  const change = useMutation(ChangeSubscriptionPriceMutation);
  const [changeKey, renewChangeKey] = useIdempotencyKey();
  const busy = cancel.inFlight || resume.inFlight || change.inFlight;
  const ended = sub.status === 'CANCELED' || sub.status === 'INCOMPLETE_EXPIRED';

  // Other plans in the same currency (the gateway refuses a currency change).
  const plans = products.flatMap((p) =>
    p.prices
      .filter((pr) => pr.recurring && pr.currency === sub.price?.currency && pr.id !== sub.price?.id)
      .map((pr) => ({ id: pr.id, label: `${p.name} — ${pr.unitAmount?.formatted ?? '?'} / ${formatInterval(pr.recurring!.interval, pr.recurring!.intervalCount)}` })),
  );
  const [planId, setPlanId] = useState('');

  const price = sub.price;
  const amount = price?.unitAmount?.formatted;
  const every = price?.recurring ? formatInterval(price.recurring.interval, price.recurring.intervalCount) : null;
  const trialing = sub.status === 'TRIALING' && sub.trialEnd;

  return (
    <article className="subscription" aria-label={product?.name ?? 'Subscription'} data-subscription-id={sub.id}>
      <header>
        <h2>{product?.name ?? price?.nickname ?? 'Subscription'}</h2>
        <StatusBadge status={sub.status} />
      </header>
      {amount ? <p>{amount}{every ? ` every ${every}` : ''}</p> : null}
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
            <button
              type="button"
              disabled={busy}
              onClick={async () => {
                const r = await cancel.run({ input: { subscriptionId: sub.id, atPeriodEnd: true } });
                if (r) onChanged(r.cancelSubscription);
              }}
            >
              {cancel.inFlight ? 'Canceling…' : 'Cancel at period end'}
            </button>
          )}
          {plans.length > 0 && !sub.cancelAtPeriodEnd ? (
            <span className="change-plan">
              <select aria-label="New plan" value={planId} onChange={(e) => { setPlanId(e.target.value); renewChangeKey(); }} disabled={busy}>
                <option value="">Change plan…</option>
                {plans.map((p) => <option key={p.id} value={p.id}>{p.label}</option>)}
              </select>
              <button
                type="button"
                disabled={busy || planId === ''}
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
          ) : null}
        </div>
      ) : null}
      <ErrorMessage error={cancel.error ?? resume.error ?? change.error} />
    </article>
  );
}
