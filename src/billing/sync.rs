//! Repairing drift: re-fetch objects from Stripe and apply them as fresh snapshots. Useful
//! after an outage of the webhook endpoint, or to adopt payments made outside Tollgate.

use chrono::{DateTime, Utc};
use entity::{payments, subscriptions};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{
    billing::{payments as payment_rules, subscriptions as subscription_rules},
    error::ApiError,
    stripe::{
        objects,
        requests::{payment_intent as pi_req, subscription as sub_req},
        StripeClient,
    },
};

/// What a sync changed (or, checking, would change).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub fetched: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Objects of customers Tollgate does not know.
    pub skipped: usize,
    /// Each difference between the local copy and Stripe.
    pub drifts: Vec<Drift>,
}

/// One field of one object where the local copy and Stripe disagree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// `payment`, `subscription`, `product` or `price`.
    pub object: &'static str,
    /// Stripe's id of it.
    pub id: String,
    pub field: &'static str,
    /// None: missing locally.
    pub local: Option<String>,
    pub stripe: Option<String>,
}

/// The fields of one object whose local and Stripe values differ.
pub(crate) fn differences(
    object: &'static str,
    id: &str,
    pairs: &[(&'static str, Option<String>, Option<String>)],
) -> Vec<Drift> {
    pairs
        .iter()
        .filter(|(_, local, stripe)| local != stripe)
        .map(|(field, local, stripe)| Drift {
            object,
            id: id.to_owned(),
            field,
            local: local.clone(),
            stripe: stripe.clone(),
        })
        .collect()
}

impl Drift {
    /// An object Stripe has and the local copy lacks.
    pub(crate) fn missing(object: &'static str, id: &str) -> Drift {
        Drift {
            object,
            id: id.to_owned(),
            field: "exists",
            local: None,
            stripe: Some("yes".into()),
        }
    }
}

impl Report {
    fn compare(
        &mut self,
        object: &'static str,
        id: &str,
        pairs: &[(&'static str, Option<String>, Option<String>)],
    ) {
        let drifts = differences(object, id, pairs);
        if drifts.is_empty() {
            self.unchanged += 1;
        } else {
            self.updated += 1;
            self.drifts.extend(drifts);
        }
    }

    fn missing(&mut self, object: &'static str, id: &str) {
        self.created += 1;
        self.drifts.push(Drift::missing(object, id));
    }
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

/// `payments`, in a transaction that is rolled back: the report lists the drift, nothing is
/// written.
pub async fn check_payments(
    db: &DatabaseConnection,
    stripe: &StripeClient,
    since: DateTime<Utc>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, ApiError> {
    let txn = crate::db::begin(db).await?;
    let report = payments(&txn, stripe, since, progress).await;
    txn.rollback().await?;
    report
}

/// `subscriptions`, in a transaction that is rolled back.
pub async fn check_subscriptions(
    db: &DatabaseConnection,
    stripe: &StripeClient,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, ApiError> {
    let txn = crate::db::begin(db).await?;
    let report = subscriptions(&txn, stripe, progress).await;
    txn.rollback().await?;
    report
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
            None => report.missing("payment", &pi.id),
            Some(b) => report.compare(
                "payment",
                &pi.id,
                &[
                    (
                        "status",
                        Some(b.status.to_string()),
                        Some(after.status.to_string()),
                    ),
                    ("card_last4", b.card_last4, after.card_last4),
                    ("failure_code", b.failure_code, after.failure_code),
                ],
            ),
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
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        match before {
            None => report.missing("subscription", &sub.id),
            Some(b) => report.compare(
                "subscription",
                &sub.id,
                &[
                    (
                        "status",
                        Some(b.status.to_string()),
                        Some(after.status.to_string()),
                    ),
                    (
                        "cancel_at_period_end",
                        Some(b.cancel_at_period_end.to_string()),
                        Some(after.cancel_at_period_end.to_string()),
                    ),
                    (
                        "current_period_end",
                        time(b.current_period_end),
                        time(after.current_period_end),
                    ),
                ],
            ),
        }
    }
    Ok(report)
}
