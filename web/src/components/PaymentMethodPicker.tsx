// Pay with a saved card or a new one. A new card is entered in Stripe's card Element.
import type { PaymentMethodsQuery } from '../graphql/generated/graphql';
import { CardInput } from './CardInput';

export type SavedCard = PaymentMethodsQuery['viewer']['paymentMethods'][number];

/** `null`: a new card; otherwise the saved card's Stripe id. */
export type CardChoice = string | null;

export function PaymentMethodPicker({ saved, choice, onChoice, onCardComplete, disabled }: {
  saved: SavedCard[];
  choice: CardChoice;
  onChoice: (choice: CardChoice) => void;
  onCardComplete: (complete: boolean) => void;
  disabled: boolean;
}) {
  return (
    <fieldset className="payment-method" disabled={disabled}>
      <legend>Pay with</legend>
      {saved.map((card) => (
        <label key={card.id} className="choice">
          <input
            type="radio"
            name="card"
            checked={choice === card.stripePaymentMethodId}
            onChange={() => onChoice(card.stripePaymentMethodId)}
          />
          {cardLabel(card)}
        </label>
      ))}
      {saved.length > 0 ? (
        <label className="choice">
          <input type="radio" name="card" checked={choice === null} onChange={() => onChoice(null)} />
          A new card
        </label>
      ) : null}
      {choice === null ? <CardInput onChange={onCardComplete} disabled={disabled} /> : null}
    </fieldset>
  );
}

export function cardLabel(card: Pick<SavedCard, 'brand' | 'last4' | 'expMonth' | 'expYear' | 'isDefault'>): string {
  const brand = card.brand ? card.brand.charAt(0).toUpperCase() + card.brand.slice(1) : 'Card';
  const expiry = card.expMonth && card.expYear ? ` · ${String(card.expMonth).padStart(2, '0')}/${card.expYear % 100}` : '';
  return `${brand} •••• ${card.last4 ?? '????'}${expiry}${card.isDefault ? ' (default)' : ''}`;
}
