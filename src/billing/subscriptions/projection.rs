//! The local projection of Stripe's subscriptions: a snapshot (from an API answer, a webhook
//! or `sync`) applied to its row, an older snapshot changing nothing.

use chrono::{DateTime, Utc};
use entity::{customers, prices, subscriptions};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::SubscriptionStatus;
use crate::{
    billing::customers as customer_rules,
    error::ApiError,
    stripe::objects::{self, timestamp},
};

/// The stored status of a Stripe subscription; a status Tollgate does not know is an error
/// (the event fails visibly instead of guessing).
pub fn status_of(sub: &objects::Subscription) -> Result<SubscriptionStatus, ApiError> {
    SubscriptionStatus::from_stripe(sub.status.as_str()).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "unknown subscription status `{}`",
            sub.status.as_str().chars().take(40).collect::<String>()
        ))
    })
}

/// Applies a subscription snapshot taken at `snapshot_at`; an older one changes nothing.
/// `customer` is the local customer when the caller knows it; otherwise it is looked up by
/// Stripe id, and a subscription of no Tollgate customer is an error.
pub async fn apply(
    db: &impl ConnectionTrait,
    sub: &objects::Subscription,
    snapshot_at: DateTime<Utc>,
    customer: Option<&customers::Model>,
) -> Result<subscriptions::Model, ApiError> {
    let customer = match customer {
        Some(c) => c.clone(),
        None => customer_rules::find_by_stripe_id(db, sub.customer.id())
            .await?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "subscription {} of an unknown customer",
                    sub.id
                ))
            })?,
    };
    let stripe_price = sub.price_id().unwrap_or_default().to_string();
    let price_id = prices::Entity::find()
        .filter(prices::Column::StripePriceId.eq(&stripe_price))
        .select_only()
        .column(prices::Column::Id)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    let row = row_of(sub, &customer, price_id, stripe_price, snapshot_at)?;
    if let Some(written) = upsert_newer(db, row, snapshot_at).await? {
        return Ok(written);
    }
    // Kept as stored: an older snapshot, or a canceled subscription (final).
    find_by_stripe_id(db, &sub.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("subscription row missing")))
}

/// The row a Stripe subscription snapshot describes.
fn row_of(
    sub: &objects::Subscription,
    customer: &customers::Model,
    price_id: Option<Uuid>,
    stripe_price: String,
    snapshot_at: DateTime<Utc>,
) -> Result<subscriptions::ActiveModel, ApiError> {
    let (start, end) = sub.period();
    let ts = |v: Option<i64>| v.and_then(timestamp);
    let now = Utc::now();
    Ok(subscriptions::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(customer.user_id.clone()),
        customer_id: Set(customer.id),
        stripe_subscription_id: Set(sub.id.clone()),
        price_id: Set(price_id),
        stripe_price_id: Set(stripe_price),
        status: Set(status_of(sub)?),
        current_period_start: Set(ts(start)),
        current_period_end: Set(ts(end)),
        trial_start: Set(ts(sub.trial_start)),
        trial_end: Set(ts(sub.trial_end)),
        cancel_at_period_end: Set(sub.cancel_at_period_end),
        cancel_at: Set(ts(sub.cancel_at)),
        canceled_at: Set(ts(sub.canceled_at)),
        ended_at: Set(ts(sub.ended_at)),
        latest_invoice_id: Set(sub.latest_invoice.as_ref().map(|i| i.id().to_string())),
        snapshot_at: Set(snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// Inserts the row, or updates the existing one unless it holds a newer snapshot or is
/// already canceled (`canceled` is final): one statement, so it holds under races.
/// The row as written, or None when the stored row was kept (the guard refused the update).
async fn upsert_newer(
    db: &impl ConnectionTrait,
    row: subscriptions::ActiveModel,
    snapshot_at: DateTime<Utc>,
) -> Result<Option<subscriptions::Model>, ApiError> {
    use subscriptions::Column as C;
    let guard = Expr::col((subscriptions::Entity, C::SnapshotAt))
        .lte(snapshot_at)
        .and(Expr::col((subscriptions::Entity, C::Status)).ne(SubscriptionStatus::Canceled));
    match subscriptions::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::StripeSubscriptionId)
                .update_columns([
                    C::PriceId,
                    C::StripePriceId,
                    C::Status,
                    C::CurrentPeriodStart,
                    C::CurrentPeriodEnd,
                    C::TrialStart,
                    C::TrialEnd,
                    C::CancelAtPeriodEnd,
                    C::CancelAt,
                    C::CanceledAt,
                    C::EndedAt,
                    C::LatestInvoiceId,
                    C::SnapshotAt,
                    C::UpdatedAt,
                ])
                .action_and_where(guard)
                .to_owned(),
        )
        .exec_with_returning(db)
        .await
    {
        Ok(written) => Ok(Some(written)),
        Err(sea_orm::DbErr::RecordNotInserted | sea_orm::DbErr::RecordNotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The subscription of a Stripe subscription id, if Tollgate has it.
pub async fn find_by_stripe_id(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<subscriptions::Model>, ApiError> {
    Ok(subscriptions::Entity::find()
        .filter(subscriptions::Column::StripeSubscriptionId.eq(stripe_id))
        .one(db)
        .await?)
}
