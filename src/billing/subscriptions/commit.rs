//! Committing a quote (`changeSubscription`): the quoted change applied with the quote's
//! proration date and charged at once, exactly the quoted amount, or refused with nothing
//! charged — `QUOTE_EXPIRED` after its expiry, `QUOTE_STALE` when the subscription moved at
//! Stripe since the quote (another change, a renewal, a cancel).
//!
//! Stripe has no conditional update: the basis is compared on a fresh read right before the
//! update, then the quote is marked as committed from that basis — a unique index lets one
//! state of a subscription be committed from once, so two quotes committed at the same moment
//! cannot both charge. The update's Stripe idempotency key is the quote's: once marked, any
//! retry (the same key, another key, after a crash) re-sends the same request and Stripe
//! answers what it did the first time, so a quote reaches Stripe's books at most once and is
//! never reported stale after it was charged.

use chrono::Utc;
use entity::{subscription_quotes, subscriptions};
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::{
    apply,
    create::first_payment,
    lookup::{live, owned},
    quotes::{basis, expired, find_quote, update_request, what_moved},
};
use crate::{
    auth::Viewer,
    billing::{customers, idempotency, payments},
    error::ApiError,
    live::{Changed, LiveEvent},
    stripe::{objects, IdempotencyKey, StripeClient},
};

/// A commit as the client asked for it: its idempotency fingerprint.
#[derive(Serialize)]
struct Commit<'a> {
    subscription_id: &'a str,
    quote_id: &'a str,
}

/// Applies the viewer's quote to their subscription.
pub async fn change_subscription(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    subscription_id: &str,
    quote_id: &str,
    idempotency_key: Option<&str>,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let commit = Commit {
        subscription_id,
        quote_id,
    };
    let scope = idempotency::scope(
        &viewer.user_id,
        idempotency_key,
        "changeSubscription",
        &commit,
    )?;
    let id = idempotency::run(db, scope.as_ref(), || {
        apply_quote(db, stripe, viewer, &commit)
    })
    .await?;
    let row = subscriptions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let mut live_events = vec![LiveEvent::subscription(&row)];
    if let Some(invoice) = &row.latest_invoice_id {
        let charged = entity::payments::Entity::find()
            .filter(entity::payments::Column::StripeInvoiceId.eq(invoice.as_str()))
            .all(db)
            .await?;
        live_events.extend(charged.iter().map(LiveEvent::payment));
    }
    Ok(Changed::new(row, live_events))
}

async fn apply_quote(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    commit: &Commit<'_>,
) -> Result<Uuid, ApiError> {
    let quote = find_quote(db, viewer, commit.quote_id).await?;
    let row = owned(db, viewer, commit.subscription_id).await?;
    if quote.subscription_id != row.id {
        return Err(ApiError::NotFound("quote"));
    }
    let current = live(stripe, &row).await?;
    if quote.committed_basis.is_none() {
        if expired(&quote, Utc::now()) {
            return Err(ApiError::QuoteExpired);
        }
        let now_basis = basis(&current);
        if now_basis != quote.basis {
            return Err(ApiError::QuoteStale(what_moved(&quote.basis, &now_basis)));
        }
        mark_committing(db, &quote).await?;
    }
    // From here on the quote is Stripe's to answer: this is its first sending or a replay.
    let request = update_request(&quote, &row, &current)?;
    let key =
        IdempotencyKey::new(format!("tollgate-quote-{}", quote.id)).map_err(ApiError::internal)?;
    let sub: objects::Subscription = match stripe.send(&request, Some(&key)).await {
        Ok(sub) => sub,
        Err(e) if e.outcome_unknown() => return Err(e.into()),
        Err(e) => {
            // Refused (a declined card, an invalid request): nothing was applied, so the
            // subscription's state may be committed from again by a new quote.
            release(db, &quote).await?;
            return Err(e.into());
        }
    };
    let row = apply(db, &sub, Utc::now(), None).await?;
    record_charge(db, stripe, viewer, &sub, &row, &quote).await?;
    Ok(row.id)
}

/// Marks the quote as being committed from its basis; another quote of the same subscription
/// committed from the same state first is `QUOTE_STALE`.
async fn mark_committing(
    db: &impl ConnectionTrait,
    quote: &subscription_quotes::Model,
) -> Result<(), ApiError> {
    let result = subscription_quotes::Entity::update_many()
        .col_expr(
            subscription_quotes::Column::CommittedAt,
            Expr::value(Some(Utc::now())),
        )
        .col_expr(
            subscription_quotes::Column::CommittedBasis,
            Expr::value(Some(quote.basis.clone())),
        )
        .filter(subscription_quotes::Column::Id.eq(quote.id))
        .filter(subscription_quotes::Column::CommittedBasis.is_null())
        .exec(db)
        .await;
    match result {
        // 0 rows: a concurrent commit of this same quote marked it; it is replayed like ours.
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(ApiError::QuoteStale(
            "another change of this subscription is being applied".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Un-marks a quote Stripe refused, so the state it was quoted from is free again.
async fn release(
    db: &impl ConnectionTrait,
    quote: &subscription_quotes::Model,
) -> Result<(), ApiError> {
    subscription_quotes::Entity::update_many()
        .col_expr(
            subscription_quotes::Column::CommittedBasis,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            subscription_quotes::Column::ExpiresAt,
            Expr::value(Utc::now()),
        )
        .filter(subscription_quotes::Column::Id.eq(quote.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The invoice the change made, as a payment of the subscription; a charge that differs from
/// the quote is reported loudly (it would mean Stripe moved between the read and the update).
async fn record_charge(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    sub: &objects::Subscription,
    row: &subscriptions::Model,
    quote: &subscription_quotes::Model,
) -> Result<(), ApiError> {
    let invoice = match &sub.latest_invoice {
        Some(objects::Expandable::Object(inv)) => Some((**inv).clone()),
        _ => None,
    }
    // Only an invoice the change made: a change that invoices nothing leaves the last one.
    .filter(|inv| !quote.basis.ends_with(&format!("latest_invoice={}", inv.id)));
    let charged = invoice
        .as_ref()
        .and_then(|i| i.amount_due.or(i.total))
        .unwrap_or(0);
    if charged != quote.amount_due {
        tracing::error!(
            quote = %quote.id,
            quoted = quote.amount_due,
            charged,
            "a committed quote was charged a different amount than quoted"
        );
    }
    if invoice.is_none() {
        return Ok(()); // nothing was invoiced now (a code added for the next invoices)
    }
    let Some((_, pi)) = first_payment(stripe, sub).await? else {
        return Ok(());
    };
    let customer = customers::find_for_user(db, &viewer.user_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("subscriber without a customer")))?;
    let invoice_id = invoice.as_ref().map(|i| i.id.as_str());
    payments::record_subscription_charge(db, &pi, &customer, row, invoice_id, Utc::now()).await?;
    if let Some(inv) = &invoice {
        payments::record_invoice_discount(db, &inv.id, inv.discount_total()).await?;
        // The invoice mirror follows; its events and sync catch up if this read fails.
        if let Err(e) = crate::billing::invoices::apply(db, stripe, inv, Utc::now()).await {
            tracing::warn!(error = %e, invoice = %inv.id, "invoice not mirrored yet");
        }
    }
    Ok(())
}
