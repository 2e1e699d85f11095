//! Domain logic as plain async functions over a database connection and a Stripe client, so
//! tests can call them without GraphQL. Resolvers only authorise, call these, and map results.

pub mod by_id;
pub mod catalog;
pub mod customers;
pub mod discounts;
pub mod idempotency;
pub mod invoices;
pub mod mirror;
pub mod payment_methods;
pub mod payments;
pub mod refunds;
pub mod subscriptions;
pub mod sync;

/// Most units (seats) one purchase or subscription item may have.
pub const MAX_QUANTITY: i32 = 10_000;

/// A client's quantity: 1 by default, 1 to `MAX_QUANTITY`.
pub fn quantity(value: Option<i32>) -> Result<i32, crate::error::ApiError> {
    let q = value.unwrap_or(1);
    if (1..=MAX_QUANTITY).contains(&q) {
        Ok(q)
    } else {
        Err(crate::error::ApiError::invalid_input(
            "quantity",
            format!("1 to {MAX_QUANTITY}"),
        ))
    }
}

/// For fingerprints: a quantity left at its default.
pub fn is_one_or_none(q: &Option<i32>) -> bool {
    q.is_none_or(|q| q == 1)
}
