//! A refund asked for through Tollgate: who may refund (admins; owners within a window), how
//! much is left, Stripe asked under the client's idempotency key once the amount is reserved.

use std::time::Duration;

use chrono::Utc;
use entity::{payments as payment_rows, refunds};
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    billing::{
        idempotency,
        payments::{self},
    },
    error::ApiError,
    live::{Changed, LiveEvent},
    money::{Currency, Money},
    stripe::{objects, requests::refund as req, StripeClient, StripeError},
};

use super::{balance::release, balance::reserve, balance::settle, Reason, RefundStatus};

#[derive(Debug, Clone, Serialize)]
pub struct RefundRequest {
    pub payment_id: String,
    /// Decimal amount in the payment's currency; the whole remaining amount when absent.
    pub amount: Option<String>,
    pub reason: Option<Reason>,
}

/// Who may refund: admins always; a payment's owner only within the configured window after
/// the payment (None: never). Everyone else does not see the payment at all.
pub(super) fn authorise(
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
            None => {
                let amount = refund_amount(&payment, &request)?;
                reserve(db, viewer, &payment, refund_id, amount, request.reason).await?
            }
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
pub(super) fn refund_amount(
    payment: &payment_rows::Model,
    request: &RefundRequest,
) -> Result<i64, ApiError> {
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
pub(super) async fn ask_stripe<C: ConnectionTrait + TransactionTrait>(
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
