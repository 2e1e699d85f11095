// A status as a coloured badge; the colour says good / waiting / bad at a glance.
import { humanize } from '../format';

const TONE: Record<string, 'good' | 'wait' | 'bad' | 'neutral'> = {
  SUCCEEDED: 'good',
  ACTIVE: 'good',
  TRIALING: 'good',
  PROCESSED: 'good',
  PENDING: 'wait',
  PROCESSING: 'wait',
  REQUIRES_ACTION: 'wait',
  INCOMPLETE: 'wait',
  PAST_DUE: 'bad',
  UNPAID: 'bad',
  FAILED: 'bad',
  CANCELED: 'neutral',
  INCOMPLETE_EXPIRED: 'neutral',
  PAUSED: 'neutral',
  IGNORED: 'neutral',
  PARTIALLY_REFUNDED: 'neutral',
  REFUNDED: 'neutral',
  // invoices
  PAID: 'good',
  OPEN: 'wait',
  DRAFT: 'neutral',
  VOID: 'neutral',
  UNCOLLECTIBLE: 'bad',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${TONE[status] ?? 'neutral'}`} data-status={status}>
      {humanize(status)}
    </span>
  );
}
