// The viewer's invoices, newest first: number, status, period, every line and the totals, with
// Stripe's hosted page and the PDF to keep. More pages load on request.
import { useState } from 'react';
import { ErrorMessage } from '../components/ErrorMessage';
import { StatusBadge } from '../components/StatusBadge';
import type { InvoicesQuery as InvoicesResult } from '../graphql/generated/graphql';
import { asApiError, useClient, useQuery } from '../graphql/hooks';
import { InvoicesQuery } from '../graphql/operations';
import { formatDate } from '../format';
import type { ApiError } from '../graphql/client';
import { Link } from '../router';

type Invoice = InvoicesResult['invoices']['edges'][number]['node'];

const PAGE = 10;

export function InvoicesPage() {
  const client = useClient();
  const first = useQuery(InvoicesQuery, { first: PAGE });
  const [more, setMore] = useState<{ invoices: Invoice[]; endCursor: string | null; hasNext: boolean } | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const page = first.data?.invoices;
  const invoices = [...(page?.edges.map((e) => e.node) ?? []), ...(more?.invoices ?? [])];
  const hasNext = more ? more.hasNext : page?.pageInfo.hasNextPage ?? false;
  const endCursor = more ? more.endCursor : page?.pageInfo.endCursor ?? null;

  async function loadMore() {
    setLoadingMore(true);
    setError(null);
    try {
      const { invoices: next } = await client.request(InvoicesQuery, { first: PAGE, after: endCursor });
      setMore({
        invoices: [...(more?.invoices ?? []), ...next.edges.map((e) => e.node)],
        endCursor: next.pageInfo.endCursor ?? null,
        hasNext: next.pageInfo.hasNextPage,
      });
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <div className="page">
      <h1>Invoices</h1>
      <ErrorMessage error={first.error} />
      {first.loading && !first.data ? <p className="muted">Loading…</p> : null}
      {first.data && invoices.length === 0 ? (
        <p className="muted">No invoices yet. <Link href="/">Subscribe in the shop</Link>.</p>
      ) : null}
      <div className="invoices">
        {invoices.map((invoice) => <InvoiceCard key={invoice.id} invoice={invoice} />)}
      </div>
      {hasNext ? (
        <button type="button" disabled={loadingMore} onClick={() => void loadMore()}>
          {loadingMore ? 'Loading…' : 'Older invoices'}
        </button>
      ) : null}
      <ErrorMessage error={error} />
    </div>
  );
}

function InvoiceCard({ invoice }: { invoice: Invoice }) {
  return (
    <article className="invoice" aria-label={`Invoice ${invoice.number ?? 'draft'}`}>
      <header>
        <h2>{invoice.number ? `Invoice ${invoice.number}` : 'Draft invoice'}</h2>
        <StatusBadge status={invoice.status} />
      </header>
      <p className="muted">
        {formatDate(invoice.createdAt)}
        {invoice.periodStart && invoice.periodEnd && invoice.periodStart !== invoice.periodEnd
          ? ` · for ${formatDate(invoice.periodStart)} – ${formatDate(invoice.periodEnd)}`
          : ''}
      </p>
      <table className="invoice-lines">
        <thead>
          <tr><th scope="col">Description</th><th scope="col" className="num">Qty</th><th scope="col" className="num">Amount</th></tr>
        </thead>
        <tbody>
          {invoice.lines.map((line, i) => (
            <tr key={i}>
              <td>{line.description ?? '—'}</td>
              <td className="num">{line.quantity ?? ''}</td>
              <td className="num">{line.amount.formatted}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <dl className="quote-totals">
        {invoice.discountTotal.minorUnits !== '0' ? (<><dt>Discounts</dt><dd>−{invoice.discountTotal.formatted}</dd></>) : null}
        {invoice.tax.minorUnits !== '0' ? (<><dt>Tax</dt><dd>{invoice.tax.formatted}</dd></>) : null}
        <dt>Total</dt><dd>{invoice.total.formatted}</dd>
        <dt>Paid</dt><dd>{invoice.amountPaid.formatted}</dd>
        {invoice.amountRemaining.minorUnits !== '0' ? (<><dt>Still due</dt><dd>{invoice.amountRemaining.formatted}</dd></>) : null}
      </dl>
      <p className="actions">
        {invoice.hostedInvoiceUrl ? <a href={invoice.hostedInvoiceUrl} target="_blank" rel="noopener noreferrer">View invoice</a> : null}
        {invoice.invoicePdf ? <a href={invoice.invoicePdf} target="_blank" rel="noopener noreferrer">Download PDF</a> : null}
      </p>
    </article>
  );
}
