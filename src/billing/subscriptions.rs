//! Subscriptions: created, canceled, resumed and re-priced through Tollgate, and the local
//! projection of every subscription Stripe tells us about.
//!
//! - `create`: subscribing (trial rules, the card saved first, a declined first charge undone);
//! - `projection`: a Stripe subscription snapshot applied to its row, newest winning;
//! - `lookup`: a subscription by id, for a viewer, by its owner, listed;
//! - `changes`: cancel (with the customer's reason), resume, and a change of price;
//! - `claims`: one live subscription per product, under concurrency too;
//! - `quotes`: a plan change quoted at a fixed proration date (`previewSubscriptionChange`);
//! - `commit`: a quote applied at exactly its price, or refused as stale or expired;
//! - `revenue`: monthly recurring revenue.
//!
//! A subscription's charges become payments through `billing::payments`
//! (`record_subscription_charge`), for the first charge and every renewal alike.

mod changes;
pub mod claims;
mod commit;
mod create;
mod lookup;
mod projection;
mod quotes;
mod revenue;

pub use changes::{cancel, change_price, resume, CancelReason, Cancellation, MAX_CANCEL_COMMENT};
pub use commit::change_subscription;
pub use create::{
    create_subscription, recurring_price, NewSubscription, SubscriptionOutcome, MAX_TRIAL_DAYS,
};
pub use entity::SubscriptionStatus;
pub use lookup::{find, find_for_viewer, list};
pub use projection::{apply, find_by_stripe_id, status_of};
pub use quotes::{find_quote, preview_change, ChangeRequest, QUOTE_TTL};
pub use revenue::mrr;
