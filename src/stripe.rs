//! The only code that talks to Stripe. Requests are built with async-stripe's typed builders
//! and sent by our own transport (`client`); answers are read by tolerant readers (`objects`);
//! failures are classified in `error`.

pub mod client;
pub mod error;
pub mod ids;
pub mod objects;

pub use client::{IdempotencyKey, StripeClient};
pub use error::StripeError;

/// async-stripe's request builders, by resource.
pub mod requests {
    pub use stripe_billing::{invoice, invoice_line_item, subscription};
    pub use stripe_core::{customer, payment_intent, refund, setup_intent};
    pub use stripe_payment::payment_method;
    pub use stripe_product::{coupon, price, product, promotion_code};
}
