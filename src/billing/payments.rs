//! Payments: PaymentIntents created, confirmed and canceled through Tollgate, and the local
//! projection of every PaymentIntent Stripe tells us about. Where each rule lives:
//!
//! - `status`: what Stripe's status means here, what a new snapshot may change, what may still
//!   be confirmed;
//! - `checkout`: creating, confirming and canceling a payment (validation, idempotency, an
//!   answer that never came);
//! - `projection`: a PaymentIntent snapshot applied to its row; the card and dispute other
//!   events add;
//! - `renewals`: a subscription's first charge and each renewal, one payment each;
//! - `lookup`: a payment by id, for a viewer, or by its PaymentIntent;
//! - `history`: the history page (filters, cursor, one statement with refunds joined), with
//!   `history/rows` reading its rows by position;
//! - `revenue`: captured, refunded and disputed money per currency.

mod checkout;
pub mod history;
mod lookup;
mod projection;
mod renewals;
mod revenue;
mod status;

pub use checkout::{
    cancel_payment, check_payment_method, confirm_payment, create_payment_intent, IntentOutcome,
    NewPayment,
};
pub use entity::DisputeStatus;
pub use history::{
    count, list, Columns, Cursor, Page, PaymentFilter, PaymentRow, PaymentSummary, SUMMARY_COLUMNS,
};
pub use lookup::{find, find_by_intent_id, find_for_viewer};
pub use projection::{
    apply_dispute, apply_intent, find_for_intent, lacks_card, origin_from_customer,
    payment_id_for_intent, record_card, record_receipt, retrieve_intent, Origin,
};
pub use renewals::{link_invoice, record_invoice_discount, record_subscription_charge};
pub use revenue::{revenue, RevenueLine};
pub use status::{next_status, PaymentStatus, CONFIRMABLE};
