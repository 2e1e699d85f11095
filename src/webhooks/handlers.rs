//! What each Stripe event does to the local projection. Handlers run inside the event's
//! transaction; they return the live updates to publish once it commits.
//!
//! Ordering (DESIGN.md §2): an event carries a snapshot taken at `created` (whole seconds). A
//! snapshot older than the row's is skipped; a newer one is applied; one from the same second
//! cannot be ordered from the payload alone, so the object is re-fetched from Stripe and that
//! fresh snapshot applied instead. Final states are never walked back (see `next_status`).

use chrono::{DateTime, Utc};
use entity::{payment_methods, payments, refunds, side_effects, subscriptions};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use entity::RefundStatus;

use crate::{
    billing::{
        catalog, customers, payments as payment_rules, refunds as refund_rules,
        subscriptions as subscription_rules,
    },
    error::ApiError,
    live::LiveEvent,
    stripe::{
        objects::{self, timestamp},
        requests::{
            payment_intent as pi_req, product as product_req, refund as refund_req,
            subscription as sub_req,
        },
        StripeClient,
    },
};

/// How an event ended.
#[derive(Debug, Default)]
pub struct Handled {
    /// False for event types Tollgate does not handle (stored, marked ignored).
    pub known: bool,
    pub live: Vec<LiveEvent>,
}

impl Handled {
    fn ignored() -> Self {
        Handled {
            known: false,
            live: vec![],
        }
    }

    fn done(live: Vec<LiveEvent>) -> Self {
        Handled { known: true, live }
    }
}

/// Compares an event's snapshot time with the newest one a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Newer,
    Older,
    /// Same second: the payload alone cannot say which is newer.
    Tie,
}

pub fn freshness(event_created: i64, row_snapshot: Option<DateTime<Utc>>) -> Freshness {
    match row_snapshot.map(|s| s.timestamp()) {
        None => Freshness::Newer,
        Some(row) if event_created > row => Freshness::Newer,
        Some(row) if event_created < row => Freshness::Older,
        Some(_) => Freshness::Tie,
    }
}

fn read<T: DeserializeOwned>(event: &objects::Event) -> Result<T, ApiError> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{} payload unreadable: {e}", event.kind)))
}

/// Records a side effect of `event` once; true when this call recorded it (so it should
/// happen), false when an earlier delivery already did.
pub async fn once(
    txn: &impl ConnectionTrait,
    event: &objects::Event,
    kind: &str,
    payload: serde_json::Value,
) -> Result<bool, ApiError> {
    let row = side_effects::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_event_id: Set(event.id.clone()),
        kind: Set(kind.to_string()),
        payload: Set(payload),
        created_at: Set(Utc::now()),
    };
    let inserted = side_effects::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                side_effects::Column::StripeEventId,
                side_effects::Column::Kind,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(inserted == 1)
}

/// Applies one event.
pub async fn handle(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Result<Handled, ApiError> {
    let kind = event.kind.as_str();
    match kind {
        k if k.starts_with("payment_intent.") => payment_intent(txn, stripe, event).await,
        "charge.refunded" | "charge.refund.updated" => {
            let charge: objects::Charge = read(event)?;
            match charge.payment_intent {
                Some(pi) => refunds_of(txn, stripe, event, &pi).await,
                None => Ok(Handled::done(vec![])),
            }
        }
        k if k.starts_with("refund.") => {
            let refund: objects::Refund = read(event)?;
            let snapshot = event_time(event);
            let live = apply_refund(txn, &refund, snapshot).await?;
            notify(txn, event, live).await
        }
        "charge.dispute.created" => dispute(txn, event).await,
        k if k.starts_with("customer.subscription.") => subscription(txn, stripe, event).await,
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            invoice(txn, stripe, event).await
        }
        k if k.starts_with("product.") => {
            let product: objects::Product = read(event)?;
            let product = objects::Product {
                deleted: product.deleted || k == "product.deleted",
                ..product
            };
            catalog::apply_product(txn, &product, event_time(event)).await?;
            Ok(Handled::done(vec![]))
        }
        k if k.starts_with("price.") => price(txn, stripe, event).await,
        "payment_method.attached" | "payment_method.detached" => payment_method(txn, event).await,
        _ => Ok(Handled::ignored()),
    }
}

fn event_time(event: &objects::Event) -> DateTime<Utc> {
    timestamp(event.created).unwrap_or_else(Utc::now)
}

/// Publishes each live update at most once per event (a redelivery or retry cannot repeat it).
async fn notify(
    txn: &impl ConnectionTrait,
    event: &objects::Event,
    live: Vec<LiveEvent>,
) -> Result<Handled, ApiError> {
    let mut out = vec![];
    for (i, e) in live.into_iter().enumerate() {
        let payload = serde_json::to_value(&e).map_err(ApiError::internal)?;
        if once(txn, event, &format!("live.{i}"), payload).await? {
            out.push(e);
        }
    }
    Ok(Handled::done(out))
}

async fn payment_intent(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Result<Handled, ApiError> {
    let pi: objects::PaymentIntent = read(event)?;
    let existing = payments::Entity::find()
        .filter(payments::Column::StripePaymentIntentId.eq(&pi.id))
        .one(txn)
        .await?;
    let by_metadata = match (
        &existing,
        pi.metadata
            .get("tollgate_payment_id")
            .and_then(|s| Uuid::parse_str(s).ok()),
    ) {
        (None, Some(id)) => payments::Entity::find_by_id(id).one(txn).await?,
        _ => None,
    };
    let current = existing.or(by_metadata);
    let (pi, snapshot) = match freshness(event.created, current.as_ref().map(|c| c.snapshot_at)) {
        Freshness::Older => return Ok(Handled::done(vec![])),
        Freshness::Newer => (pi, event_time(event)),
        Freshness::Tie => {
            let req = pi_req::RetrievePaymentIntent::new(pi.id.as_str()).expand(vec![
                "payment_method".to_string(),
                "latest_charge".to_string(),
            ]);
            (
                stripe.send::<objects::PaymentIntent>(&req, None).await?,
                Utc::now(),
            )
        }
    };
    let origin = match &current {
        Some(_) => None,
        // A payment Tollgate has not seen (made outside it, or `created` arrived late): it
        // belongs to the user whose customer paid.
        None => match payment_rules::origin_from_customer(txn, &pi).await? {
            Some(o) => Some(o),
            None => return Ok(Handled::done(vec![])), // not one of our customers
        },
    };
    let row = payment_rules::apply_intent(txn, &pi, snapshot, origin.as_ref()).await?;
    notify(
        txn,
        event,
        vec![LiveEvent::Payment {
            id: row.id,
            user_id: row.user_id,
        }],
    )
    .await
}

/// Reconciles every refund of a PaymentIntent with Stripe's list (refunds made in the
/// dashboard appear here too).
async fn refunds_of(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
    pi: &str,
) -> Result<Handled, ApiError> {
    let req = refund_req::ListRefund::new().payment_intent(pi).limit(100);
    let list: objects::List<objects::Refund> = stripe.send(&req, None).await?;
    let now = Utc::now();
    let mut live = vec![];
    for refund in &list.data {
        live.extend(apply_refund(txn, refund, now).await?);
    }
    live.dedup();
    notify(txn, event, live).await
}

/// Applies a refund snapshot: settles one Tollgate reserved, or records one made elsewhere.
async fn apply_refund(
    txn: &DatabaseTransaction,
    refund: &objects::Refund,
    snapshot: DateTime<Utc>,
) -> Result<Vec<LiveEvent>, ApiError> {
    let by_metadata = refund
        .metadata
        .get("tollgate_refund_id")
        .and_then(|s| Uuid::parse_str(s).ok());
    let mut local = refunds::Entity::find()
        .filter(refunds::Column::StripeRefundId.eq(&refund.id))
        .one(txn)
        .await?;
    if local.is_none() {
        if let Some(id) = by_metadata {
            local = refunds::Entity::find_by_id(id).one(txn).await?;
        }
    }
    let payment = match &local {
        Some(r) => payments::Entity::find_by_id(r.payment_id).one(txn).await?,
        None => {
            let Some(pi) = refund.payment_intent.as_ref().map(|p| p.id().to_string()) else {
                return Ok(vec![]);
            };
            payments::Entity::find()
                .filter(payments::Column::StripePaymentIntentId.eq(pi))
                .one(txn)
                .await?
        }
    };
    let Some(payment) = payment else {
        return Ok(vec![]);
    };
    match local {
        Some(row) if row.status == RefundStatus::Pending => {
            refund_rules::settle(txn, row.id, refund, snapshot).await?;
        }
        Some(row) => {
            // Settled already; a later failure of a succeeded refund gives the money back.
            let failed_now = matches!(
                refund.status,
                Some(objects::RefundStatus::Failed | objects::RefundStatus::Canceled)
            );
            if row.status == RefundStatus::Succeeded && failed_now && row.snapshot_at <= snapshot {
                refunds::Entity::update_many()
                    .col_expr(refunds::Column::Status, Expr::value(RefundStatus::Failed))
                    .col_expr(refunds::Column::SnapshotAt, Expr::value(snapshot))
                    .filter(refunds::Column::Id.eq(row.id))
                    .exec(txn)
                    .await?;
                payments::Entity::update_many()
                    .col_expr(
                        payments::Column::AmountRefunded,
                        Expr::col(payments::Column::AmountRefunded).sub(row.amount),
                    )
                    .filter(payments::Column::Id.eq(payment.id))
                    .exec(txn)
                    .await?;
            } else {
                return Ok(vec![]);
            }
        }
        None => {
            // Made outside Tollgate: record it as settled by Stripe.
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
            refunds::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(refunds::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
            // Account it like a reserved refund, then settle: the same path moves the money.
            payments::Entity::update_many()
                .col_expr(
                    payments::Column::RefundReserved,
                    Expr::col(payments::Column::RefundReserved).add(refund.amount),
                )
                .filter(payments::Column::Id.eq(payment.id))
                .exec(txn)
                .await?;
            refund_rules::settle(txn, id, refund, snapshot).await?;
        }
    }
    Ok(vec![LiveEvent::Payment {
        id: payment.id,
        user_id: payment.user_id,
    }])
}

async fn dispute(txn: &DatabaseTransaction, event: &objects::Event) -> Result<Handled, ApiError> {
    #[derive(serde::Deserialize)]
    struct Dispute {
        #[serde(default)]
        payment_intent: Option<String>,
    }
    let dispute: Dispute = read(event)?;
    let Some(pi) = dispute.payment_intent else {
        return Ok(Handled::done(vec![]));
    };
    let Some(payment) = payments::Entity::find()
        .filter(payments::Column::StripePaymentIntentId.eq(&pi))
        .one(txn)
        .await?
    else {
        return Ok(Handled::done(vec![]));
    };
    payments::Entity::update_many()
        .col_expr(payments::Column::Disputed, Expr::value(true))
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment.id))
        .exec(txn)
        .await?;
    notify(
        txn,
        event,
        vec![LiveEvent::Payment {
            id: payment.id,
            user_id: payment.user_id,
        }],
    )
    .await
}

async fn subscription(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Result<Handled, ApiError> {
    let sub: objects::Subscription = read(event)?;
    let current = subscriptions::Entity::find()
        .filter(subscriptions::Column::StripeSubscriptionId.eq(&sub.id))
        .one(txn)
        .await?;
    let (sub, snapshot) = match freshness(event.created, current.as_ref().map(|c| c.snapshot_at)) {
        Freshness::Older => return Ok(Handled::done(vec![])),
        Freshness::Newer => (sub, event_time(event)),
        Freshness::Tie => {
            let fresh: objects::Subscription = stripe
                .send(&sub_req::RetrieveSubscription::new(sub.id.as_str()), None)
                .await?;
            (fresh, Utc::now())
        }
    };
    if customers::find_by_stripe_id(txn, sub.customer.id())
        .await?
        .is_none()
    {
        return Ok(Handled::done(vec![])); // not one of our customers
    }
    let row = subscription_rules::apply(txn, &sub, snapshot, None).await?;
    if event.kind == "customer.subscription.trial_will_end" {
        // The e-mail hook: recorded once per event for whatever sends reminders.
        once(
            txn,
            event,
            "email.trial_will_end",
            serde_json::json!({"user_id": row.user_id, "subscription_id": row.id}),
        )
        .await?;
    }
    notify(
        txn,
        event,
        vec![LiveEvent::Subscription {
            id: row.id,
            user_id: row.user_id,
        }],
    )
    .await
}

/// Renewals: a paid invoice of a subscription is recorded as a payment linked to it; a failed
/// one moves the subscription along (past due) by re-reading it.
async fn invoice(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Result<Handled, ApiError> {
    let invoice: objects::Invoice = read(event)?;
    let Some(sub_id) = invoice.subscription_id() else {
        return Ok(Handled::done(vec![]));
    };
    let sub: objects::Subscription = stripe
        .send(&sub_req::RetrieveSubscription::new(sub_id.as_str()), None)
        .await?;
    let Some(customer) = customers::find_by_stripe_id(txn, sub.customer.id()).await? else {
        return Ok(Handled::done(vec![]));
    };
    let row = subscription_rules::apply(txn, &sub, Utc::now(), Some(&customer)).await?;
    let mut live = vec![LiveEvent::Subscription {
        id: row.id,
        user_id: row.user_id.clone(),
    }];
    if event.kind != "invoice.payment_failed" {
        if let Some(pi_id) = invoice.payment_intent.as_ref().map(|p| p.id().to_string()) {
            let req = pi_req::RetrievePaymentIntent::new(pi_id.as_str()).expand(vec![
                "payment_method".to_string(),
                "latest_charge".to_string(),
            ]);
            let pi: objects::PaymentIntent = stripe.send(&req, None).await?;
            let origin = payment_rules::Origin {
                payment_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, pi.id.as_bytes()),
                user_id: customer.user_id.clone(),
                customer_id: Some(customer.id),
                price_id: row.price_id,
                subscription_id: Some(row.id),
                stripe_invoice_id: Some(invoice.id.clone()),
                stripe_idempotency_key: None,
            };
            let existing = payments::Entity::find()
                .filter(payments::Column::StripePaymentIntentId.eq(&pi.id))
                .one(txn)
                .await?;
            let payment = payment_rules::apply_intent(
                txn,
                &pi,
                Utc::now(),
                existing.is_none().then_some(&origin),
            )
            .await?;
            if payment.subscription_id.is_none() {
                payments::Entity::update_many()
                    .col_expr(payments::Column::SubscriptionId, Expr::value(Some(row.id)))
                    .col_expr(
                        payments::Column::StripeInvoiceId,
                        Expr::value(Some(invoice.id.clone())),
                    )
                    .filter(payments::Column::Id.eq(payment.id))
                    .exec(txn)
                    .await?;
            }
            live.push(LiveEvent::Payment {
                id: payment.id,
                user_id: payment.user_id,
            });
        }
    }
    notify(txn, event, live).await
}

async fn price(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Result<Handled, ApiError> {
    let price: objects::Price = read(event)?;
    let price = objects::Price {
        deleted: price.deleted || event.kind == "price.deleted",
        ..price
    };
    let product_id = match catalog_product(txn, price.product.id()).await? {
        Some(id) => id,
        None => {
            // `price.created` can arrive before `product.created`: fetch the product first.
            let product: objects::Product = stripe
                .send(&product_req::RetrieveProduct::new(price.product.id()), None)
                .await?;
            catalog::apply_product(txn, &product, Utc::now())
                .await?
                .0
                .id
        }
    };
    catalog::apply_price(txn, &price, product_id, event_time(event)).await?;
    Ok(Handled::done(vec![]))
}

async fn catalog_product(
    txn: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<Uuid>, ApiError> {
    Ok(entity::products::Entity::find()
        .filter(entity::products::Column::StripeProductId.eq(stripe_id))
        .one(txn)
        .await?
        .map(|p| p.id))
}

async fn payment_method(
    txn: &DatabaseTransaction,
    event: &objects::Event,
) -> Result<Handled, ApiError> {
    let pm: objects::PaymentMethod = read(event)?;
    if event.kind == "payment_method.detached" {
        payment_methods::Entity::delete_many()
            .filter(payment_methods::Column::StripePaymentMethodId.eq(&pm.id))
            .exec(txn)
            .await?;
        return Ok(Handled::done(vec![]));
    }
    let Some(customer_id) = pm.customer.as_ref().map(|c| c.id().to_string()) else {
        return Ok(Handled::done(vec![]));
    };
    if let Some(customer) = customers::find_by_stripe_id(txn, &customer_id).await? {
        crate::billing::payment_methods::apply(txn, &customer, &pm).await?;
    }
    Ok(Handled::done(vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_rules() {
        let row = timestamp(1_000).expect("ts");
        assert_eq!(freshness(999, Some(row)), Freshness::Older);
        assert_eq!(freshness(1_001, Some(row)), Freshness::Newer);
        assert_eq!(freshness(1_000, Some(row)), Freshness::Tie);
        assert_eq!(freshness(5, None), Freshness::Newer);
    }
}
