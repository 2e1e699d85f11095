// A plan change as Stripe quoted it (previewSubscriptionChange): the lines invoiced now, what
// is charged now and what the next invoice comes to. Confirm commits exactly that quote
// (changeSubscription); a quote the subscription has moved away from, or one too old, is
// refused by the gateway with nothing charged, and a new one can be asked for.
import type { PreviewSubscriptionChangeQuery } from '../graphql/generated/graphql';
import type { ApiError } from '../graphql/client';
import { formatDate, formatDateTime } from '../format';
import { Dialog } from './Dialog';
import { ErrorMessage } from './ErrorMessage';

export type Quote = PreviewSubscriptionChangeQuery['previewSubscriptionChange'];

export function QuoteDialog({ quote, busy, error, onConfirm, onRequote, onClose }: {
  quote: Quote;
  busy: boolean;
  error: ApiError | null;
  onConfirm: () => void;
  onRequote: () => void;
  onClose: () => void;
}) {
  const stale = error?.code === 'QUOTE_STALE' || error?.code === 'QUOTE_EXPIRED';
  return (
    <Dialog title="Review plan change" onClose={onClose}>
      <table className="quote-lines">
        <thead>
          <tr><th scope="col">Line</th><th scope="col">Period</th><th scope="col" className="num">Amount</th></tr>
        </thead>
        <tbody>
          {quote.lines.map((line, i) => (
            <tr key={i}>
              <td>{line.description ?? (line.proration ? 'Proration' : 'Plan')}</td>
              <td>{formatDate(line.periodStart)} – {formatDate(line.periodEnd)}</td>
              <td className="num">{line.amount.formatted}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <dl className="quote-totals">
        <dt>Due now</dt>
        <dd data-testid="quote-due-now">{quote.amountDue.formatted}</dd>
        <dt>Next invoice</dt>
        <dd data-testid="quote-next-invoice">{quote.nextInvoiceTotal.formatted}</dd>
      </dl>
      <p className="muted small">
        Prices as of {formatDateTime(quote.prorationDate)}; this quote holds until {formatDateTime(quote.expiresAt)}.
      </p>
      <ErrorMessage error={error} />
      <div className="actions">
        {stale ? (
          <button type="button" className="primary" disabled={busy} onClick={onRequote}>Get a new quote</button>
        ) : (
          <button type="button" className="primary" disabled={busy} onClick={onConfirm}>
            {busy ? 'Confirming…' : `Confirm — pay ${quote.amountDue.formatted} now`}
          </button>
        )}
        <button type="button" disabled={busy} onClick={onClose}>Back</button>
      </div>
    </Dialog>
  );
}
