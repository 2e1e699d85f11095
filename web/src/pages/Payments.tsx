// The viewer's payments, newest first: status badges, refunds, infinite scroll over the
// connection, and live status changes from the `paymentUpdated` subscription.
import { ErrorMessage } from '../components/ErrorMessage';
import { PaymentList } from '../components/PaymentList';
import { usePaymentPages } from '../components/usePaymentPages';
import { PaymentsQuery } from '../graphql/operations';
import { Link } from '../router';

export function PaymentsPage() {
  const pages = usePaymentPages(PaymentsQuery, (r) => r.payments);

  return (
    <div className="page">
      <h1>Payments</h1>
      <ErrorMessage error={pages.error} />
      {pages.liveError ? <p className="muted small">Live updates paused: {pages.liveError.message}</p> : null}
      {pages.payments.length > 0 ? <PaymentList payments={pages.payments} /> : null}
      {!pages.loading && pages.payments.length === 0 && !pages.error ? (
        <p className="muted">
          No payments yet. <Link href="/">Visit the shop</Link>.
        </p>
      ) : null}
      <div ref={pages.sentinel} />
      {pages.loading ? <p className="muted">Loading…</p> : null}
      {pages.hasMore && !pages.loading && pages.payments.length > 0 ? (
        <button type="button" onClick={pages.loadMore}>Load more</button>
      ) : null}
    </div>
  );
}
