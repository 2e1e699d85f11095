//! A refund that failed after it succeeded (Stripe reports `failed` or `canceled` later): its
//! amount counts as paid again, once, and the payment's status follows.

use chrono::{DateTime, Utc};
use entity::{payments as payment_rows, refunds};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession, TransactionTrait,
};

use crate::{error::ApiError, stripe::objects};

use super::{balance::recompute_status, RefundStatus};

/// A refund that had succeeded and then failed or was canceled at Stripe (refunds to closed
/// cards fail days later): its amount is no longer refunded, and the payment's status follows.
/// Returns whether anything changed (an older or repeated snapshot changes nothing).
#[tracing::instrument(name = "db.transaction", skip_all, fields(otel.name = "transaction refund reversal", otel.kind = "client"))]
pub async fn reverse<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    row: &refunds::Model,
    refund: &objects::Refund,
    snapshot: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let new_status = match refund.status {
        Some(objects::RefundStatus::Failed) => RefundStatus::Failed,
        Some(objects::RefundStatus::Canceled) => RefundStatus::Canceled,
        _ => return Ok(false),
    };
    if row.status != RefundStatus::Succeeded || row.snapshot_at > snapshot {
        return Ok(false);
    }
    let txn = crate::db::begin(db).await?;
    let moved = refunds::Entity::update_many()
        .col_expr(refunds::Column::Status, Expr::value(new_status))
        .col_expr(
            refunds::Column::FailureReason,
            Expr::value(refund.failure_reason.clone()),
        )
        .col_expr(refunds::Column::SnapshotAt, Expr::value(snapshot))
        .col_expr(refunds::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(refunds::Column::Id.eq(row.id))
        .filter(refunds::Column::Status.eq(RefundStatus::Succeeded))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 1 {
        payment_rows::Entity::update_many()
            .col_expr(
                payment_rows::Column::AmountRefunded,
                Expr::col(payment_rows::Column::AmountRefunded).sub(row.amount),
            )
            .col_expr(payment_rows::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(payment_rows::Column::Id.eq(row.payment_id))
            .exec(&txn)
            .await?;
        recompute_status(&txn, row.payment_id).await?;
    }
    txn.commit().await?;
    Ok(moved.rows_affected == 1)
}
