//! The refundable balance, enforced by the database: a refund reserves its amount with one
//! conditional UPDATE before Stripe is asked; Stripe's answer settles the reservation into a
//! refund or releases it; the payment's status follows what is refunded.

use chrono::{DateTime, Utc};
use entity::{payments as payment_rows, refunds};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    billing::payments::{self, PaymentStatus},
    error::ApiError,
    stripe::objects,
};

use super::{Reason, RefundStatus};

/// Reserves `amount` of the payment for a refund (refused when more than what is left) and
/// records the refund as pending, in one transaction.
#[tracing::instrument(name = "db.transaction", skip_all, fields(otel.name = "transaction refund reserve", otel.kind = "client"))]
pub(super) async fn reserve<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    viewer: &Viewer,
    payment: &payment_rows::Model,
    refund_id: Uuid,
    amount: i64,
    reason: Option<Reason>,
) -> Result<refunds::Model, ApiError> {
    let txn = crate::db::begin(db).await?;
    // The check and the reservation are one statement: concurrent refunds serialise on the row.
    let reserved = payment_rows::Entity::update_many()
        .col_expr(
            payment_rows::Column::RefundReserved,
            Expr::col(payment_rows::Column::RefundReserved).add(amount),
        )
        .col_expr(payment_rows::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment_rows::Column::Id.eq(payment.id))
        .filter(payment_rows::Column::Status.is_in(PaymentStatus::CAPTURED))
        .filter(
            Expr::col(payment_rows::Column::AmountRefunded)
                .add(Expr::col(payment_rows::Column::RefundReserved))
                .add(amount)
                .lte(Expr::col(payment_rows::Column::Amount)),
        )
        .exec(&txn)
        .await?;
    if reserved.rows_affected == 0 {
        txn.rollback().await?;
        let now = payments::find(db, payment.id).await?;
        return Err(if now.status.is_captured() {
            ApiError::RefundExceedsPayment {
                remaining: Ord::max(now.amount - now.amount_refunded - now.refund_reserved, 0),
            }
        } else {
            ApiError::NotRefundable(format!("the payment is {}", now.status))
        });
    }
    let at = Utc::now();
    let row = refunds::ActiveModel {
        id: Set(refund_id),
        payment_id: Set(payment.id),
        stripe_refund_id: Set(None),
        amount: Set(amount),
        currency: Set(payment.currency.clone()),
        reason: Set(reason.map(|r| r.as_str().to_string())),
        status: Set(RefundStatus::Pending),
        failure_reason: Set(None),
        requested_by: Set(Some(viewer.user_id.clone())),
        snapshot_at: Set(DateTime::UNIX_EPOCH),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let inserted = refunds::Entity::insert(row)
        .exec_with_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(inserted)
}

/// Applies Stripe's answer for a refund Tollgate reserved. Idempotent: only the first
/// settlement of a pending refund moves money on the payment.
#[tracing::instrument(name = "db.transaction", skip_all, fields(otel.name = "transaction refund settle", otel.kind = "client"))]
pub async fn settle<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    refund_id: Uuid,
    answer: &objects::Refund,
    snapshot_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    use objects::RefundStatus as S;
    let new_status = match &answer.status {
        Some(S::Succeeded) => RefundStatus::Succeeded,
        Some(S::Failed) => RefundStatus::Failed,
        Some(S::Canceled) => RefundStatus::Canceled,
        Some(S::RequiresAction) => RefundStatus::RequiresAction,
        Some(S::Pending) | Some(S::Other(_)) | None => RefundStatus::Pending,
    };
    let txn = crate::db::begin(db).await?;
    let moved = refunds::Entity::update_many()
        .col_expr(
            refunds::Column::StripeRefundId,
            Expr::value(Some(answer.id.clone())),
        )
        .col_expr(refunds::Column::Status, Expr::value(new_status))
        .col_expr(
            refunds::Column::FailureReason,
            Expr::value(answer.failure_reason.clone()),
        )
        .col_expr(refunds::Column::SnapshotAt, Expr::value(snapshot_at))
        .col_expr(refunds::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(refunds::Column::Id.eq(refund_id))
        .filter(refunds::Column::Status.eq(RefundStatus::Pending))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 1 && new_status != RefundStatus::Pending {
        let refund = refunds::Entity::find_by_id(refund_id)
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("refund vanished")))?;
        let succeeded = new_status == RefundStatus::Succeeded;
        move_reservation(&txn, refund.payment_id, refund.amount, succeeded).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Marks a reserved refund failed (Stripe refused it) and frees its amount.
#[tracing::instrument(name = "db.transaction", skip_all, fields(otel.name = "transaction refund release", otel.kind = "client"))]
pub(super) async fn release<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    refund_id: Uuid,
    why: &str,
) -> Result<(), ApiError> {
    let txn = crate::db::begin(db).await?;
    let moved = refunds::Entity::update_many()
        .col_expr(refunds::Column::Status, Expr::value(RefundStatus::Failed))
        .col_expr(
            refunds::Column::FailureReason,
            Expr::value(Some(why.chars().take(500).collect::<String>())),
        )
        .col_expr(refunds::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(refunds::Column::Id.eq(refund_id))
        .filter(refunds::Column::Status.eq(RefundStatus::Pending))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 1 {
        if let Some(refund) = refunds::Entity::find_by_id(refund_id).one(&txn).await? {
            move_reservation(&txn, refund.payment_id, refund.amount, false).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Takes `amount` out of the payment's reservation: into `amount_refunded` when the refund
/// succeeded, back to the refundable balance otherwise; then recomputes the payment status.
pub(super) async fn move_reservation(
    txn: &impl ConnectionTrait,
    payment_id: Uuid,
    amount: i64,
    succeeded: bool,
) -> Result<(), ApiError> {
    let refunded_delta = if succeeded { amount } else { 0 };
    payment_rows::Entity::update_many()
        .col_expr(
            payment_rows::Column::RefundReserved,
            Expr::col(payment_rows::Column::RefundReserved).sub(amount),
        )
        .col_expr(
            payment_rows::Column::AmountRefunded,
            Expr::col(payment_rows::Column::AmountRefunded).add(refunded_delta),
        )
        .col_expr(payment_rows::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment_rows::Column::Id.eq(payment_id))
        .exec(txn)
        .await?;
    recompute_status(txn, payment_id).await
}

/// Sets a payment's status from its refunded amount (refunded, partially refunded, or back to
/// succeeded when a refund was reversed).
pub(super) async fn recompute_status(
    txn: &impl ConnectionTrait,
    payment_id: Uuid,
) -> Result<(), ApiError> {
    let payment = payments::find(txn, payment_id).await?;
    let next = payments::next_status(
        payment.status,
        payment.status,
        payment.amount,
        payment.amount_refunded,
    );
    if next != payment.status {
        payment_rows::Entity::update_many()
            .col_expr(payment_rows::Column::Status, Expr::value(next))
            .filter(payment_rows::Column::Id.eq(payment_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}
