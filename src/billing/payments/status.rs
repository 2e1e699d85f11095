//! The rules of a payment's status: what Stripe's PaymentIntent status means here, what a new
//! snapshot may change (final states are never walked back), and what may still be confirmed.

use crate::stripe::objects;

pub use entity::PaymentStatus;

/// The SPA or the server may still confirm these.
pub const CONFIRMABLE: [PaymentStatus; 3] = [
    PaymentStatus::Pending,
    PaymentStatus::Failed,
    PaymentStatus::RequiresAction,
];

/// Stripe's PaymentIntent status in Tollgate's terms.
pub(super) fn status_of(pi: &objects::PaymentIntent) -> PaymentStatus {
    use objects::PaymentIntentStatus as S;
    match &pi.status {
        S::Succeeded => PaymentStatus::Succeeded,
        S::Canceled => PaymentStatus::Canceled,
        S::Processing | S::RequiresCapture => PaymentStatus::Processing,
        S::RequiresAction => PaymentStatus::RequiresAction,
        // A failed attempt leaves the intent waiting for another payment method.
        S::RequiresPaymentMethod if pi.last_payment_error.is_some() => PaymentStatus::Failed,
        S::RequiresPaymentMethod | S::RequiresConfirmation | S::Other(_) => PaymentStatus::Pending,
    }
}

/// The status after applying `incoming` to a row in `current`. Final states are never walked
/// back: a stale `processing` cannot undo `succeeded`, nothing undoes `canceled`, and refund
/// states follow the refunded amount, which only grows.
pub fn next_status(
    current: PaymentStatus,
    incoming: PaymentStatus,
    amount: i64,
    amount_refunded: i64,
) -> PaymentStatus {
    let refunded = if amount_refunded > 0 && amount_refunded >= amount {
        Some(PaymentStatus::Refunded)
    } else if amount_refunded > 0 {
        Some(PaymentStatus::PartiallyRefunded)
    } else {
        None
    };
    let captured = current.is_captured() || incoming == PaymentStatus::Succeeded;
    if current == PaymentStatus::Canceled {
        PaymentStatus::Canceled
    } else if captured {
        refunded.unwrap_or(PaymentStatus::Succeeded)
    } else {
        incoming
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_are_never_walked_back() {
        use PaymentStatus::*;
        assert_eq!(next_status(Pending, Succeeded, 100, 0), Succeeded);
        assert_eq!(next_status(Succeeded, Processing, 100, 0), Succeeded);
        assert_eq!(next_status(Succeeded, Failed, 100, 0), Succeeded);
        assert_eq!(next_status(Canceled, Succeeded, 100, 0), Canceled);
        assert_eq!(next_status(Refunded, Succeeded, 100, 100), Refunded);
        assert_eq!(
            next_status(Succeeded, Succeeded, 100, 40),
            PartiallyRefunded
        );
        assert_eq!(
            next_status(PartiallyRefunded, Succeeded, 100, 100),
            Refunded
        );
        assert_eq!(
            next_status(Failed, Succeeded, 100, 0),
            Succeeded,
            "a retry can succeed"
        );
        assert_eq!(next_status(RequiresAction, Failed, 100, 0), Failed);
    }
}
