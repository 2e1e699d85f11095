//! `tollgate sync payments --since …`: PaymentIntents created since then, applied as fresh
//! snapshots (`billing::payments`), adopting those of known customers made outside Tollgate.

use chrono::{DateTime, Utc};
use entity::payments;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Report, SyncError};
use crate::{
    billing::payments as payment_rules,
    stripe::{objects, requests::payment_intent as pi_req, StripeClient},
};

/// Stripe's largest page size.
const PAGE: i64 = 100;

/// PaymentIntents created since `since`.
pub async fn sync_payments(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    since: DateTime<Utc>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, SyncError> {
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
            Some(b) => report.compare("payment", &pi.id, &compared(b, after)),
        }
        progress(i + 1, all.len());
    }
    Ok(report)
}

/// The fields compared with Stripe: (name, local, Stripe's), as text.
fn compared(
    local: payments::Model,
    stripe: payments::Model,
) -> [(&'static str, Option<String>, Option<String>); 3] {
    [
        (
            "status",
            Some(local.status.to_string()),
            Some(stripe.status.to_string()),
        ),
        ("card_last4", local.card_last4, stripe.card_last4),
        ("failure_code", local.failure_code, stripe.failure_code),
    ]
}
