//! Finding a payment: by Tollgate's id, for a viewer (their own, or any for admins), or by its
//! Stripe PaymentIntent.

use entity::payments;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{auth::Viewer, error::ApiError};

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<payments::Model, ApiError> {
    payments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("payment"))
}

/// The payment of a Stripe PaymentIntent, if Tollgate has it.
pub async fn find_by_intent_id(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<payments::Model>, ApiError> {
    Ok(payments::Entity::find()
        .filter(payments::Column::StripePaymentIntentId.eq(stripe_id))
        .one(db)
        .await?)
}

/// A payment the viewer may see: their own, or any for admins. Anything else is `NOT_FOUND`,
/// never `FORBIDDEN`, so ids cannot be probed.
pub async fn find_for_viewer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<payments::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("payment"))?;
    let row = find(db, id).await?;
    if row.user_id == viewer.user_id || viewer.is_admin() {
        Ok(row)
    } else {
        Err(ApiError::NotFound("payment"))
    }
}
