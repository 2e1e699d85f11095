// Saved cards: add one through a SetupIntent (the gateway creates it, Stripe.js confirms it
// with the card — with 3-D Secure when the bank asks — and the gateway saves the result), make
// one the default, remove one.
import { CardElement, useElements, useStripe } from '@stripe/react-stripe-js';
import { useState } from 'react';
import { CardInput } from '../components/CardInput';
import { ErrorMessage } from '../components/ErrorMessage';
import { cardLabel } from '../components/PaymentMethodPicker';
import { ApiError } from '../graphql/client';
import { asApiError, useClient, useMutation, useQuery } from '../graphql/hooks';
import {
  AttachPaymentMethodMutation,
  CreateSetupIntentMutation,
  DetachPaymentMethodMutation,
  PaymentMethodsQuery,
  SetDefaultPaymentMethodMutation,
} from '../graphql/operations';

export function CardsPage({ stripeReady }: { stripeReady: boolean }) {
  const cards = useQuery(PaymentMethodsQuery, {});
  const setDefault = useMutation(SetDefaultPaymentMethodMutation);
  const detach = useMutation(DetachPaymentMethodMutation);
  const busy = setDefault.inFlight || detach.inFlight;
  const list = cards.data?.viewer.paymentMethods ?? [];

  return (
    <div className="page">
      <h1>Cards</h1>
      <ErrorMessage error={cards.error} />
      {cards.loading && !cards.data ? <p className="muted">Loading…</p> : null}
      {cards.data && list.length === 0 ? <p className="muted">No saved cards.</p> : null}
      <ul className="cards">
        {list.map((pm) => (
          <li key={pm.id} className="saved-card" data-last4={pm.last4 ?? ''}>
            <span>{cardLabel(pm)}</span>
            <span className="actions">
              {!pm.isDefault ? (
                <button
                  type="button"
                  disabled={busy}
                  onClick={async () => {
                    if (await setDefault.run({ paymentMethodId: pm.stripePaymentMethodId })) await cards.refetch();
                  }}
                >
                  Make default
                </button>
              ) : null}
              <button
                type="button"
                className="danger"
                disabled={busy}
                aria-label={`Remove ${cardLabel(pm)}`}
                onClick={async () => {
                  if (await detach.run({ paymentMethodId: pm.stripePaymentMethodId })) await cards.refetch();
                }}
              >
                Remove
              </button>
            </span>
          </li>
        ))}
      </ul>
      <ErrorMessage error={setDefault.error ?? detach.error} />
      <h2>Add a card</h2>
      {stripeReady ? (
        <AddCard onAdded={() => void cards.refetch()} />
      ) : (
        <p className="error">Cards cannot be added: this gateway has no Stripe publishable key.</p>
      )}
    </div>
  );
}

function AddCard({ onAdded }: { onAdded: () => void }) {
  const stripe = useStripe();
  const elements = useElements();
  const client = useClient();
  const [complete, setComplete] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [added, setAdded] = useState<string | null>(null);

  async function add() {
    const card = elements?.getElement(CardElement);
    if (!stripe || !card || busy) return;
    setBusy(true);
    setError(null);
    setAdded(null);
    try {
      const { createSetupIntent } = await client.request(CreateSetupIntentMutation);
      const { setupIntent, error: stripeError } = await stripe.confirmCardSetup(createSetupIntent.clientSecret, {
        payment_method: { card },
      });
      if (stripeError || !setupIntent) {
        throw new ApiError(stripeError?.message ?? 'The card was not saved.', (stripeError?.code ?? 'card_error').toUpperCase());
      }
      const pm = typeof setupIntent.payment_method === 'string' ? setupIntent.payment_method : setupIntent.payment_method?.id;
      if (!pm) throw new ApiError('Stripe did not return the saved card.', 'INTERNAL');
      // Stripe attached it to the customer; saving it here too updates the list now instead
      // of when the webhook arrives (the gateway accepts the same card twice).
      await client.request(AttachPaymentMethodMutation, { paymentMethodId: pm });
      card.clear();
      setAdded('Card saved.');
      onAdded();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="pay-form"
      onSubmit={(e) => {
        e.preventDefault();
        void add();
      }}
    >
      <CardInput onChange={setComplete} disabled={busy} />
      <button type="submit" className="primary" disabled={!complete || busy || !stripe}>
        {busy ? 'Saving…' : 'Save card'}
      </button>
      <ErrorMessage error={error} />
      {added ? <p className="success" role="status">{added}</p> : null}
    </form>
  );
}
