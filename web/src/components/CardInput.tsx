// The card field (Stripe's card Element) with its validation message. The card number never
// touches our code or our server: Stripe.js reads it and returns a PaymentMethod id.
import { CardElement } from '@stripe/react-stripe-js';
import type { StripeCardElementChangeEvent } from '@stripe/stripe-js';
import { useState } from 'react';

const OPTIONS = {
  style: { base: { fontSize: '16px', color: '#1b1f24', '::placeholder': { color: '#8a94a3' } } },
};

export function CardInput({ onChange, disabled }: {
  onChange?: (complete: boolean) => void;
  disabled?: boolean;
}) {
  const [error, setError] = useState<string | null>(null);
  const change = (e: StripeCardElementChangeEvent) => {
    setError(e.error?.message ?? null);
    onChange?.(e.complete);
  };
  return (
    <div className="card-input">
      <div className="card-field" data-testid="card-element">
        <CardElement options={{ ...OPTIONS, disabled: Boolean(disabled) }} onChange={change} />
      </div>
      {error ? <p className="field-error" role="alert">{error}</p> : null}
    </div>
  );
}
