//! `tollgate sync subscriptions`: every subscription, whatever its status, applied as a fresh
//! snapshot (`billing::subscriptions`).

use chrono::{DateTime, Utc};
use entity::subscriptions;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Report, SyncError};
use crate::{
    billing::subscriptions as subscription_rules,
    stripe::{objects, requests::subscription as sub_req, StripeClient},
};

/// Stripe's largest page size.
const PAGE: i64 = 100;

/// Every subscription, whatever its status.
pub async fn sync_subscriptions(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, SyncError> {
    let all: Vec<objects::Subscription> = stripe
        .list_all(|after| {
            let req = sub_req::ListSubscription::new()
                .limit(PAGE)
                .status(sub_req::ListSubscriptionStatus::All)
                .expand(vec!["data.discounts".to_string()]);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await?;
    let mut report = Report {
        fetched: all.len(),
        ..Default::default()
    };
    for (i, sub) in all.iter().enumerate() {
        progress(i + 1, all.len());
        if crate::billing::customers::find_by_stripe_id(db, sub.customer.id())
            .await?
            .is_none()
        {
            report.skipped += 1;
            continue;
        }
        let before = subscriptions::Entity::find()
            .filter(subscriptions::Column::StripeSubscriptionId.eq(&sub.id))
            .one(db)
            .await?;
        let after = subscription_rules::apply(db, sub, Utc::now(), None).await?;
        match before {
            None => report.missing("subscription", &sub.id),
            Some(b) => report.compare("subscription", &sub.id, &compared(&b, &after)),
        }
    }
    Ok(report)
}

/// The fields compared with Stripe: (name, local, Stripe's), as text.
fn compared(
    local: &subscriptions::Model,
    stripe: &subscriptions::Model,
) -> [(&'static str, Option<String>, Option<String>); 5] {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    [
        (
            "status",
            Some(local.status.to_string()),
            Some(stripe.status.to_string()),
        ),
        (
            "cancel_at_period_end",
            Some(local.cancel_at_period_end.to_string()),
            Some(stripe.cancel_at_period_end.to_string()),
        ),
        (
            "current_period_end",
            time(local.current_period_end),
            time(stripe.current_period_end),
        ),
        (
            "quantity",
            Some(local.quantity.to_string()),
            Some(stripe.quantity.to_string()),
        ),
        (
            "discount",
            local.discount_coupon_id.clone(),
            stripe.discount_coupon_id.clone(),
        ),
    ]
}
