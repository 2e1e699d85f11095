// Infinite scroll over a payment connection (`first` / `after`), with live updates from the
// `paymentUpdated` subscription merged in; the Payments and Admin pages share it.
import { useCallback, useEffect, useRef, useState, type RefObject } from 'react';
import type { TypedDocumentString } from '../graphql/generated/graphql';
import type { ApiError } from '../graphql/client';
import { asApiError, useClient, useSubscription } from '../graphql/hooks';
import { PaymentQuery, PaymentUpdatedSubscription } from '../graphql/operations';
import type { Payment } from './PaymentList';
import { mergePayment, newerOf } from './paymentOrder';

const PAGE_SIZE = 20;

interface Connection {
  edges: { cursor: string; node: Payment }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

export interface PaymentPages {
  payments: Payment[];
  loading: boolean;
  error: ApiError | null;
  hasMore: boolean;
  loadMore: () => void;
  /** Drop what was loaded and start again from the newest (after a reconnect). */
  reload: () => void;
  apply: (changed: Payment) => void;
  /** Why live updates stopped, while they are stopped. */
  liveError: ApiError | null;
  /** Put on an element after the list: scrolling it into view loads the next page. */
  sentinel: RefObject<HTMLDivElement>;
}

export function usePaymentPages<TResult>(
  document: TypedDocumentString<TResult, { first: number; after?: string | null }>,
  connectionOf: (result: TResult) => Connection,
): PaymentPages {
  const client = useClient();
  const [payments, setPayments] = useState<Payment[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const inFlight = useRef(false);
  const generation = useRef(0);
  const connection = useRef(connectionOf);
  connection.current = connectionOf;

  const fetchPage = useCallback(
    async (after: string | null, replace: boolean) => {
      if (inFlight.current && !replace) return;
      inFlight.current = true;
      const mine = ++generation.current;
      setLoading(true);
      try {
        const result = await client.request(document, { first: PAGE_SIZE, after });
        if (mine !== generation.current) return;
        const page = connection.current(result);
        const nodes = page.edges.map((e) => e.node);
        setPayments((list) => {
          if (replace) return newerOf(nodes, list);
          // A payment that arrived live may also be on the next page: keep one copy.
          const seen = new Set(list.map((p) => p.id));
          return [...list, ...nodes.filter((p) => !seen.has(p.id))];
        });
        setCursor(page.pageInfo.endCursor ?? null);
        setHasMore(page.pageInfo.hasNextPage);
        setError(null);
      } catch (err) {
        if (mine === generation.current) setError(asApiError(err));
      } finally {
        if (mine === generation.current) {
          inFlight.current = false;
          setLoading(false);
        }
      }
    },
    [client, document],
  );

  useEffect(() => {
    void fetchPage(null, true);
  }, [fetchPage]);

  // Read when an update arrives, not when `apply` was made: pages may have loaded since.
  const morePages = useRef(hasMore);
  morePages.current = hasMore;
  const apply = useCallback(
    (changed: Payment) => setPayments((list) => mergePayment(list, changed, morePages.current)),
    [],
  );

  // A live event: applied as sent, or read again over HTTP when it came with errors.
  const live = useCallback(
    (changed: Pick<Payment, 'id'> & Partial<Payment>, complete: boolean) => {
      if (complete) {
        apply(changed as Payment);
        return;
      }
      // Not even the id arrived: start again from the newest.
      if (!changed?.id) {
        void fetchPage(null, true);
        return;
      }
      client.request(PaymentQuery, { id: changed.id }).then(
        (r) => r.payment && apply(r.payment),
        (err) => setError(asApiError(err)),
      );
    },
    [client, apply, fetchPage],
  );
  const reload = useCallback(() => void fetchPage(null, true), [fetchPage]);
  const liveError = useSubscription(PaymentUpdatedSubscription, {}, (d, complete) => live(d.paymentUpdated, complete), {
    enabled: true,
    // Events sent while the socket was down are lost: start again from the newest.
    onReconnect: reload,
  });
  const loadMore = useCallback(() => {
    if (hasMore && cursor !== null) void fetchPage(cursor, false);
  }, [fetchPage, hasMore, cursor]);
  const sentinel = useSentinel(loadMore, hasMore && !loading, payments.length);

  return { payments, loading, error, hasMore, loadMore, reload, apply, liveError, sentinel };
}

/** Calls `onVisible` when the returned element scrolls into view: the infinite scroll. */
function useSentinel(onVisible: () => void, enabled: boolean, loaded: number) {
  const ref = useRef<HTMLDivElement>(null);
  const callback = useRef(onVisible);
  callback.current = onVisible;
  useEffect(() => {
    const node = ref.current;
    if (!node || !enabled) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) callback.current();
    }, { rootMargin: '200px' });
    observer.observe(node);
    return () => observer.disconnect();
    // Observed anew after each page: a sentinel still in view after a short page fires again.
  }, [enabled, loaded]);
  return ref;
}
