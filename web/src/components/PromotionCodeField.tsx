// A promotion code typed by the customer and checked by the gateway (checkPromotionCode), which
// asks Stripe: the discounted amount is shown before anything is paid, or why the code does
// not apply. The code itself is sent with the purchase; the gateway checks it again then.
import { useEffect, useState } from 'react';
import type { CheckPromotionCodeQuery as CheckResult } from '../graphql/generated/graphql';
import { asApiError, useClient } from '../graphql/hooks';
import { CheckPromotionCodeQuery } from '../graphql/operations';
import { describeCoupon } from '../format';
import { ErrorMessage } from './ErrorMessage';
import type { ApiError } from '../graphql/client';

export type CodeCheck = CheckResult['checkPromotionCode'];

export function PromotionCodeField({ priceId, quantity, disabled, onApplied, onPending }: {
  priceId: string;
  quantity: number;
  disabled: boolean;
  /** The code and its check when it applies; null when there is none (or it was removed). */
  onApplied: (applied: { code: string; check: CodeCheck } | null) => void;
  /** True while a check is on its way: the amount shown is not the one to pay yet. */
  onPending: (pending: boolean) => void;
}) {
  const client = useClient();
  const [text, setText] = useState('');
  const [applied, setApplied] = useState<{ code: string; check: CodeCheck } | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [checking, setChecking] = useState(false);

  async function check(code: string) {
    setChecking(true);
    onPending(true);
    setError(null);
    setRefusal(null);
    try {
      const { checkPromotionCode: result } = await client.request(CheckPromotionCodeQuery, { code, priceId, quantity });
      if (result.valid) {
        // Stripe's spelling of the code, whatever case the customer typed.
        const next = { code: result.discount?.promotionCode ?? code, check: result };
        setApplied(next);
        onApplied(next);
      } else {
        setApplied(null);
        onApplied(null);
        setRefusal(result.message ?? 'This code cannot be used.');
      }
    } catch (err) {
      setApplied(null);
      onApplied(null);
      setError(asApiError(err));
    } finally {
      setChecking(false);
      onPending(false);
    }
  }

  // Another quantity is another amount: ask again for the code already applied.
  useEffect(() => {
    if (applied) void check(applied.code);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [quantity]);

  const coupon = applied?.check.discount?.coupon;
  return (
    <div className="promo">
      {applied ? (
        <p className="success promo-applied" role="status">
          <strong>{applied.code}</strong>: {coupon ? describeCoupon(coupon) : 'applied'} —{' '}
          {applied.check.amountAfterDiscount?.formatted} instead of {applied.check.amountBeforeDiscount.formatted}
          <button
            type="button"
            className="link"
            disabled={disabled}
            onClick={() => {
              setApplied(null);
              setText('');
              onApplied(null);
            }}
          >
            Remove
          </button>
        </p>
      ) : (
        // Not a <form>: it sits inside the checkout's form; Enter applies the code.
        <div className="promo-form">
          <label>
            Promotion code
            <input
              value={text}
              onChange={(e) => setText(e.target.value)}
              maxLength={64}
              autoCapitalize="characters"
              autoComplete="off"
              spellCheck={false}
              disabled={disabled || checking}
              onKeyDown={(e) => {
                if (e.key !== 'Enter') return;
                e.preventDefault();
                if (text.trim()) void check(text.trim());
              }}
            />
          </label>
          <button type="button" disabled={disabled || checking || text.trim() === ''} onClick={() => void check(text.trim())}>
            {checking ? 'Checking…' : 'Apply'}
          </button>
        </div>
      )}
      {refusal ? <p className="error" role="alert">{refusal}</p> : null}
      <ErrorMessage error={error} />
    </div>
  );
}
