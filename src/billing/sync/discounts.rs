//! The coupons and promotion codes part of `tollgate sync catalog`: every one Stripe lists,
//! mirrored (`billing::discounts`), each field that moved a drift.

use chrono::{DateTime, Utc};
use entity::{coupons, promotion_codes};
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Report, SyncError};
use crate::{
    billing::discounts,
    stripe::{objects, requests, StripeClient},
};

/// Stripe's largest page size.
const PAGE: i64 = 100;

type Compared = Vec<(&'static str, Option<String>, Option<String>)>;

fn coupon_fields(c: &coupons::Model) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("name", c.name.clone()),
        ("percent_off", c.percent_off.clone()),
        ("amount_off", c.amount_off.map(|a| a.to_string())),
        ("currency", c.currency.clone()),
        ("duration", Some(c.duration.clone())),
        ("max_redemptions", c.max_redemptions.map(|m| m.to_string())),
        // (times_redeemed moves with every redemption and no event says so: refreshed, never
        // a drift)
        ("valid", Some(c.valid.to_string())),
        ("deleted", Some(c.deleted.to_string())),
    ]
}

fn promotion_code_fields(p: &promotion_codes::Model) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("code", Some(p.code.clone())),
        ("coupon", Some(p.stripe_coupon_id.clone())),
        ("active", Some(p.active.to_string())),
        ("max_redemptions", p.max_redemptions.map(|m| m.to_string())),
        ("expires_at", p.expires_at.map(|t| t.to_rfc3339())),
    ]
}

fn pair(
    before: Vec<(&'static str, Option<String>)>,
    after: Vec<(&'static str, Option<String>)>,
) -> Compared {
    before
        .into_iter()
        .zip(after)
        .map(|((field, local), (_, stripe))| (field, local, stripe))
        .collect()
}

/// Every coupon and promotion code Stripe lists, mirrored; the fields that moved are drifts.
pub async fn sync_discounts(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    snapshot_at: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let all_coupons: Vec<objects::Coupon> = stripe
        .list_all(|after| {
            let req = requests::coupon::ListCoupon::new().limit(PAGE);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await?;
    report.fetched += all_coupons.len();
    // Deleted at Stripe: no longer listed. Kept here (subscriptions may name them), marked.
    let listed: std::collections::HashSet<&str> =
        all_coupons.iter().map(|c| c.id.as_str()).collect();
    let local = coupons::Entity::find()
        .filter(coupons::Column::Deleted.eq(false))
        .all(db)
        .await?;
    for gone in local
        .iter()
        .filter(|c| !listed.contains(c.stripe_coupon_id.as_str()))
    {
        coupons::Entity::update_many()
            .col_expr(coupons::Column::Deleted, Expr::value(true))
            .col_expr(coupons::Column::Valid, Expr::value(false))
            .filter(coupons::Column::Id.eq(gone.id))
            .exec(db)
            .await?;
        report.deactivated += 1;
        report
            .drifts
            .push(super::Drift::unlisted("coupon", &gone.stripe_coupon_id));
    }
    for c in &all_coupons {
        let before = discounts::find_coupon(db, &c.id).await?;
        let after = discounts::apply_coupon(db, c, snapshot_at).await?;
        match before {
            None => report.missing("coupon", &c.id),
            Some(b) => report.compare(
                "coupon",
                &c.id,
                &pair(coupon_fields(&b), coupon_fields(&after)),
            ),
        }
    }
    let all_codes: Vec<objects::PromotionCode> = stripe
        .list_all(|after| {
            let req = requests::promotion_code::ListPromotionCode::new().limit(PAGE);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await?;
    report.fetched += all_codes.len();
    for p in &all_codes {
        let before = promotion_codes::Entity::find()
            .filter(promotion_codes::Column::StripePromotionCodeId.eq(&p.id))
            .one(db)
            .await?;
        let after = discounts::apply_promotion_code(db, p, snapshot_at).await?;
        match before {
            None => report.missing("promotion_code", &p.id),
            Some(b) => report.compare(
                "promotion_code",
                &p.id,
                &pair(promotion_code_fields(&b), promotion_code_fields(&after)),
            ),
        }
    }
    Ok(())
}
