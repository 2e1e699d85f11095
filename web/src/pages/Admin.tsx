// The operator's page (admin tokens only; the gateway enforces it): revenue per currency,
// recent payments across users with a Refund action (live), subscriptions with their seats,
// codes and why customers cancel, webhook events by status with a Replay action.
import { useState } from 'react';
import { ErrorMessage } from '../components/ErrorMessage';
import { PaymentList, type Payment } from '../components/PaymentList';
import { RevenueChart } from '../components/RevenueChart';
import { StatusBadge } from '../components/StatusBadge';
import { usePaymentPages } from '../components/usePaymentPages';
import type { WebhookEventFieldsFragment, WebhookEventStatus } from '../graphql/generated/graphql';
import { useClient, useMutation, useQuery } from '../graphql/hooks';
import {
  AdminPaymentsQuery,
  AdminSubscriptionsQuery,
  PaymentQuery,
  RefundPaymentMutation,
  ReplayWebhookEventMutation,
  RevenueQuery,
  WebhookEventsQuery,
} from '../graphql/operations';
import { formatDateTime, formatInterval, humanize } from '../format';
import { useIdempotencyKey } from '../idempotency';

export function AdminPage() {
  return (
    <div className="page">
      <h1>Admin</h1>
      <Revenue />
      <RecentPayments />
      <Subscriptions />
      <WebhookEvents />
    </div>
  );
}

function Revenue() {
  const revenue = useQuery(RevenueQuery, {});
  return (
    <section aria-labelledby="revenue-h">
      <h2 id="revenue-h">Revenue</h2>
      <ErrorMessage error={revenue.error} />
      {revenue.data?.revenue.length === 0 ? <p className="muted">No revenue yet.</p> : null}
      <div className="charts">
        {revenue.data?.revenue.map((line) => <RevenueChart key={line.currency} line={line} />)}
      </div>
      <button type="button" className="link" onClick={() => void revenue.refetch()} disabled={revenue.loading}>
        Refresh
      </button>
    </section>
  );
}

function Subscriptions() {
  const subs = useQuery(AdminSubscriptionsQuery, {});
  const list = subs.data?.adminSubscriptions ?? [];
  return (
    <section aria-labelledby="subscriptions-h">
      <h2 id="subscriptions-h">Subscriptions</h2>
      <ErrorMessage error={subs.error} />
      {subs.data && list.length === 0 ? <p className="muted">No subscriptions yet.</p> : null}
      {list.length > 0 ? (
        <table className="admin-subscriptions">
          <thead>
            <tr>
              <th scope="col">User</th><th scope="col">Plan</th><th scope="col">Seats</th>
              <th scope="col">Status</th><th scope="col">Code</th><th scope="col">Cancel reason</th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.id}>
                <td>{s.userId}</td>
                <td>
                  {s.price?.unitAmount?.formatted ?? '—'}
                  {s.price?.recurring ? ` / ${formatInterval(s.price.recurring.interval, s.price.recurring.intervalCount)}` : ''}
                </td>
                <td>{s.quantity}</td>
                <td><StatusBadge status={s.status} />{s.cancelAtPeriodEnd ? ' (ends at period end)' : ''}</td>
                <td>{s.discount?.promotionCode ?? '—'}</td>
                <td>
                  {s.cancellationReason ? humanize(s.cancellationReason) : '—'}
                  {s.cancellationComment ? <div className="muted small">“{s.cancellationComment}”</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function RecentPayments() {
  const pages = usePaymentPages(AdminPaymentsQuery, (r) => r.adminPayments);
  return (
    <section aria-labelledby="payments-h">
      <h2 id="payments-h">Recent payments</h2>
      <ErrorMessage error={pages.error} />
      {pages.liveError ? <p className="muted small">Live updates paused: {pages.liveError.message}</p> : null}
      {pages.payments.length > 0 ? (
        <PaymentList payments={pages.payments} showUser actions={(p) => <RefundButton payment={p} onRefunded={pages.apply} />} />
      ) : null}
      {!pages.loading && pages.payments.length === 0 && !pages.error ? <p className="muted">No payments yet.</p> : null}
      <div ref={pages.sentinel} />
      {pages.hasMore && !pages.loading && pages.payments.length > 0 ? (
        <button type="button" onClick={pages.loadMore}>Load more</button>
      ) : null}
    </section>
  );
}

function RefundButton({ payment, onRefunded }: { payment: Payment; onRefunded: (p: Payment) => void }) {
  const refund = useMutation(RefundPaymentMutation);
  const client = useClient();
  // One key per refund the operator means to make: a double click or a retry after a network
  // error cannot refund twice.
  const [key, renewKey] = useIdempotencyKey();
  if (payment.status !== 'SUCCEEDED' && payment.status !== 'PARTIALLY_REFUNDED') return null;
  return (
    <span className="refund">
      <button
        type="button"
        className="danger"
        disabled={refund.inFlight}
        aria-label={`Refund ${payment.amount.formatted} to ${payment.userId}`}
        onClick={async () => {
          const result = await refund.run({ input: { paymentId: payment.id, idempotencyKey: key, reason: 'REQUESTED_BY_CUSTOMER' } });
          if (result) {
            renewKey();
            // The payment's new state also arrives live; reading it now shows it without waiting.
            const fresh = await client.request(PaymentQuery, { id: payment.id }).catch(() => null);
            if (fresh?.payment) onRefunded(fresh.payment);
          }
        }}
      >
        {refund.inFlight ? 'Refunding…' : 'Refund'}
      </button>
      <ErrorMessage error={refund.error} />
    </span>
  );
}

const EVENT_STATUSES: WebhookEventStatus[] = ['FAILED', 'PENDING', 'PROCESSED', 'IGNORED'];

function WebhookEvents() {
  const [status, setStatus] = useState<WebhookEventStatus | null>('FAILED');
  const events = useQuery(WebhookEventsQuery, { status, first: 50 });
  const list = events.data?.webhookEvents.edges.map((e) => e.node) ?? [];
  const replaced = (event: WebhookEventFieldsFragment) =>
    events.setData((prev) =>
      prev && {
        webhookEvents: {
          ...prev.webhookEvents,
          edges: prev.webhookEvents.edges.map((e) => (e.node.id === event.id ? { ...e, node: event } : e)),
        },
      },
    );
  return (
    <section aria-labelledby="webhooks-h">
      <h2 id="webhooks-h">Webhook events</h2>
      <div className="tabs" role="tablist">
        {[...EVENT_STATUSES, null].map((s) => (
          <button key={s ?? 'all'} type="button" role="tab" aria-selected={status === s} onClick={() => setStatus(s)}>
            {s ? s.charAt(0) + s.slice(1).toLowerCase() : 'All'}
          </button>
        ))}
        <button type="button" className="link" onClick={() => void events.refetch()} disabled={events.loading}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={events.error} />
      {events.data ? <p className="muted small">{events.data.webhookEvents.totalCount} events</p> : null}
      <table className="events">
        <thead>
          <tr>
            <th>Received</th><th>Type</th><th>Event</th><th>Attempts</th><th>Status</th><th>Last error</th>
            <th><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {list.map((e) => (
            <tr key={e.id} data-event-id={e.id}>
              <td className="nowrap">{formatDateTime(e.receivedAt)}</td>
              <td>{e.type}</td>
              <td className="mono small">{e.stripeEventId}</td>
              <td className="num">{e.attempts}</td>
              <td><StatusBadge status={e.status} /></td>
              <td className="small">{e.lastError ?? ''}</td>
              <td><ReplayButton event={e} onReplayed={replaced} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.data && list.length === 0 ? <p className="muted">None.</p> : null}
    </section>
  );
}

// Puts the event back in the worker's queue. Handlers are idempotent, so replaying one that was
// already applied changes nothing; the row shows it queued, then Refresh shows the outcome.
function ReplayButton({ event, onReplayed }: {
  event: WebhookEventFieldsFragment;
  onReplayed: (e: WebhookEventFieldsFragment) => void;
}) {
  const replay = useMutation(ReplayWebhookEventMutation);
  if (event.status === 'PENDING') return null;
  return (
    <span className="refund">
      <button
        type="button"
        disabled={replay.inFlight}
        aria-label={`Replay ${event.stripeEventId}`}
        onClick={async () => {
          const result = await replay.run({ id: event.id });
          if (result) onReplayed(result.replayWebhookEvent);
        }}
      >
        {replay.inFlight ? 'Replaying…' : 'Replay'}
      </button>
      <ErrorMessage error={replay.error} />
    </span>
  );
}
