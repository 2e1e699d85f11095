// Display helpers. Amounts are never computed here: the gateway formats money in its currency
// (`Money.formatted`), with the currency's own decimals.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

export function formatDate(iso: string | null | undefined): string {
  return iso ? dateOnly.format(new Date(iso)) : '—';
}

/** "MONTH" + 1 -> "month"; "MONTH" + 3 -> "3 months". */
export function formatInterval(interval: string, count: number): string {
  const unit = interval.toLowerCase();
  return count === 1 ? unit : `${count} ${unit}s`;
}

/** PARTIALLY_REFUNDED -> "Partially refunded". */
export function humanize(status: string): string {
  const words = status.toLowerCase().replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
