// The viewer's payments, newest first: status badges, refunds, infinite scroll over the
// connection, and live status changes from the `paymentUpdated` subscription.
import { ErrorMessage } from '../components/ErrorMessage';
import { PaymentList } from '../components/PaymentList';
import { usePaymentPages, useSentinel } from '../components/usePaymentPages';
import { useSubscription } from '../graphql/hooks';
import { PaymentUpdatedSubscription, PaymentsQuery } from '../graphql/operations';
import { Link } from '../router';

export function PaymentsPage() {
  const pages = usePaymentPages(PaymentsQuery, (r) => r.payments);
  const liveError = useSubscription(PaymentUpdatedSubscription, {}, (d, complete) => pages.live(d.paymentUpdated, complete), {
    enabled: true,
    onReconnect: pages.reload,
  });
  const sentinel = useSentinel(pages.loadMore, pages.hasMore && !pages.loading, pages.payments.length);

  return (
    <div className="page">
      <h1>Payments</h1>
      <ErrorMessage error={pages.error} />
      {liveError ? <p className="muted small">Live updates paused: {liveError.message}</p> : null}
      {pages.payments.length > 0 ? <PaymentList payments={pages.payments} /> : null}
      {!pages.loading && pages.payments.length === 0 && !pages.error ? (
        <p className="muted">
          No payments yet. <Link href="/">Visit the shop</Link>.
        </p>
      ) : null}
      <div ref={sentinel} />
      {pages.loading ? <p className="muted">Loading…</p> : null}
      {pages.hasMore && !pages.loading && pages.payments.length > 0 ? (
        <button type="button" onClick={pages.loadMore}>Load more</button>
      ) : null}
    </div>
  );
}
