//! What each Stripe event does to the local projection. Handlers decode, route and collect live
//! updates; every domain write goes through `billing`, so a rule has one home. They run inside
//! the event's transaction and return the live updates to publish once it commits.
//!
//! Ordering (DESIGN.md §2): an event carries a snapshot taken at `created` (whole seconds). A
//! snapshot older than the row's is skipped; a newer one is applied; one from the same second
//! cannot be ordered from the payload alone, so the object is re-fetched from Stripe and that
//! fresh snapshot applied instead. Final states are never walked back (see `next_status`).

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::de::DeserializeOwned;

use super::store;
use crate::{
    billing::{
        catalog, customers, discounts, invoices as invoice_rules, payment_methods,
        payments as payment_rules, refunds as refund_rules, subscriptions as subscription_rules,
    },
    error::ApiError,
    live::LiveEvent,
    stripe::{
        objects::{self, timestamp},
        requests::{product as product_req, refund as refund_req, subscription as sub_req},
        StripeClient,
    },
};

/// Why an event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// It cannot be applied as it is (a shape Tollgate does not read, money that does not add
    /// up): parked at once as failed, with this reason, for an admin to look at.
    #[error("{0}")]
    Unapplicable(String),
    /// Anything else (the database, Stripe unreachable): retried with backoff.
    #[error("{}", .0.operator_detail())]
    Transient(ApiError),
}

impl From<ApiError> for HandleError {
    /// Stripe refusing a request as invalid will refuse it again: the event is parked at once,
    /// with what Stripe said and, for a 404, which object it does not have.
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::StripeRefused {
                missing: Some(object),
                detail,
                ..
            } => HandleError::Unapplicable(format!("Stripe has no {object} ({detail})")),
            ApiError::StripeRefused { detail, .. } => HandleError::Unapplicable(detail),
            other => HandleError::Transient(other),
        }
    }
}

impl From<sea_orm::DbErr> for HandleError {
    fn from(e: sea_orm::DbErr) -> Self {
        HandleError::Transient(e.into())
    }
}

impl From<crate::stripe::StripeError> for HandleError {
    fn from(e: crate::stripe::StripeError) -> Self {
        ApiError::from(e).into()
    }
}

type Outcome = Result<Handled, HandleError>;

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

/// The event's object as `T`; a shape Tollgate cannot read is unapplicable, not a retry.
fn read<T: DeserializeOwned>(event: &objects::Event) -> Result<T, HandleError> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|e| HandleError::Unapplicable(format!("{} payload unreadable: {e}", event.kind)))
}

/// Applies one event.
pub async fn handle(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let kind = event.kind.as_str();
    match kind {
        k if k.starts_with("payment_intent.") => payment_intent(txn, stripe, event).await,
        "charge.refunded" => {
            let charge: objects::Charge = read(event)?;
            match charge.payment_intent {
                Some(pi) => refunds_of(txn, stripe, event, &pi).await,
                None => Ok(Handled::done(vec![])),
            }
        }
        "charge.succeeded" => charge_succeeded(txn, stripe, event).await,
        // Its object is a Refund, like `refund.*`.
        k if k.starts_with("refund.") || k == "charge.refund.updated" => {
            let refund: objects::Refund = read(event)?;
            let live = apply_refund(txn, &refund, event_time(event)).await?;
            notify(txn, event, live.into_iter().collect()).await
        }
        k if k.starts_with("charge.dispute.") => dispute(txn, event).await,
        k if k.starts_with("customer.subscription.") => subscription(txn, stripe, event).await,
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            invoice(txn, stripe, event).await
        }
        // A preview of the next invoice: nothing to mirror yet.
        "invoice.upcoming" => Ok(Handled::ignored()),
        "invoice.deleted" => {
            let inv: objects::Invoice = read(event)?;
            invoice_rules::forget(txn, &inv.id).await?;
            Ok(Handled::done(vec![]))
        }
        k if k.starts_with("invoice.") => {
            let inv: objects::Invoice = read(event)?;
            invoice_rules::apply(txn, stripe, &inv, event_time(event)).await?;
            Ok(Handled::done(vec![]))
        }
        "invoice_payment.paid" => invoice_payment(txn, stripe, event).await,
        "customer.updated" => {
            let customer: objects::Customer = read(event)?;
            customers::apply_default_payment_method(txn, &customer).await?;
            Ok(Handled::done(vec![]))
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
        k if k.starts_with("coupon.") => {
            let coupon: objects::Coupon = read(event)?;
            let coupon = objects::Coupon {
                deleted: coupon.deleted || k == "coupon.deleted",
                ..coupon
            };
            discounts::apply_coupon(txn, &coupon, event_time(event)).await?;
            Ok(Handled::done(vec![]))
        }
        k if k.starts_with("promotion_code.") => {
            let promo: objects::PromotionCode = read(event)?;
            discounts::apply_promotion_code(txn, &promo, event_time(event)).await?;
            Ok(Handled::done(vec![]))
        }
        "payment_method.attached" | "payment_method.detached" => payment_method(txn, event).await,
        _ => Ok(Handled::ignored()),
    }
}

fn event_time(event: &objects::Event) -> DateTime<Utc> {
    timestamp(event.created).unwrap_or_else(Utc::now)
}

/// Publishes each live update at most once per event (a redelivery or retry cannot repeat it).
async fn notify(
    txn: &DatabaseTransaction,
    event: &objects::Event,
    live: Vec<LiveEvent>,
) -> Outcome {
    let mut out = vec![];
    for (i, e) in live.into_iter().enumerate() {
        let payload = serde_json::to_value(&e).map_err(ApiError::internal)?;
        if store::once(txn, event, &format!("live.{i}"), payload).await? {
            out.push(e);
        }
    }
    Ok(Handled::done(out))
}

async fn payment_intent(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let pi: objects::PaymentIntent = read(event)?;
    let current = payment_rules::find_for_intent(txn, &pi, None).await?;
    let (pi, snapshot) = match freshness(event.created, current.as_ref().map(|c| c.snapshot_at)) {
        Freshness::Older => return Ok(Handled::done(vec![])),
        // Today's webhooks name the card only by id: re-read to record brand and last4.
        Freshness::Newer if payment_rules::lacks_card(&pi) => (
            payment_rules::retrieve_intent(stripe, &pi.id).await?,
            Utc::now(),
        ),
        Freshness::Newer => (pi, event_time(event)),
        Freshness::Tie => (
            payment_rules::retrieve_intent(stripe, &pi.id).await?,
            Utc::now(),
        ),
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
    notify(txn, event, vec![LiveEvent::payment(&row)]).await
}

/// Reconciles every refund of a PaymentIntent with Stripe's list (refunds made in the
/// dashboard appear here too).
async fn refunds_of(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
    pi: &str,
) -> Outcome {
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

/// A refund snapshot through `billing::refunds`; one that cannot fit the payment is parked.
async fn apply_refund(
    txn: &DatabaseTransaction,
    refund: &objects::Refund,
    snapshot: DateTime<Utc>,
) -> Result<Option<LiveEvent>, HandleError> {
    match refund_rules::apply_snapshot(txn, refund, snapshot).await {
        Ok(live) => Ok(live),
        Err(ApiError::RefundExceedsPayment { remaining }) => {
            Err(HandleError::Unapplicable(format!(
            "refund {} of {} minor units exceeds the {remaining} left to refund on its payment \
             here; run `tollgate sync payments` to repair the local copy, then replay",
            refund.id, refund.amount
        )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Every `charge.dispute.*` event carries the dispute as it stands: its status and amount are
/// recorded on the payment (lost disputes come off revenue).
async fn dispute(txn: &DatabaseTransaction, event: &objects::Event) -> Outcome {
    let dispute: objects::Dispute = read(event)?;
    let status = dispute
        .status
        .as_deref()
        .and_then(entity::DisputeStatus::from_stripe)
        .ok_or_else(|| {
            HandleError::Unapplicable(format!(
                "dispute {} has a status Tollgate does not know",
                dispute.id
            ))
        })?;
    let Some(pi) = dispute.payment_intent.as_ref().map(|p| p.id().to_string()) else {
        return Ok(Handled::done(vec![])); // a charge made without a PaymentIntent
    };
    let live = payment_rules::apply_dispute(txn, &pi, status, dispute.amount)
        .await?
        .map(|p| LiveEvent::payment(&p));
    notify(txn, event, live.into_iter().collect()).await
}

async fn subscription(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let sub: objects::Subscription = read(event)?;
    let current = subscription_rules::find_by_stripe_id(txn, &sub.id).await?;
    let (sub, snapshot) = match freshness(event.created, current.as_ref().map(|c| c.snapshot_at)) {
        Freshness::Older => return Ok(Handled::done(vec![])),
        Freshness::Newer => (sub, event_time(event)),
        Freshness::Tie => {
            let fresh: objects::Subscription = stripe
                .send(
                    &sub_req::RetrieveSubscription::new(sub.id.as_str())
                        .expand(vec!["discounts".to_string()]),
                    None,
                )
                .await?;
            (fresh, Utc::now())
        }
    };
    let Some(customer) = customers::find_by_stripe_id(txn, sub.customer.id()).await? else {
        return Ok(Handled::done(vec![])); // not one of our customers
    };
    // Today's payloads name a discount by id only: read the subscription with it expanded, so
    // a discount added or changed is stored (an id alone says nothing of its coupon).
    let (sub, snapshot) = if sub.discount_seen() == objects::DiscountSeen::Unexpanded {
        let fresh: objects::Subscription = stripe
            .send(
                &sub_req::RetrieveSubscription::new(sub.id.as_str())
                    .expand(vec!["discounts".to_string()]),
                None,
            )
            .await?;
        (fresh, Utc::now())
    } else {
        (sub, snapshot)
    };
    let row = subscription_rules::apply(txn, &sub, snapshot, Some(&customer)).await?;
    if event.kind == "customer.subscription.trial_will_end" {
        // The e-mail hook: recorded once per event for whatever sends reminders.
        store::once(
            txn,
            event,
            "email.trial_will_end",
            serde_json::json!({"user_id": row.user_id, "subscription_id": row.id}),
        )
        .await?;
    }
    notify(txn, event, vec![LiveEvent::subscription(&row)]).await
}

/// Renewals: a paid invoice of a subscription is recorded as a payment linked to it; a failed
/// one moves the subscription along (past due) by re-reading it. Today's invoices name their
/// PaymentIntents in `payments` (when included) or not at all — `invoice_payment.paid` then
/// links them; older ones in `payment_intent`.
async fn invoice(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let invoice: objects::Invoice = read(event)?;
    let paid = match event.kind.as_str() {
        "invoice.payment_failed" => vec![],
        _ => invoice.paid_intent_ids(),
    };
    let live = renewal(txn, stripe, &invoice, &paid).await?;
    // After the renewal (the subscription row it links to exists now); a mirror that cannot
    // be written must not undo the renewal: the invoice's other events and sync catch up.
    if let Err(e) = invoice_rules::apply(txn, stripe, &invoice, event_time(event)).await {
        tracing::warn!(error = %e, invoice = %invoice.id, "invoice not mirrored yet");
    }
    notify(txn, event, live).await
}

/// `invoice_payment.paid` (API 2025-03-31+): the link between an invoice and the
/// PaymentIntent that paid it.
async fn invoice_payment(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let payment: objects::InvoicePayment = read(event)?;
    let (Some(invoice), Some(pi)) = (payment.invoice.as_ref(), payment.payment_intent_id()) else {
        return Ok(Handled::done(vec![])); // paid out of band, or not by a PaymentIntent
    };
    let invoice: objects::Invoice = match invoice.object() {
        Some(full) => full.clone(),
        None => {
            let request = crate::stripe::requests::invoice::RetrieveInvoice::new(invoice.id());
            stripe.send(&request, None).await?
        }
    };
    let live = renewal(txn, stripe, &invoice, &[pi.to_string()]).await?;
    notify(txn, event, live).await
}

/// Refreshes the invoice's subscription and records each paying PaymentIntent as one payment
/// linked to it (whichever of the renewal's events arrives first creates it; the others link
/// or change nothing).
async fn renewal(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    invoice: &objects::Invoice,
    paid_intents: &[String],
) -> Result<Vec<LiveEvent>, HandleError> {
    let Some(sub_id) = invoice.subscription_id() else {
        return Ok(vec![]);
    };
    let sub: objects::Subscription = stripe
        .send(
            &sub_req::RetrieveSubscription::new(sub_id.as_str())
                .expand(vec!["discounts".to_string()]),
            None,
        )
        .await?;
    let Some(customer) = customers::find_by_stripe_id(txn, sub.customer.id()).await? else {
        return Ok(vec![]);
    };
    let row = subscription_rules::apply(txn, &sub, Utc::now(), Some(&customer)).await?;
    let mut live = vec![LiveEvent::subscription(&row)];
    for pi_id in paid_intents {
        let pi = payment_rules::retrieve_intent(stripe, pi_id).await?;
        let payment = payment_rules::record_subscription_charge(
            txn,
            &pi,
            &customer,
            &row,
            Some(&invoice.id),
            Utc::now(),
        )
        .await?;
        live.push(LiveEvent::payment(&payment));
    }
    if invoice.total_discount_amounts.is_some() {
        payment_rules::record_invoice_discount(txn, &invoice.id, invoice.discount_total()).await?;
    }
    Ok(live)
}

/// `charge.succeeded` carries the card summary that today's PaymentIntent events lack: recorded
/// on the payment, which is created from the re-read intent when it is not known yet.
async fn charge_succeeded(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let charge: objects::Charge = read(event)?;
    let Some(pi_id) = charge.payment_intent.as_deref() else {
        return Ok(Handled::done(vec![]));
    };
    if payment_rules::find_by_intent_id(txn, pi_id)
        .await?
        .is_none()
    {
        let pi = payment_rules::retrieve_intent(stripe, pi_id).await?;
        let Some(origin) = payment_rules::origin_from_customer(txn, &pi).await? else {
            return Ok(Handled::done(vec![])); // not one of our customers
        };
        let row = payment_rules::apply_intent(txn, &pi, Utc::now(), Some(&origin)).await?;
        return notify(txn, event, vec![LiveEvent::payment(&row)]).await;
    }
    let card = charge
        .payment_method_details
        .as_ref()
        .and_then(|d| d.card.as_ref());
    let mut changed = match card {
        Some(card) => payment_rules::record_card(txn, pi_id, card).await?,
        None => None,
    };
    if let Some(with_receipt) = payment_rules::record_receipt(txn, pi_id, &charge).await? {
        changed = Some(with_receipt);
    }
    notify(txn, event, changed.iter().map(LiveEvent::payment).collect()).await
}

async fn price(
    txn: &DatabaseTransaction,
    stripe: &StripeClient,
    event: &objects::Event,
) -> Outcome {
    let price: objects::Price = read(event)?;
    let price = objects::Price {
        deleted: price.deleted || event.kind == "price.deleted",
        ..price
    };
    let product_id = match catalog::product_id_of(txn, price.product.id()).await? {
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

async fn payment_method(txn: &DatabaseTransaction, event: &objects::Event) -> Outcome {
    let pm: objects::PaymentMethod = read(event)?;
    if event.kind == "payment_method.detached" {
        payment_methods::remove(txn, &pm.id).await?;
        return Ok(Handled::done(vec![]));
    }
    let Some(customer_id) = pm.customer.as_ref().map(|c| c.id().to_string()) else {
        return Ok(Handled::done(vec![]));
    };
    if let Some(customer) = customers::find_by_stripe_id(txn, &customer_id).await? {
        payment_methods::apply(txn, &customer, &pm).await?;
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
