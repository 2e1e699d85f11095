// One idempotency key per user intent (DESIGN §5): the same key while the customer retries the
// same purchase — a network error, a declined card, a second click — so the gateway and Stripe
// see one operation; a fresh key once that intent is done.
import { useCallback, useState } from 'react';

export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** [the current intent's key, start a new intent]. */
export function useIdempotencyKey(): [string, () => void] {
  const [key, setKey] = useState(newIdempotencyKey);
  return [key, useCallback(() => setKey(newIdempotencyKey()), [])];
}
