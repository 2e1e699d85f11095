//! One live subscription per product: a second `createSubscription` for a product the viewer
//! holds (trialing, active, past due, or incomplete within Stripe's 23 hours) is
//! `ALREADY_SUBSCRIBED`, unless the product allows several (its Stripe metadata
//! `tollgate_multiple_subscriptions=true`, mirrored with the product).
//!
//! Under concurrency (two tabs, two replicas) the check alone would let both through: each
//! attempt first claims (user, product) with an insert the primary key lets only one win,
//! then checks, subscribes and releases. A claim left by a crashed process expires after
//! `CLAIM_TTL`.

use chrono::{Duration, Utc};
use entity::{prices, products, subscription_claims, subscriptions};
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::SubscriptionStatus;
use crate::error::ApiError;

/// The product metadata key that allows several live subscriptions per customer.
pub const MULTIPLE_KEY: &str = "tollgate_multiple_subscriptions";

/// Longer than any subscribe attempt (Stripe calls with their retries), short enough that a
/// crashed attempt does not block the customer for long.
const CLAIM_TTL: Duration = Duration::minutes(5);

/// How long Stripe keeps an `incomplete` subscription payable before it expires.
const INCOMPLETE_WINDOW: Duration = Duration::hours(23);

/// Whether a product lets a customer hold several live subscriptions to it.
pub fn allows_multiple(product: &products::Model) -> bool {
    product
        .metadata
        .get(MULTIPLE_KEY)
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The viewer's live subscription to a product, if any.
pub async fn held(
    db: &impl ConnectionTrait,
    user_id: &str,
    product_id: Uuid,
) -> Result<Option<subscriptions::Model>, ApiError> {
    let price_ids: Vec<Uuid> = prices::Entity::find()
        .filter(prices::Column::ProductId.eq(product_id))
        .select_only()
        .column(prices::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let candidates = subscriptions::Entity::find()
        .filter(subscriptions::Column::UserId.eq(user_id))
        .filter(subscriptions::Column::PriceId.is_in(price_ids))
        .filter(subscriptions::Column::Status.is_in([
            SubscriptionStatus::Trialing,
            SubscriptionStatus::Active,
            SubscriptionStatus::PastDue,
            SubscriptionStatus::Incomplete,
        ]))
        .order_by_desc(subscriptions::Column::CreatedAt)
        .all(db)
        .await?;
    let window_start = Utc::now() - INCOMPLETE_WINDOW;
    Ok(candidates
        .into_iter()
        .find(|s| s.status != SubscriptionStatus::Incomplete || s.created_at > window_start))
}

/// A held claim; `release` it when the attempt is over, or `keep` it when Stripe may have
/// made a subscription the database does not hold yet.
#[must_use]
pub struct Claim {
    user_id: String,
    product_id: Uuid,
    owner: Uuid,
    /// The claim was this attempt's already: a retry of an attempt whose outcome was lost.
    pub reentered: bool,
}

/// Claims (user, product) for one subscribe attempt, or `ALREADY_SUBSCRIBED` while another
/// attempt holds it. `owner` names the attempt (derived from its Stripe idempotency key): a
/// retry of the same attempt re-enters its own claim, and Stripe replays what it did.
pub async fn claim(
    db: &impl ConnectionTrait,
    user_id: &str,
    product_id: Uuid,
    owner: Uuid,
) -> Result<Claim, ApiError> {
    let now = Utc::now();
    // A claim older than the TTL belongs to an attempt that died.
    subscription_claims::Entity::delete_many()
        .filter(subscription_claims::Column::UserId.eq(user_id))
        .filter(subscription_claims::Column::ProductId.eq(product_id))
        .filter(subscription_claims::Column::ClaimedAt.lt(now - CLAIM_TTL))
        .exec(db)
        .await?;
    let inserted = subscription_claims::Entity::insert(subscription_claims::ActiveModel {
        user_id: Set(user_id.to_owned()),
        product_id: Set(product_id),
        claimed_at: Set(now),
        owner: Set(owner),
    })
    .on_conflict(
        OnConflict::columns([
            subscription_claims::Column::UserId,
            subscription_claims::Column::ProductId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let reentered = if inserted == 0 {
        let holder = subscription_claims::Entity::find()
            .filter(subscription_claims::Column::UserId.eq(user_id))
            .filter(subscription_claims::Column::ProductId.eq(product_id))
            .one(db)
            .await?;
        if holder.is_none_or(|h| h.owner != owner) {
            return Err(ApiError::AlreadySubscribed {
                subscription_id: None,
            });
        }
        // The retry holds it from now: it must not expire under it.
        subscription_claims::Entity::update_many()
            .col_expr(
                subscription_claims::Column::ClaimedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(subscription_claims::Column::UserId.eq(user_id))
            .filter(subscription_claims::Column::ProductId.eq(product_id))
            .filter(subscription_claims::Column::Owner.eq(owner))
            .exec(db)
            .await?;
        true
    } else {
        false
    };
    Ok(Claim {
        user_id: user_id.to_owned(),
        product_id,
        owner,
        reentered,
    })
}

impl Claim {
    /// Ends the claim, if it is still this attempt's. Best effort: a claim that cannot be
    /// deleted expires.
    pub async fn release(self, db: &impl ConnectionTrait) {
        let result = subscription_claims::Entity::delete_many()
            .filter(subscription_claims::Column::UserId.eq(&self.user_id))
            .filter(subscription_claims::Column::ProductId.eq(self.product_id))
            .filter(subscription_claims::Column::Owner.eq(self.owner))
            .exec(db)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not release a subscription claim; it expires");
        }
    }
}

impl Claim {
    /// Leaves the claim to expire: the attempt failed after Stripe may have created the
    /// subscription, so another attempt (with another key) must not subscribe again meanwhile;
    /// a retry with the same key replays Stripe's answer through the idempotency guard.
    pub fn keep(self) {
        tracing::warn!(
            user_id = %self.user_id,
            product_id = %self.product_id,
            "a subscribe attempt failed after reaching Stripe; its claim is kept until it expires"
        );
    }
}
