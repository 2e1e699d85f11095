//! Monthly recurring revenue of the subscriptions that bill.

use entity::{prices, subscriptions, PriceInterval};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::SubscriptionStatus;
use crate::error::ApiError;

/// Monthly recurring revenue per currency, in minor units, from subscriptions granting access.
/// Yearly, weekly and daily prices are normalised to a month (integer minor units, rounded
/// down).
pub async fn mrr(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, ApiError> {
    /// currency, unit amount, interval, interval count
    type PriceTerms = (String, Option<i64>, Option<PriceInterval>, Option<i32>);
    let rows: Vec<PriceTerms> = subscriptions::Entity::find()
        .inner_join(prices::Entity)
        .select_only()
        .column(prices::Column::Currency)
        .column(prices::Column::UnitAmount)
        .column(prices::Column::RecurringInterval)
        .column(prices::Column::RecurringIntervalCount)
        .filter(subscriptions::Column::Status.is_in(SubscriptionStatus::ACTIVE))
        .into_tuple()
        .all(db)
        .await?;
    let mut totals: std::collections::BTreeMap<String, i64> = Default::default();
    for (currency, amount, interval, count) in rows {
        let (Some(amount), Some(interval)) = (amount, interval) else {
            continue;
        };
        let count = i64::from(Ord::max(count.unwrap_or(1), 1));
        let monthly = match interval {
            PriceInterval::Month => amount / count,
            PriceInterval::Year => amount / (12 * count),
            PriceInterval::Week => amount * 52 / (12 * count),
            PriceInterval::Day => amount * 365 / (12 * count),
        };
        *totals.entry(currency).or_default() += monthly;
    }
    Ok(totals.into_iter().collect())
}
