//! Monthly recurring revenue: what the subscriptions that bill bring in a month.
//!
//! Counted: `active` and `past_due` subscriptions (a past-due one still owes its renewal);
//! not counted: trials (no money yet), incomplete, unpaid, paused and ended ones. Each counts
//! its unit amount × quantity, less a `forever` or still-running `repeating` discount (a
//! `once` coupon discounts one invoice, not the recurring amount), normalised to a month —
//! yearly / 12, weekly × 52 / 12, daily × 365 / 12, every `interval_count` dividing — and
//! rounded per subscription to the minor unit with banker's rounding (half to even).

use chrono::Utc;
use entity::{coupons, prices, subscriptions, PriceInterval};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::SubscriptionStatus;
use crate::{
    billing::discounts::{check::amount_off, percent::round_half_even},
    error::ApiError,
    money::{Currency, Money},
};

/// The statuses that count towards MRR.
pub const BILLING: [SubscriptionStatus; 2] =
    [SubscriptionStatus::Active, SubscriptionStatus::PastDue];

/// Monthly recurring revenue per currency, in minor units.
pub async fn mrr(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, ApiError> {
    let rows: Vec<(subscriptions::Model, Option<prices::Model>)> = subscriptions::Entity::find()
        .find_also_related(prices::Entity)
        .filter(subscriptions::Column::Status.is_in(BILLING))
        .all(db)
        .await?;
    let coupon_ids: Vec<String> = rows
        .iter()
        .filter_map(|(s, _)| s.discount_coupon_id.clone())
        .collect();
    let coupons: Vec<coupons::Model> = if coupon_ids.is_empty() {
        vec![]
    } else {
        coupons::Entity::find()
            .filter(coupons::Column::StripeCouponId.is_in(coupon_ids))
            .all(db)
            .await?
    };
    let mut totals: std::collections::BTreeMap<String, i64> = Default::default();
    for (sub, price) in rows {
        let Some(price) = price else { continue };
        let coupon = sub
            .discount_coupon_id
            .as_ref()
            .and_then(|id| coupons.iter().find(|c| &c.stripe_coupon_id == id));
        if let Some(monthly) = monthly(&sub, &price, coupon) {
            let total = totals.entry(price.currency.clone()).or_default();
            *total = total.saturating_add(monthly);
        }
    }
    Ok(totals.into_iter().collect())
}

/// One subscription's monthly amount; None when its price has no fixed amount or interval.
pub fn monthly(
    sub: &subscriptions::Model,
    price: &prices::Model,
    coupon: Option<&coupons::Model>,
) -> Option<i64> {
    let unit = price.unit_amount?;
    let interval = price.recurring_interval?;
    let per_period = unit.checked_mul(i64::from(sub.quantity.max(1)))?;
    let recurring_discount = coupon
        .filter(|c| c.duration != "once" && sub.discount_end.is_none_or(|end| end > Utc::now()));
    let off = recurring_discount
        .and_then(|c| {
            amount_off(
                c,
                &Money::from_minor(per_period, Currency::from_stored(&price.currency)),
            )
        })
        .unwrap_or(0);
    let amount = i128::from(per_period - off);
    let count = i128::from(price.recurring_interval_count.unwrap_or(1).max(1));
    let (numerator, denominator) = match interval {
        PriceInterval::Month => (amount, count),
        PriceInterval::Year => (amount, 12 * count),
        PriceInterval::Week => (amount * 52, 12 * count),
        PriceInterval::Day => (amount * 365, 12 * count),
    };
    Some(round_half_even(numerator, denominator))
}
