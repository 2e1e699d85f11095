//! Domain logic as plain async functions over a database connection and a Stripe client, so
//! tests can call them without GraphQL. Resolvers only authorise, call these, and map results.

pub mod by_id;
pub mod catalog;
pub mod customers;
pub mod idempotency;
pub mod payment_methods;
pub mod payments;
pub mod refunds;
pub mod subscriptions;
pub mod sync;
