// Canceling with a reason: Stripe's feedback values and the customer's own words, both
// optional, sent with the cancel (cancellation_details) and shown to admins.
import { useState } from 'react';
import type { CancellationReason } from '../graphql/generated/graphql';
import type { ApiError } from '../graphql/client';
import { Dialog } from './Dialog';
import { ErrorMessage } from './ErrorMessage';

const REASONS: [CancellationReason, string][] = [
  ['TOO_EXPENSIVE', 'It is too expensive'],
  ['MISSING_FEATURES', 'Features are missing'],
  ['SWITCHED_SERVICE', 'I switched to another service'],
  ['UNUSED', 'I do not use it enough'],
  ['TOO_COMPLEX', 'It is too hard to use'],
  ['LOW_QUALITY', 'The quality is not what I expected'],
  ['CUSTOMER_SERVICE', 'Customer service'],
  ['OTHER', 'Something else'],
];

export function CancelDialog({ endsOn, busy, error, onCancel, onClose }: {
  endsOn: string;
  busy: boolean;
  error: ApiError | null;
  onCancel: (reason: CancellationReason | null, comment: string) => void;
  onClose: () => void;
}) {
  const [reason, setReason] = useState<CancellationReason | ''>('');
  const [comment, setComment] = useState('');
  return (
    <Dialog title="Cancel subscription" onClose={onClose}>
      <p>You keep access until {endsOn}; nothing more is charged.</p>
      <label className="field">
        Why are you leaving? (optional)
        <select value={reason} onChange={(e) => setReason(e.target.value as CancellationReason | '')} disabled={busy}>
          <option value="">Prefer not to say</option>
          {REASONS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
        </select>
      </label>
      <label className="field">
        Anything we should know? (optional)
        <textarea value={comment} maxLength={1000} rows={3} onChange={(e) => setComment(e.target.value)} disabled={busy} />
      </label>
      <ErrorMessage error={error} />
      <div className="actions">
        <button type="button" className="danger" disabled={busy} onClick={() => onCancel(reason || null, comment)}>
          {busy ? 'Canceling…' : 'Cancel at period end'}
        </button>
        <button type="button" disabled={busy} onClick={onClose}>Keep subscription</button>
      </div>
    </Dialog>
  );
}
