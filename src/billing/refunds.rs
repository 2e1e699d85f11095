//! Refunds. The refundable balance is enforced by the database: a refund first reserves its
//! amount with one conditional UPDATE (`amount_refunded + refund_reserved + x <= amount`), so
//! two concurrent refunds can never both pass, on SQLite or PostgreSQL, in one process or many.
//! Only then is Stripe asked; its answer turns the reservation into a refund or releases it.
//!
//! - `request`: a refund asked for through Tollgate (who may, how much, Stripe asked);
//! - `balance`: the reservation, settled into a refund or released, and the payment's status;
//! - `snapshot`: refunds Stripe reports (made here or anywhere), applied once;
//! - `reversal`: a refund that failed after it succeeded, given back to the payment.

mod balance;
mod request;
mod reversal;
mod snapshot;

use entity::refunds;
use sea_orm::{
    sea_query::{extension::postgres::PgFunc, Expr, ExprTrait, IntoCondition},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{error::ApiError, stripe::requests::refund as req};

pub use balance::settle;
/// Refund statuses as stored.
pub use entity::RefundStatus;
pub use request::{refund_payment, RefundRequest};
pub use reversal::reverse;
pub use snapshot::{apply_snapshot, record_external};

/// Why a refund is made (Stripe's reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Duplicate => "duplicate",
            Reason::Fraudulent => "fraudulent",
            Reason::RequestedByCustomer => "requested_by_customer",
        }
    }

    fn to_stripe(self) -> req::CreateRefundReason {
        match self {
            Reason::Duplicate => req::CreateRefundReason::Duplicate,
            Reason::Fraudulent => req::CreateRefundReason::Fraudulent,
            Reason::RequestedByCustomer => req::CreateRefundReason::RequestedByCustomer,
        }
    }
}

/// Refunds of several payments in one query (for the GraphQL loader), oldest first.
pub async fn for_payments(
    db: &impl ConnectionTrait,
    payment_ids: &[Uuid],
) -> Result<Vec<refunds::Model>, ApiError> {
    if payment_ids.is_empty() {
        return Ok(vec![]);
    }
    // PostgreSQL: one array parameter, `= ANY($1)`, so the statement text is the same for any
    // page size and its cached generic plan uses `refunds_payment_id_idx`. An `IN ($1 … $50)`
    // list was planned per execution as a sequential scan of the table.
    let by_payment = match db.get_database_backend() {
        DbBackend::Postgres => Expr::col(refunds::Column::PaymentId)
            .eq(PgFunc::any(Expr::val(payment_ids.to_vec())))
            .into_condition(),
        _ => refunds::Column::PaymentId
            .is_in(payment_ids.iter().copied())
            .into_condition(),
    };
    Ok(refunds::Entity::find()
        .filter(by_payment)
        .order_by_asc(refunds::Column::CreatedAt)
        .all(db)
        .await?)
}
