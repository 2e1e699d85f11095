//! Payments and refunds as clients see them: the viewer's history, admin views, and the
//! money-moving mutations.
//!
//! - `types`: `Payment`, `Refund`, their statuses and disputes;
//! - `connection`: a page as a Relay connection, and how the executor reads one;
//! - `query` and `mutation`: the root fields;
//! - `history_plan`: the history page answered without async-graphql's executor, from the
//!   field tables beside each type.

mod connection;
pub mod history_plan;
mod mutation;
mod query;
mod types;

pub use connection::{
    admin_filter, page_args, viewer_filter, PageInfo, PaymentConnection, PaymentEdge, MAX_PAGE,
};
pub use mutation::{
    ConfirmPaymentInput, CreatePaymentIntentInput, PaymentIntentPayload, PaymentsMutation,
    RefundPaymentInput,
};
pub use query::PaymentsQuery;
pub use types::{
    summary_holds, DisputeStatus, Payment, PaymentDispute, PaymentStatus, Refund, RefundReason,
    RefundStatus, RevenueLine,
};
