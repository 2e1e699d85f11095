// A table of payments with status badges and refunds; the Payments and Admin pages share it.
import type { ReactNode } from 'react';
import type { PaymentFieldsFragment } from '../graphql/generated/graphql';
import { formatDateTime, humanize } from '../format';
import { StatusBadge } from './StatusBadge';

export type Payment = PaymentFieldsFragment;

export function PaymentList({ payments, showUser, actions }: {
  payments: Payment[];
  showUser?: boolean;
  /** Extra cell per payment (the admin's Refund button). */
  actions?: (payment: Payment) => ReactNode;
}) {
  return (
    <table className="payments">
      <thead>
        <tr>
          <th>Date</th>
          {showUser ? <th>User</th> : null}
          <th>Description</th>
          <th className="num">Amount</th>
          <th>Card</th>
          <th>Status</th>
          {actions ? <th><span className="visually-hidden">Actions</span></th> : null}
        </tr>
      </thead>
      <tbody>
        {payments.map((p) => (
          <tr key={p.id} data-payment-id={p.id}>
            <td className="nowrap">{formatDateTime(p.createdAt)}</td>
            {showUser ? <td>{p.userId}</td> : null}
            <td>
              {p.description ?? '—'}
              {p.failureMessage && p.status === 'FAILED' ? <div className="error small">{p.failureMessage}</div> : null}
              {p.refunds.map((r) => (
                <div key={r.id} className="small muted">
                  Refund {r.amount.formatted} · {humanize(r.status)}
                  {r.reason ? ` · ${humanize(r.reason)}` : ''} · {formatDateTime(r.createdAt)}
                </div>
              ))}
              {p.disputed ? <div className="small error">Disputed</div> : null}
            </td>
            <td className="num">
              {p.amount.formatted}
              {p.amountRefunded.minorUnits !== '0' ? (
                <div className="small muted">−{p.amountRefunded.formatted} refunded</div>
              ) : null}
            </td>
            <td className="nowrap">{p.cardLast4 ? `${p.cardBrand ?? 'card'} •••• ${p.cardLast4}` : '—'}</td>
            <td><StatusBadge status={p.status} /></td>
            {actions ? <td>{actions(p)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
