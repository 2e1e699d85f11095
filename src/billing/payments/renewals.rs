//! A subscription's charges as payments: its first charge (the answer to `createSubscription`)
//! and every renewal (any of the renewal's events, in any order) each become exactly one
//! payment, linked to the subscription and the invoice it paid.

use chrono::{DateTime, Utc};
use entity::payments;
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::projection::{apply_intent, payment_id_for_intent, Origin};
use crate::{error::ApiError, stripe::objects};

/// One charge of a subscription (its first, or a renewal) recorded as one payment linked to
/// the subscription and the invoice it paid, however it arrives: the answer to
/// `createSubscription`, or any of a renewal's events in any order (whichever comes first
/// creates the row; the others link it or change nothing).
pub async fn record_subscription_charge(
    db: &impl ConnectionTrait,
    pi: &objects::PaymentIntent,
    customer: &entity::customers::Model,
    subscription: &entity::subscriptions::Model,
    stripe_invoice_id: Option<&str>,
    snapshot_at: DateTime<Utc>,
) -> Result<payments::Model, ApiError> {
    let origin = Origin {
        payment_id: payment_id_for_intent(&pi.id),
        user_id: customer.user_id.clone(),
        customer_id: Some(customer.id),
        price_id: subscription.price_id,
        subscription_id: Some(subscription.id),
        stripe_invoice_id: stripe_invoice_id.map(str::to_owned),
        stripe_idempotency_key: None,
        quantity: None,
    };
    let payment = apply_intent(db, pi, snapshot_at, Some(&origin)).await?;
    if let Some(invoice) = stripe_invoice_id {
        link_invoice(db, payment.id, subscription, invoice).await?;
    }
    Ok(payment)
}

/// Ties a payment to the subscription and invoice it paid (a renewal first seen as a bare
/// PaymentIntent). Never moves a payment from one subscription to another.
pub async fn link_invoice(
    db: &impl ConnectionTrait,
    payment_id: Uuid,
    subscription: &entity::subscriptions::Model,
    stripe_invoice_id: &str,
) -> Result<(), ApiError> {
    payments::Entity::update_many()
        .col_expr(
            payments::Column::SubscriptionId,
            Expr::value(Some(subscription.id)),
        )
        .col_expr(
            payments::Column::PriceId,
            Expr::value(subscription.price_id),
        )
        .col_expr(
            payments::Column::StripeInvoiceId,
            Expr::value(Some(stripe_invoice_id.to_owned())),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment_id))
        .filter(payments::Column::SubscriptionId.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// What coupons took off the payments of an invoice (its `total_discount_amounts`), for the
/// revenue report's `discounts`.
pub async fn record_invoice_discount(
    db: &impl ConnectionTrait,
    stripe_invoice_id: &str,
    amount: i64,
) -> Result<(), ApiError> {
    payments::Entity::update_many()
        .col_expr(payments::Column::DiscountAmount, Expr::value(amount.max(0)))
        .filter(payments::Column::StripeInvoiceId.eq(stripe_invoice_id))
        .exec(db)
        .await?;
    Ok(())
}
