// React hooks over GraphQLClient: a query with refetch, a mutation that refuses to run twice at
// once (money-moving buttons must never double-submit), and a live subscription.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { TypedDocumentString } from './generated/graphql';
import { ApiError, type GraphQLClient } from './client';

export const ClientContext = createContext<GraphQLClient | null>(null);

export function useClient(): GraphQLClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside <ClientContext.Provider>');
  return client;
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(err instanceof Error ? err.message : String(err), 'INTERNAL');
}

export interface QueryState<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  refetch: () => Promise<void>;
  /** Replace the data locally (a live update or a mutation's answer). */
  setData: (update: (previous: T | null) => T | null) => void;
}

export function useQuery<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  options: { skip?: boolean } = {},
): QueryState<TResult> {
  const client = useClient();
  const key = JSON.stringify(variables);
  // The answer remembers the variables it was fetched with: while other variables load (a new
  // tab of a filtered list), the old rows are not shown as if they were the new ones.
  const [answer, setAnswer] = useState<{ key: string; result: TResult | null } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(!options.skip);
  // Only the newest request may write: an older answer arriving late must not win.
  const generation = useRef(0);

  const refetch = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const result = await (client.request as (d: unknown, v: unknown) => Promise<TResult>)(
        document,
        JSON.parse(key),
      );
      if (mine === generation.current) {
        setAnswer({ key, result });
        setError(null);
      }
    } catch (err) {
      if (mine === generation.current) setError(asApiError(err));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [client, document, key]);

  useEffect(() => {
    if (options.skip) return;
    void refetch();
  }, [refetch, options.skip]);

  // A local update made for these variables; one that lands after the variables changed (a
  // mutation answered after the operator switched tabs) belongs to rows no longer shown.
  const setData = useCallback(
    (update: (previous: TResult | null) => TResult | null) =>
      setAnswer((prev) => (prev && prev.key !== key ? prev : { key, result: update(prev?.result ?? null) })),
    [key],
  );
  const data = answer && answer.key === key ? answer.result : null;

  return { data, error, loading, refetch, setData };
}

export interface Mutation<TResult, TVariables> {
  /** Runs it unless it is already running; resolves null (and sets `error`) on failure. */
  run: (variables: TVariables) => Promise<TResult | null>;
  inFlight: boolean;
  error: ApiError | null;
  reset: () => void;
}

export function useMutation<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
): Mutation<TResult, TVariables> {
  const client = useClient();
  const [inFlight, setInFlight] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // A ref, not state: a second click in the same tick must see the first one.
  const running = useRef(false);

  const run = useCallback(
    async (variables: TVariables) => {
      if (running.current) return null;
      running.current = true;
      setInFlight(true);
      setError(null);
      try {
        return await (client.request as (d: unknown, v: unknown) => Promise<TResult>)(
          document,
          variables,
        );
      } catch (err) {
        setError(asApiError(err));
        return null;
      } finally {
        running.current = false;
        setInFlight(false);
      }
    },
    [client, document],
  );

  return { run, inFlight, error, reset: useCallback(() => setError(null), []) };
}

/**
 * Live updates: calls `onData` with each event (`complete` false: the event came with errors
 * and lacks fields, so read the object again), and `onReconnect` when the socket reopens after
 * a drop (events sent meanwhile are lost, so the page refetches).
 */
export function useSubscription<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  onData: (data: TResult, complete: boolean) => void,
  options: { enabled: boolean; onReconnect?: () => void },
): ApiError | null {
  const client = useClient();
  const [error, setError] = useState<ApiError | null>(null);
  const handlers = useRef({ onData, onReconnect: options.onReconnect });
  handlers.current = { onData, onReconnect: options.onReconnect };
  const key = JSON.stringify(variables);

  useEffect(() => {
    if (!options.enabled) return;
    let connections = 0;
    const stopListening = client.onConnected(() => {
      connections += 1;
      if (connections > 1) handlers.current.onReconnect?.();
    });
    const unsubscribe = client.subscribe(document, JSON.parse(key) as TVariables, {
      next: (data, complete) => {
        setError(null);
        handlers.current.onData(data, complete);
      },
      error: (err) => setError(asApiError(err)),
    });
    return () => {
      unsubscribe();
      stopListening();
    };
  }, [client, document, key, options.enabled]);

  return error;
}
