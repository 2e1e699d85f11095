//! Refunds. The refundable balance is enforced by the database: a refund first reserves its
//! amount with one conditional UPDATE (`amount_refunded + refund_reserved + x <= amount`), so
//! two concurrent refunds can never both pass, on SQLite or PostgreSQL, in one process or many.
//! Only then is Stripe asked; its answer turns the reservation into a refund or releases it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{payments as payment_rows, refunds};
use sea_orm::{
    sea_query::{extension::postgres::PgFunc, Expr, ExprTrait, IntoCondition},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    billing::{
        idempotency,
        payments::{self, PaymentStatus},
    },
    error::ApiError,
    live::{Changed, LiveEvent},
    money::{Currency, Money},
    stripe::{objects, requests::refund as req, StripeClient, StripeError},
};

/// Refund statuses as stored.
pub use entity::RefundStatus;

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

#[derive(Debug, Clone, Serialize)]
pub struct RefundRequest {
    pub payment_id: String,
    /// Decimal amount in the payment's currency; the whole remaining amount when absent.
    pub amount: Option<String>,
    pub reason: Option<Reason>,
}

/// Who may refund: admins always; a payment's owner only within the configured window after
/// the payment (None: never). Everyone else does not see the payment at all.
fn authorise(
    viewer: &Viewer,
    payment: &payment_rows::Model,
    owner_window: Option<Duration>,
) -> Result<(), ApiError> {
    if viewer.is_admin() {
        return Ok(());
    }
    if payment.user_id != viewer.user_id {
        return Err(ApiError::NotFound("payment"));
    }
    let within = owner_window.is_some_and(|w| {
        chrono::Duration::from_std(w).is_ok_and(|w| Utc::now() - payment.created_at <= w)
    });
    if within {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

pub async fn refund_payment<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    stripe: &StripeClient,
    viewer: &Viewer,
    owner_window: Option<Duration>,
    request: RefundRequest,
    idempotency_key: Option<&str>,
) -> Result<Changed<refunds::Model>, ApiError> {
    let scope = idempotency::scope(&viewer.user_id, idempotency_key, "refundPayment", &request)?;
    let refund_id = idempotency::run(db, scope.as_ref(), || async {
        let payment = payments::find_for_viewer(db, viewer, &request.payment_id).await?;
        authorise(viewer, &payment, owner_window)?;
        let Some(pi) = payment.stripe_payment_intent_id.clone() else {
            return Err(ApiError::NotRefundable(
                "the payment has not been made".into(),
            ));
        };
        let key = idempotency::stripe_key(scope.as_ref(), "refund")?;
        let refund_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_str().as_bytes());
        let refund = match refunds::Entity::find_by_id(refund_id).one(db).await? {
            // A retry of a refund whose outcome was unknown: ask Stripe again, same key.
            Some(existing) if existing.status == RefundStatus::Pending => existing,
            Some(settled) => return Ok(settled.id),
            None => reserve(db, viewer, &payment, refund_id, &request).await?,
        };
        ask_stripe(db, stripe, &refund, pi, request.reason, &key).await
    })
    .await?;
    let refund = refunds::Entity::find_by_id(refund_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("refund row missing")))?;
    let payment = payments::find(db, refund.payment_id).await?;
    Ok(Changed::new(refund, vec![LiveEvent::payment(&payment)]))
}

/// Reserves the refund's amount on the payment and records the refund as pending, in one
/// transaction.
/// The amount a refund request asks for, checked against the local view (the database checks
/// again under its lock): the whole remainder when no amount is given.
fn refund_amount(payment: &payment_rows::Model, request: &RefundRequest) -> Result<i64, ApiError> {
    if !payment.status.is_captured() {
        return Err(ApiError::NotRefundable(format!(
            "only succeeded payments can be refunded (this one is {})",
            payment.status
        )));
    }
    let remaining = payment.amount - payment.amount_refunded - payment.refund_reserved;
    let amount = match &request.amount {
        None => remaining,
        Some(a) => Money::parse_chargeable(a, &Currency::from_stored(&payment.currency))
            .map_err(|e| ApiError::money("amount", e))?
            .minor_units(),
    };
    if amount <= 0 || amount > remaining {
        return Err(ApiError::RefundExceedsPayment {
            remaining: Ord::max(remaining, 0),
        });
    }
    Ok(amount)
}

/// Sends a reserved refund to Stripe and settles it with the answer. An unknown outcome keeps
/// the reservation (Stripe may have refunded; the webhook or a retry with the same key settles
/// it); a refusal releases it.
async fn ask_stripe<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    stripe: &StripeClient,
    refund: &refunds::Model,
    payment_intent: String,
    reason: Option<Reason>,
    key: &crate::stripe::IdempotencyKey,
) -> Result<Uuid, ApiError> {
    let mut call = req::CreateRefund::new()
        .payment_intent(payment_intent)
        .amount(refund.amount)
        .metadata(std::collections::HashMap::from([(
            "tollgate_refund_id".to_string(),
            refund.id.to_string(),
        )]));
    if let Some(r) = reason {
        call = call.reason(r.to_stripe());
    }
    match stripe.send::<objects::Refund>(&call, Some(key)).await {
        Ok(answer) => {
            settle(db, refund.id, &answer, Utc::now()).await?;
            Ok(refund.id)
        }
        Err(e) if e.outcome_unknown() => Err(e.into()),
        Err(e) => {
            release(db, refund.id, &e.to_string()).await?;
            Err(match e {
                StripeError::InvalidRequest { error, .. } => ApiError::NotRefundable(
                    error
                        .message
                        .unwrap_or_else(|| "Stripe refused the refund".into()),
                ),
                other => other.into(),
            })
        }
    }
}

async fn reserve<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    viewer: &Viewer,
    payment: &payment_rows::Model,
    refund_id: Uuid,
    request: &RefundRequest,
) -> Result<refunds::Model, ApiError> {
    let amount = refund_amount(payment, request)?;
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
        reason: Set(request.reason.map(|r| r.as_str().to_string())),
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
async fn release<C: ConnectionTrait + TransactionTrait>(
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

/// A refund that had succeeded and then failed or was canceled at Stripe (refunds to closed
/// cards fail days later): its amount is no longer refunded, and the payment's status follows.
/// Returns whether anything changed (an older or repeated snapshot changes nothing).
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

/// Takes `amount` out of the payment's reservation: into `amount_refunded` when the refund
/// succeeded, back to the refundable balance otherwise; then recomputes the payment status.
async fn move_reservation(
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
async fn recompute_status(txn: &impl ConnectionTrait, payment_id: Uuid) -> Result<(), ApiError> {
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
