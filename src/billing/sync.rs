//! Repairing drift: re-fetch objects from Stripe and apply them as fresh snapshots. Useful
//! after an outage of the webhook endpoint, or to adopt payments made outside Tollgate.

use chrono::{DateTime, Utc};
use entity::{payments, subscriptions};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    billing::{payments as payment_rules, subscriptions as subscription_rules},
    error::ApiError,
    stripe::{
        objects,
        requests::{payment_intent as pi_req, subscription as sub_req},
        StripeClient,
    },
};

/// What a sync changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub fetched: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Objects of customers Tollgate does not know.
    pub skipped: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fetched {} / created {} / updated {} / unchanged {} / skipped {}",
            self.fetched, self.created, self.updated, self.unchanged, self.skipped
        )
    }
}

const PAGE: i64 = 100;

/// PaymentIntents created since `since`.
pub async fn payments(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    since: DateTime<Utc>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, ApiError> {
    let all: Vec<objects::PaymentIntent> = stripe
        .list_all(|after| {
            let req = pi_req::ListPaymentIntent::new()
                .limit(PAGE)
                .expand(vec!["data.payment_method".to_string()]);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await?
        .into_iter()
        .filter(|pi: &objects::PaymentIntent| pi.created.is_none_or(|c| c >= since.timestamp()))
        .collect();
    let mut report = Report {
        fetched: all.len(),
        ..Default::default()
    };
    for (i, pi) in all.iter().enumerate() {
        let before = payments::Entity::find()
            .filter(payments::Column::StripePaymentIntentId.eq(&pi.id))
            .one(db)
            .await?;
        let origin = match &before {
            Some(_) => None,
            None => match payment_rules::origin_from_customer(db, pi).await? {
                Some(o) => Some(o),
                None => {
                    report.skipped += 1;
                    progress(i + 1, all.len());
                    continue;
                }
            },
        };
        let after = payment_rules::apply_intent(db, pi, Utc::now(), origin.as_ref()).await?;
        match before {
            None => report.created += 1,
            Some(b)
                if (b.status, &b.card_last4, &b.failure_code)
                    != (after.status, &after.card_last4, &after.failure_code) =>
            {
                println!("  {} {}: {} -> {}", after.id, pi.id, b.status, after.status);
                report.updated += 1
            }
            Some(_) => report.unchanged += 1,
        }
        progress(i + 1, all.len());
    }
    Ok(report)
}

/// Every subscription, whatever its status.
pub async fn subscriptions(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, ApiError> {
    let all: Vec<objects::Subscription> = stripe
        .list_all(|after| {
            let req = sub_req::ListSubscription::new()
                .limit(PAGE)
                .status(sub_req::ListSubscriptionStatus::All);
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
            None => report.created += 1,
            Some(b)
                if (b.status, b.cancel_at_period_end, b.current_period_end)
                    != (
                        after.status,
                        after.cancel_at_period_end,
                        after.current_period_end,
                    ) =>
            {
                println!(
                    "  {} {}: {} -> {}",
                    after.id, sub.id, b.status, after.status
                );
                report.updated += 1
            }
            Some(_) => report.unchanged += 1,
        }
    }
    Ok(report)
}
