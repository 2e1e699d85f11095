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

/** A coupon in words: "20% off forever", "₩5,000 off once", "10% off for 3 months". */
export function describeCoupon(coupon: {
  percentOff?: string | null;
  amountOff?: { formatted: string } | null;
  duration: string;
  durationInMonths?: number | null;
}): string {
  const off = coupon.percentOff ? `${coupon.percentOff}% off` : `${coupon.amountOff?.formatted ?? ''} off`;
  switch (coupon.duration) {
    case 'FOREVER':
      return `${off} forever`;
    case 'REPEATING':
      return `${off} for ${coupon.durationInMonths ?? '?'} month${coupon.durationInMonths === 1 ? '' : 's'}`;
    default:
      return `${off} the first invoice`;
  }
}
