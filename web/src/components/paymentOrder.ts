// Where a payment belongs in a newest-first list: the order the server's connection uses,
// `(createdAt, id)` descending, so a live update lands where the next page would have put it.
import type { Payment } from './PaymentList';

/**
 * An RFC 3339 instant as text that sorts like the instant. The server prints 0, 3, 6 or 9
 * fraction digits (`…:03Z` and `…:03.120Z` would compare wrongly as plain strings), so the
 * fraction is padded to nanoseconds; a non-UTC offset goes through `Date` (milliseconds).
 */
export function instantKey(rfc3339: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|\+00:00)$/.exec(rfc3339);
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`;
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return '';
  return `${new Date(ms).toISOString().slice(0, 23)}000000`;
}

/** Negative when `a` comes before `b` in the list (newer, or as new with the larger id). */
function newestFirst(a: Payment, b: Payment): number {
  const at = instantKey(a.createdAt);
  const bt = instantKey(b.createdAt);
  if (at !== bt) return at > bt ? -1 : 1;
  return a.id === b.id ? 0 : a.id > b.id ? -1 : 1;
}

/**
 * The list with `changed` in it: replaced in place when shown, otherwise put where the server
 * orders it. While more pages remain, a payment older than the last one shown is left for the
 * page that carries it: put on top (as it once was) it showed an old payment as the newest and
 * then hid it from its own page.
 */
export function mergePayment(list: Payment[], changed: Payment, morePages: boolean): Payment[] {
  const at = list.findIndex((p) => p.id === changed.id);
  if (at !== -1) {
    // A late event must not undo a newer state the list already shows.
    if (instantKey(list[at]!.updatedAt) > instantKey(changed.updatedAt)) return list;
    const next = list.slice();
    next[at] = changed;
    return next;
  }
  const before = list.findIndex((p) => newestFirst(changed, p) < 0);
  if (before === -1) return morePages ? list : [...list, changed];
  return [...list.slice(0, before), changed, ...list.slice(before)];
}

/**
 * A page as fetched, but with any payment the list already shows in a newer state kept in that
 * state: a live update can arrive while the page's request is in flight, and the page's
 * snapshot is then the older of the two.
 */
export function newerOf(page: Payment[], list: Payment[]): Payment[] {
  const shown = new Map(list.map((p) => [p.id, p]));
  return page.map((p) => {
    const live = shown.get(p.id);
    return live && instantKey(live.updatedAt) > instantKey(p.updatedAt) ? live : p;
  });
}
