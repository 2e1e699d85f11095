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

/// Stripe's `cancellation_details.feedback` values: why a customer leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    CustomerService,
    LowQuality,
    MissingFeatures,
    Other,
    SwitchedService,
    TooComplex,
    TooExpensive,
    Unused,
}

impl CancelReason {
    pub fn as_stripe(self) -> &'static str {
        match self {
            CancelReason::CustomerService => "customer_service",
            CancelReason::LowQuality => "low_quality",
            CancelReason::MissingFeatures => "missing_features",
            CancelReason::Other => "other",
            CancelReason::SwitchedService => "switched_service",
            CancelReason::TooComplex => "too_complex",
            CancelReason::TooExpensive => "too_expensive",
            CancelReason::Unused => "unused",
        }
    }
}

/// Why the customer cancels: a reason and their own words, both optional.
#[derive(Debug, Clone, Default)]
pub struct Cancellation {
    pub reason: Option<CancelReason>,
    pub comment: Option<String>,
}

/// Longest cancellation comment kept (Stripe takes 5,000 characters).
pub const MAX_CANCEL_COMMENT: usize = 1000;

impl Cancellation {
    fn check(&self) -> Result<(), ApiError> {
        if self
            .comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_CANCEL_COMMENT)
        {
            return Err(ApiError::invalid_input(
                "comment",
                format!("at most {MAX_CANCEL_COMMENT} characters"),
            ));
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.reason.is_none() && self.comment.as_deref().is_none_or(|c| c.trim().is_empty())
    }

    fn comment(&self) -> Option<String> {
        self.comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
    }
}

pub async fn cancel(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    id: &str,
    at_period_end: bool,
    why: &Cancellation,
) -> Result<Changed<subscriptions::Model>, ApiError> {
    why.check()?;
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
    // The reason is part of the request Stripe sees, so part of the key too.
    let key = IdempotencyKey::new(format!(
        "tollgate-cancel-{}-{at_period_end}-{}-{}",
        row.id,
        row.snapshot_at.timestamp_micros(),
        why_digest(why)
    ))
    .map_err(ApiError::internal)?;
    let feedback = why.reason.map(CancelReason::as_stripe);
    let sub: objects::Subscription = if at_period_end {
        let mut request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
            .cancel_at_period_end(true)
            .expand(vec!["discounts".to_string()]);
        if !why.is_empty() {
            request = request.cancellation_details(req::UpdateSubscriptionCancellationDetails {
                comment: why.comment(),
                feedback: feedback.map(|f| {
                    f.parse()
                        .unwrap_or_else(|never: std::convert::Infallible| match never {})
                }),
                feedback_option: None,
            });
        }
        stripe.send(&request, Some(&key)).await?
    } else {
        let mut request = req::CancelSubscription::new(row.stripe_subscription_id.as_str());
        if !why.is_empty() {
            request = request.cancellation_details(req::CancelSubscriptionCancellationDetails {
                comment: why.comment(),
                feedback: feedback.map(|f| {
                    f.parse()
                        .unwrap_or_else(|never: std::convert::Infallible| match never {})
                }),
                feedback_option: None,
            });
        }
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
        .cancel_at_period_end(false)
        .expand(vec!["discounts".to_string()]);
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
    let item = super::lookup::only_item(&live)?;
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

/// A short, stable digest of a cancellation's reason and comment (for the Stripe key).
fn why_digest(why: &Cancellation) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(why.reason.map_or("", CancelReason::as_stripe));
    hash.update([0]);
    hash.update(why.comment().unwrap_or_default());
    hex::encode(&hash.finalize()[..6])
}
