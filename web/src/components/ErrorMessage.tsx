// An API error as the customer should read it: the gateway's message, and its code for support.
import type { ApiError } from '../graphql/client';

const RETRY_HINT: Record<string, string> = {
  RATE_LIMITED: 'Too many requests: wait a moment and try again.',
  STRIPE_UNAVAILABLE: 'The payment provider is unavailable right now; nothing was charged.',
  UNAUTHENTICATED: 'Your sign-in has expired: sign in again.',
};

export function ErrorMessage({ error }: { error: ApiError | Error | string | null | undefined }) {
  if (!error) return null;
  const message = typeof error === 'string' ? error : error.message;
  const code = typeof error === 'object' && 'code' in error ? error.code : null;
  const hint = code ? RETRY_HINT[code] : undefined;
  return (
    <p className="error" role="alert">
      {message}
      {hint && message !== hint ? <> — {hint}</> : null}
      {code ? <span className="code"> ({code})</span> : null}
    </p>
  );
}
