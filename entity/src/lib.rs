//! SeaORM entities: one file per table. These are storage shapes only; GraphQL types live in
//! `tollgate::graphql` and are built from them, so a column never becomes public API by accident.
pub mod coupons;
pub mod customers;
pub mod idempotency_keys;
pub mod invoices;
pub mod payment_methods;
pub mod payments;
pub mod prices;
pub mod products;
pub mod promotion_codes;
pub mod refunds;
pub mod side_effects;
pub mod statuses;
pub mod subscription_claims;
pub mod subscription_quotes;
pub mod subscriptions;
pub mod sync_checks;
pub mod webhook_events;

pub use statuses::{
    DisputeStatus, InvoiceStatus, PaymentStatus, PriceInterval, RefundStatus, SubscriptionStatus,
    WebhookEventStatus,
};

pub mod prelude {
    pub use super::coupons::Entity as Coupons;
    pub use super::customers::Entity as Customers;
    pub use super::idempotency_keys::Entity as IdempotencyKeys;
    pub use super::invoices::Entity as Invoices;
    pub use super::payment_methods::Entity as PaymentMethods;
    pub use super::payments::Entity as Payments;
    pub use super::prices::Entity as Prices;
    pub use super::products::Entity as Products;
    pub use super::promotion_codes::Entity as PromotionCodes;
    pub use super::refunds::Entity as Refunds;
    pub use super::side_effects::Entity as SideEffects;
    pub use super::subscription_claims::Entity as SubscriptionClaims;
    pub use super::subscription_quotes::Entity as SubscriptionQuotes;
    pub use super::subscriptions::Entity as Subscriptions;
    pub use super::sync_checks::Entity as SyncChecks;
    pub use super::webhook_events::Entity as WebhookEvents;
}
