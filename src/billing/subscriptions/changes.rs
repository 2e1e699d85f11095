//! Changing a subscription: cancel (now or at the period's end), resume one set to cancel,
//! and move it to another price (idempotent under the client's key).

use chrono::Utc;
use entity::{prices, subscriptions};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;
use uuid::Uuid;

use super::{apply, create::recurring_price, lookup::owned, SubscriptionStatus};
use crate::{
    auth::Viewer,
    billing::idempotency,
    error::ApiError,
    live::{Changed, LiveEvent},
    stripe::{
        objects::{self},
        requests::subscription as req,
        IdempotencyKey, StripeClient,
    },
};

pub async fn cancel(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
    at_period_end: bool,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let row = owned(db, viewer, id).await?;
    if matches!(
        row.status,
        SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
    ) {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            "the subscription has already ended",
        ));
    }
    let key = IdempotencyKey::new(format!(
        "tollgate-cancel-{}-{at_period_end}-{}",
        row.id,
        row.snapshot_at.timestamp_micros()
    ))
    .map_err(ApiError::internal)?;
    let sub: objects::Subscription = if at_period_end {
        let request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
            .cancel_at_period_end(true);
        stripe.send(&request, Some(&key)).await?
    } else {
        let request = req::CancelSubscription::new(row.stripe_subscription_id.as_str());
        stripe.send(&request, Some(&key)).await?
    };
    let row = apply(db, &sub, Utc::now(), None).await?;
    Ok(Changed::new(
        row.clone(),
        vec![LiveEvent::subscription(&row)],
    ))
}

/// Undoes a pending cancel-at-period-end.
pub async fn resume(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let row = owned(db, viewer, id).await?;
    if !row.cancel_at_period_end || !row.status.grants_access() {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            "only a subscription set to cancel at period end can be resumed",
        ));
    }
    let request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
        .cancel_at_period_end(false);
    let key = IdempotencyKey::new(format!(
        "tollgate-resume-{}-{}",
        row.id,
        row.snapshot_at.timestamp_micros()
    ))
    .map_err(ApiError::internal)?;
    let sub: objects::Subscription = stripe.send(&request, Some(&key)).await?;
    let row = apply(db, &sub, Utc::now(), None).await?;
    Ok(Changed::new(
        row.clone(),
        vec![LiveEvent::subscription(&row)],
    ))
}

/// Moves a subscription to another recurring price of the same currency. With a key, a
/// repeat answers the same subscription and one with another request is
/// `IDEMPOTENCY_KEY_REUSED`, as for every mutation that takes one.
pub async fn change_price(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
    price_id: &str,
    prorate: bool,
    idempotency_key: Option<&str>,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    let request = PriceChange {
        subscription_id: id,
        price_id,
        prorate,
    };
    let scope = idempotency::scope(
        &viewer.user_id,
        idempotency_key,
        "changeSubscriptionPrice",
        &request,
    )?;
    let changed = idempotency::run(db, scope.as_ref(), || {
        reprice(db, stripe, viewer, &request, scope.as_ref())
    })
    .await?;
    let row = subscriptions::Entity::find_by_id(changed)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(Changed::new(
        row.clone(),
        vec![LiveEvent::subscription(&row)],
    ))
}

/// A price change as the client asked for it: its idempotency fingerprint.
#[derive(Serialize)]
struct PriceChange<'a> {
    subscription_id: &'a str,
    price_id: &'a str,
    prorate: bool,
}

/// `change_price`'s work: checks, the item swapped at Stripe, the answer applied; the
/// subscription's id.
async fn reprice(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    change: &PriceChange<'_>,
    scope: Option<&idempotency::Scope>,
) -> Result<Uuid, ApiError> {
    let row = owned(db, viewer, change.subscription_id).await?;
    if !row.status.grants_access() && row.status != SubscriptionStatus::PastDue {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            format!("a {} subscription cannot change price", row.status),
        ));
    }
    let price = recurring_price(db, change.price_id).await?;
    let current = match row.price_id {
        Some(p) => prices::Entity::find_by_id(p).one(db).await?,
        None => None,
    };
    if current.is_some_and(|current| current.currency != price.currency) {
        return Err(ApiError::invalid_input(
            "priceId",
            "the new price must be in the subscription's currency",
        ));
    }
    let live: objects::Subscription = stripe
        .send(
            &req::RetrieveSubscription::new(row.stripe_subscription_id.as_str()),
            None,
        )
        .await?;
    let item = live
        .items
        .data
        .first()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("subscription without items")))?;
    let mut update = req::UpdateSubscriptionItems::new();
    update.id = Some(item.id.clone());
    update.price = Some(price.stripe_price_id.clone());
    let stripe_request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
        .items(vec![update])
        .proration_behavior(if change.prorate {
            req::UpdateSubscriptionProrationBehavior::CreateProrations
        } else {
            req::UpdateSubscriptionProrationBehavior::None
        });
    let key = idempotency::stripe_key(scope, "reprice")?;
    let sub: objects::Subscription = stripe.send(&stripe_request, Some(&key)).await?;
    Ok(apply(db, &sub, Utc::now(), None).await?.id)
}
