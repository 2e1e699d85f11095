//! Finding subscriptions: by id, for a viewer (their own, or any for admins), the owner's own
//! for a change, and listed newest first.

use entity::subscriptions;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::SubscriptionStatus;
use crate::{auth::Viewer, error::ApiError};

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<subscriptions::Model, ApiError> {
    subscriptions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("subscription"))
}

/// The viewer's own subscription (any for admins); everything else is `NOT_FOUND`.
pub async fn find_for_viewer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<subscriptions::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("subscription"))?;
    let row = find(db, id).await?;
    if row.user_id == viewer.user_id || viewer.is_admin() {
        Ok(row)
    } else {
        Err(ApiError::NotFound("subscription"))
    }
}

/// Only the owner changes a subscription (admins see all, but do not act for users here).
pub(super) async fn owned(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<subscriptions::Model, ApiError> {
    let row = find_for_viewer(db, viewer, id).await?;
    if row.user_id != viewer.user_id {
        return Err(ApiError::NotFound("subscription"));
    }
    Ok(row)
}

/// Subscriptions, newest first, by owner and status.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: Option<&str>,
    status: Option<SubscriptionStatus>,
    limit: u64,
) -> Result<Vec<subscriptions::Model>, ApiError> {
    let mut query = subscriptions::Entity::find()
        .order_by_desc(subscriptions::Column::CreatedAt)
        .order_by_desc(subscriptions::Column::Id)
        .limit(limit);
    if let Some(u) = user_id {
        query = query.filter(subscriptions::Column::UserId.eq(u));
    }
    if let Some(s) = status {
        query = query.filter(subscriptions::Column::Status.eq(s));
    }
    Ok(query.all(db).await?)
}

/// The subscription as Stripe has it now (its discounts expanded, so the snapshot is whole).
pub(super) async fn live(
    stripe: &crate::stripe::StripeClient,
    row: &subscriptions::Model,
) -> Result<crate::stripe::objects::Subscription, ApiError> {
    let request = crate::stripe::requests::subscription::RetrieveSubscription::new(
        row.stripe_subscription_id.as_str(),
    )
    .expand(vec!["discounts".to_string()]);
    Ok(stripe.send(&request, None).await?)
}

/// The (single) item Tollgate subscriptions have; an error for one without (Stripe never sends
/// that, so it is reported rather than guessed around).
pub(super) fn only_item(
    sub: &crate::stripe::objects::Subscription,
) -> Result<&crate::stripe::objects::SubscriptionItem, ApiError> {
    sub.items
        .data
        .first()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("subscription {} without items", sub.id)))
}
