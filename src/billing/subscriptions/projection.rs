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
    if let Some(written) = upsert_newer(db, row, snapshot_at, &also_updated(sub)).await? {
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
    // (coupon, promotion code, start, end)
    let discount = match sub.discount_seen() {
        objects::DiscountSeen::Known {
            coupon,
            promotion_code,
            start,
            end,
        } => Some((coupon, promotion_code, start, end)),
        _ => None,
    };
    let cancellation = sub.cancellation_details.as_ref();
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
        quantity: Set(i32::try_from(sub.quantity()).unwrap_or(i32::MAX)),
        discount_coupon_id: Set(discount.as_ref().map(|d| d.0.clone())),
        discount_promotion_code_id: Set(discount.as_ref().and_then(|d| d.1.clone())),
        discount_start: Set(discount.as_ref().and_then(|d| ts(d.2))),
        discount_end: Set(discount.as_ref().and_then(|d| ts(d.3))),
        cancellation_reason: Set(cancellation.and_then(|c| c.feedback.clone())),
        cancellation_comment: Set(cancellation.and_then(|c| c.comment.clone())),
        snapshot_at: Set(snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// The columns a snapshot updates beside the ones every snapshot sets: the discount unless the
/// snapshot names it by id only (a webhook's payload), the cancellation details when present.
fn also_updated(sub: &objects::Subscription) -> Vec<subscriptions::Column> {
    use subscriptions::Column as C;
    let mut columns = vec![C::Quantity];
    if sub.discount_seen() != objects::DiscountSeen::Unexpanded {
        columns.extend([
            C::DiscountCouponId,
            C::DiscountPromotionCodeId,
            C::DiscountStart,
            C::DiscountEnd,
        ]);
    }
    if sub.cancellation_details.is_some() {
        columns.extend([C::CancellationReason, C::CancellationComment]);
    }
    columns
}

/// Inserts the row, or updates the existing one unless it holds a newer snapshot or is
/// already canceled (`canceled` is final): one statement, so it holds under races.
/// The row as written, or None when the stored row was kept (the guard refused the update).
async fn upsert_newer(
    db: &impl ConnectionTrait,
    row: subscriptions::ActiveModel,
    snapshot_at: DateTime<Utc>,
    also: &[subscriptions::Column],
) -> Result<Option<subscriptions::Model>, ApiError> {
    use subscriptions::Column as C;
    let guard = Expr::col((subscriptions::Entity, C::SnapshotAt))
        .lte(snapshot_at)
        .and(Expr::col((subscriptions::Entity, C::Status)).ne(SubscriptionStatus::Canceled));
    match subscriptions::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::StripeSubscriptionId)
                .update_columns(also.iter().copied().chain([
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
                ]))
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
