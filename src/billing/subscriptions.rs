//! Subscriptions: created, canceled, resumed and re-priced through Tollgate, and the local
//! projection of every subscription Stripe tells us about.
//!
//! - `create`: subscribing (trial rules, the card saved first, a declined first charge undone);
//! - `projection`: a Stripe subscription snapshot applied to its row, newest winning;
//! - `lookup`: a subscription by id, for a viewer, by its owner, listed;
//! - `changes`: cancel, resume, and a change of price;
//! - `revenue`: monthly recurring revenue.
//!
//! A subscription's charges become payments through `billing::payments`
//! (`record_subscription_charge`), for the first charge and every renewal alike.

mod changes;
mod create;
mod lookup;
mod projection;
mod revenue;

pub use changes::{cancel, change_price, resume};
pub use create::{create_subscription, NewSubscription, SubscriptionOutcome, MAX_TRIAL_DAYS};
pub use entity::SubscriptionStatus;
pub use lookup::{find, find_for_viewer, list};
pub use projection::{apply, find_by_stripe_id, status_of};
pub use revenue::mrr;
