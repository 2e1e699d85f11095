//! Committing a quote (`changeSubscription`): the quoted change applied with the quote's
//! proration date and charged at once, exactly the quoted amount, or refused with nothing
//! charged — `QUOTE_EXPIRED` after its expiry, `QUOTE_STALE` when the subscription moved at
//! Stripe since the quote (another change, a renewal, a cancel).
//!
//! Stripe has no conditional update: the basis is compared on a fresh read right before the
//! update, and the update's Stripe idempotency key is the quote's, so a quote reaches Stripe
//! at most once whatever the client retries.

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
    if quote.committed_at.is_some() {
        return Err(ApiError::QuoteStale(
            "this quote was already applied".into(),
        ));
    }
    if expired(&quote, Utc::now()) {
        return Err(ApiError::QuoteExpired);
    }
    let current = live(stripe, &row).await?;
    let now_basis = basis(&current);
    if now_basis != quote.basis {
        return Err(ApiError::QuoteStale(what_moved(&quote.basis, &now_basis)));
    }
    let request = update_request(&quote, &row, &current)?;
    let key =
        IdempotencyKey::new(format!("tollgate-quote-{}", quote.id)).map_err(ApiError::internal)?;
    let sub: objects::Subscription = stripe.send(&request, Some(&key)).await?;
    mark_committed(db, &quote).await?;
    let row = apply(db, &sub, Utc::now(), None).await?;
    record_charge(db, stripe, viewer, &sub, &row, &quote).await?;
    Ok(row.id)
}

async fn mark_committed(
    db: &impl ConnectionTrait,
    quote: &subscription_quotes::Model,
) -> Result<(), ApiError> {
    subscription_quotes::Entity::update_many()
        .col_expr(
            subscription_quotes::Column::CommittedAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(subscription_quotes::Column::Id.eq(quote.id))
        .filter(subscription_quotes::Column::CommittedAt.is_null())
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
    };
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
    }
    Ok(())
}
