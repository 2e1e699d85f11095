//! Refunds Stripe reports (made through Tollgate or anywhere else: the dashboard, another
//! integration), applied once each, the newest snapshot winning.

use chrono::{DateTime, Utc};
use entity::{payments as payment_rows, refunds};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    billing::payments::{self},
    error::ApiError,
    live::LiveEvent,
    stripe::objects,
};

use super::{balance::settle, reversal::reverse, RefundStatus};

/// Applies a refund snapshot from Stripe (a webhook or a re-fetched list): settles one Tollgate
/// reserved, reverses one that had succeeded and later failed, or records one made elsewhere
/// (the dashboard, another integration). Returns the payment to tell subscribers about, if
/// anything changed.
pub async fn apply_snapshot<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    refund: &objects::Refund,
    snapshot: DateTime<Utc>,
) -> Result<Option<LiveEvent>, ApiError> {
    let by_metadata = refund
        .metadata
        .get("tollgate_refund_id")
        .and_then(|s| Uuid::parse_str(s).ok());
    let mut local = refunds::Entity::find()
        .filter(refunds::Column::StripeRefundId.eq(&refund.id))
        .one(db)
        .await?;
    if local.is_none() {
        if let Some(id) = by_metadata {
            local = refunds::Entity::find_by_id(id).one(db).await?;
        }
    }
    let payment = match &local {
        Some(r) => Some(payments::find(db, r.payment_id).await?),
        None => match refund.payment_intent.as_ref() {
            Some(pi) => payments::find_by_intent_id(db, pi.id()).await?,
            None => None,
        },
    };
    let Some(payment) = payment else {
        return Ok(None); // not a payment Tollgate knows
    };
    let changed = match local {
        Some(row) if row.status == RefundStatus::Pending => {
            settle(db, row.id, refund, snapshot).await?;
            true
        }
        Some(row) => reverse(db, &row, refund, snapshot).await?,
        None => {
            record_external(db, &payment, refund, snapshot).await?;
            true
        }
    };
    if !changed {
        return Ok(None);
    }
    Ok(Some(LiveEvent::payment(&payment)))
}

/// A refund made outside Tollgate: recorded like a reserved refund, then settled by the same
/// path that moves money for Tollgate's own. One larger than what the local copy says is left
/// to refund cannot be applied (the local view is wrong, or the event is): refused with
/// `RefundExceedsPayment` rather than breaking the balance.
pub async fn record_external<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    payment: &payment_rows::Model,
    refund: &objects::Refund,
    snapshot: DateTime<Utc>,
) -> Result<(), ApiError> {
    let remaining = payment.amount - payment.amount_refunded - payment.refund_reserved;
    if refund.amount <= 0 || refund.amount > remaining {
        return Err(ApiError::RefundExceedsPayment {
            remaining: Ord::max(remaining, 0),
        });
    }
    let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, refund.id.as_bytes());
    let at = Utc::now();
    let row = refunds::ActiveModel {
        id: Set(id),
        payment_id: Set(payment.id),
        stripe_refund_id: Set(None),
        amount: Set(refund.amount),
        currency: Set(refund.currency.to_ascii_lowercase()),
        reason: Set(refund.reason.clone()),
        status: Set(RefundStatus::Pending),
        failure_reason: Set(None),
        requested_by: Set(None),
        snapshot_at: Set(DateTime::UNIX_EPOCH),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let inserted = refunds::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(refunds::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        payment_rows::Entity::update_many()
            .col_expr(
                payment_rows::Column::RefundReserved,
                Expr::col(payment_rows::Column::RefundReserved).add(refund.amount),
            )
            .filter(payment_rows::Column::Id.eq(payment.id))
            .exec(db)
            .await?;
    }
    settle(db, id, refund, snapshot).await
}
