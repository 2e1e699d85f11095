// A small typed GraphQL client: queries and mutations over HTTP (fetch), live updates over
// graphql-ws. Operations are the typed documents generated from schema.graphql, so each
// call's variables and result are checked by tsc.
import { createClient, type Client as WsClient } from 'graphql-ws';
import type { TypedDocumentString } from './generated/graphql';

/** A GraphQL error as the gateway reports it: its message and `extensions.code`. */
export class ApiError extends Error {
  readonly code: string;
  readonly retryAfter: number | null;

  constructor(message: string, code: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

interface WireError {
  message?: unknown;
  extensions?: { code?: unknown; retryAfter?: unknown };
}

function toApiError(errors: WireError[], status: number): ApiError {
  const first = errors[0] ?? {};
  const message = typeof first.message === 'string' ? first.message : `HTTP ${status}`;
  const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL';
  const retryAfter =
    typeof first.extensions?.retryAfter === 'number' ? first.extensions.retryAfter : null;
  return new ApiError(message, code, retryAfter);
}

export interface Sink<T> {
  /** An event. `complete` is false when the gateway sent it with errors: some fields are
   * missing, and the receiver should read the object again over HTTP. */
  next: (value: T, complete: boolean) => void;
  error: (error: Error) => void;
}

export class GraphQLClient {
  private readonly ws: WsClient;

  constructor(
    private readonly httpUrl: string,
    wsUrl: string,
    private readonly token: string | null,
  ) {
    this.ws = createClient({
      url: wsUrl,
      // The gateway authenticates a WebSocket in connection_init, not from HTTP headers.
      connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
      // No socket until a page subscribes; closed again when the last one leaves.
      lazy: true,
      // Reconnect after network blips; pages refetch on reconnect so nothing is missed.
      retryAttempts: Infinity,
      shouldRetry: () => true,
    });
  }

  /** Runs a query or mutation; any GraphQL error rejects with an ApiError. */
  async request<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
  ): Promise<TResult> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json;q=0.9',
    };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(this.httpUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
      });
    } catch {
      throw new ApiError('The gateway cannot be reached. Check your connection.', 'NETWORK');
    }
    const body = (await response.json().catch(() => null)) as {
      data?: TResult | null;
      errors?: WireError[];
    } | null;
    if (body?.errors?.length) throw toApiError(body.errors, response.status);
    if (!response.ok || !body?.data) {
      throw new ApiError(`The gateway answered HTTP ${response.status}.`, 'INTERNAL');
    }
    return body.data;
  }

  /** Subscribes over graphql-ws; returns the function that unsubscribes. */
  subscribe<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    variables: TVariables,
    sink: Sink<TResult>,
  ): () => void {
    return this.ws.subscribe<TResult>(
      { query: document.toString(), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          const errors = result.errors as WireError[] | undefined;
          if (result.data) sink.next(result.data, !errors?.length);
          else if (errors?.length) sink.error(toApiError(errors, 200));
        },
        error: (err) =>
          sink.error(err instanceof Error ? err : new ApiError('Live updates stopped.', 'NETWORK')),
        complete: () => {},
      },
    );
  }

  /** Calls `listener` whenever the live connection (re)opens. */
  onConnected(listener: () => void): () => void {
    return this.ws.on('connected', listener);
  }

  dispose(): void {
    void this.ws.dispose();
  }
}
