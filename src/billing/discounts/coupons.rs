//! The coupon mirror: a Stripe coupon snapshot applied to its row (never over a newer one),
//! `createCoupon` (created at Stripe, mirrored at once) and the admin list.

use chrono::{DateTime, Utc};
use entity::{coupons, products};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;

use super::Percent;
use crate::{
    billing::{
        idempotency,
        mirror::{upsert_guarded, MirrorColumns, Snapshot},
    },
    error::ApiError,
    money::Money,
    stripe::{objects, requests::coupon as req, IdempotencyKey, StripeClient},
};

/// How long a coupon keeps discounting a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CouponDuration {
    /// The first invoice only.
    Once,
    /// The invoices of `duration_in_months` months.
    Repeating,
    /// Every invoice.
    Forever,
}

impl CouponDuration {
    pub fn as_str(self) -> &'static str {
        match self {
            CouponDuration::Once => "once",
            CouponDuration::Repeating => "repeating",
            CouponDuration::Forever => "forever",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "once" => Some(CouponDuration::Once),
            "repeating" => Some(CouponDuration::Repeating),
            "forever" => Some(CouponDuration::Forever),
            _ => None,
        }
    }
}

/// A coupon an admin asks for. Serialised, it is the request's idempotency fingerprint.
#[derive(Debug, Clone, Serialize)]
pub struct NewCoupon {
    pub name: Option<String>,
    #[serde(serialize_with = "percent_text")]
    pub percent_off: Option<Percent>,
    #[serde(serialize_with = "money_text")]
    pub amount_off: Option<Money>,
    pub duration: CouponDuration,
    pub duration_in_months: Option<i32>,
    pub max_redemptions: Option<i32>,
    pub redeem_by: Option<DateTime<Utc>>,
    /// Tollgate product ids it is limited to (empty: every product).
    pub product_ids: Vec<Uuid>,
}

fn percent_text<S: serde::Serializer>(p: &Option<Percent>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.map(|p| p.to_string()).unwrap_or_default())
}

fn money_text<S: serde::Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(
        &m.as_ref()
            .map(|m| format!("{} {}", m.minor_units(), m.currency()))
            .unwrap_or_default(),
    )
}

impl NewCoupon {
    /// The rules Stripe enforces, checked before asking it (clear errors naming the field).
    fn check(&self) -> Result<(), ApiError> {
        if self.percent_off.is_some() == self.amount_off.is_some() {
            return Err(ApiError::invalid_input(
                "percentOff",
                "give exactly one of percentOff and amountOff",
            ));
        }
        if let Some(m) = &self.amount_off {
            m.check_chargeable()
                .map_err(|e| ApiError::money("amountOff", e))?;
        }
        match (self.duration, self.duration_in_months) {
            (CouponDuration::Repeating, Some(1..=36)) => {}
            (CouponDuration::Repeating, _) => {
                return Err(ApiError::invalid_input(
                    "durationInMonths",
                    "a REPEATING coupon lasts 1 to 36 months",
                ))
            }
            (_, Some(_)) => {
                return Err(ApiError::invalid_input(
                    "durationInMonths",
                    "only a REPEATING coupon has a number of months",
                ))
            }
            _ => {}
        }
        if self.max_redemptions.is_some_and(|m| m < 1) {
            return Err(ApiError::invalid_input("maxRedemptions", "at least 1"));
        }
        if self.redeem_by.is_some_and(|t| t <= Utc::now()) {
            return Err(ApiError::invalid_input("redeemBy", "must be in the future"));
        }
        if self.name.as_ref().is_some_and(|n| n.chars().count() > 40) {
            return Err(ApiError::invalid_input("name", "at most 40 characters"));
        }
        Ok(())
    }
}

/// Creates a coupon at Stripe and mirrors it at once.
///
/// Idempotent under the admin's key, like every mutation that takes one.
pub async fn create_coupon(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    admin_id: &str,
    new: &NewCoupon,
    idempotency_key: Option<&str>,
) -> Result<coupons::Model, ApiError> {
    let scope = idempotency::scope(admin_id, idempotency_key, "createCoupon", new)?;
    let id = idempotency::run(db, scope.as_ref(), || async {
        let key = idempotency::stripe_key(scope.as_ref(), "coupon")?;
        Ok(create_at_stripe(db, stripe, new, Some(&key)).await?.id)
    })
    .await?;
    coupons::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("coupon"))
}

async fn create_at_stripe(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    new: &NewCoupon,
    key: Option<&IdempotencyKey>,
) -> Result<coupons::Model, ApiError> {
    new.check()?;
    let mut request = req::CreateCoupon::new().duration(match new.duration {
        CouponDuration::Once => stripe_shared::CouponDuration::Once,
        CouponDuration::Repeating => stripe_shared::CouponDuration::Repeating,
        CouponDuration::Forever => stripe_shared::CouponDuration::Forever,
    });
    if let Some(p) = new.percent_off {
        // Two decimals at most: the shortest float text Stripe receives is the decimal itself.
        let value: f64 = p.to_string().parse().map_err(ApiError::internal)?;
        request = request.percent_off(value);
    }
    if let Some(m) = &new.amount_off {
        let currency: stripe_types::Currency = m
            .currency()
            .as_str()
            .parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {});
        request = request.amount_off(m.minor_units()).currency(currency);
    }
    if let Some(n) = new.duration_in_months {
        request = request.duration_in_months(i64::from(n));
    }
    if let Some(n) = new.max_redemptions {
        request = request.max_redemptions(i64::from(n));
    }
    if let Some(t) = new.redeem_by {
        request = request.redeem_by(t.timestamp());
    }
    if let Some(n) = &new.name {
        request = request.name(n.clone());
    }
    if !new.product_ids.is_empty() {
        let stripe_ids = stripe_product_ids(db, &new.product_ids).await?;
        request = request.applies_to(req::CreateCouponAppliesTo {
            products: Some(stripe_ids),
        });
    }
    let coupon: objects::Coupon = stripe.send(&request, key).await?;
    apply_coupon(db, &coupon, Utc::now()).await
}

async fn stripe_product_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<String>, ApiError> {
    let found = products::Entity::find()
        .filter(products::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    if found.len() != ids.len() {
        return Err(ApiError::NotFound("product"));
    }
    Ok(found.into_iter().map(|p| p.stripe_product_id).collect())
}

/// The percent off as stored: the decimal text ("12.5"), or Stripe's number as sent when it
/// has more decimals than Tollgate computes with (such a coupon is shown, never applied here).
fn percent_of(c: &objects::Coupon) -> Option<String> {
    let n = c.percent_off.as_ref()?.to_string();
    Some(Percent::parse(&n).map_or(n, |p| p.to_string()))
}

/// Writes a Stripe coupon snapshot taken at `snapshot_at` (never over a newer one).
pub async fn apply_coupon(
    db: &impl ConnectionTrait,
    c: &objects::Coupon,
    snapshot_at: DateTime<Utc>,
) -> Result<coupons::Model, ApiError> {
    use coupons::Column as C;
    let now = Utc::now();
    let ts = |v: Option<i64>| v.and_then(objects::timestamp);
    let clamp = |v: Option<i64>| v.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let products = c
        .applies_to
        .as_ref()
        .filter(|a| !a.products.is_empty())
        .map(|a| serde_json::Value::from(a.products.clone()));
    let duration = c.duration.clone().unwrap_or_else(|| "once".into());
    let row = coupons::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_coupon_id: Set(c.id.clone()),
        name: Set(c.name.clone()),
        percent_off: Set(percent_of(c)),
        amount_off: Set(c.amount_off),
        currency: Set(c.currency.as_ref().map(|s| s.to_ascii_lowercase())),
        duration: Set(duration.clone()),
        duration_in_months: Set(clamp(c.duration_in_months)),
        max_redemptions: Set(clamp(c.max_redemptions)),
        times_redeemed: Set(clamp(Some(c.times_redeemed)).unwrap_or(0)),
        redeem_by: Set(ts(c.redeem_by)),
        valid: Set(c.valid && !c.deleted),
        applies_to_products: Set(products.clone()),
        deleted: Set(c.deleted),
        snapshot_at: Set(snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let existing = find_coupon(db, &c.id).await?;
    let values: Vec<(C, sea_orm::Value)> = vec![
        (C::Name, c.name.clone().into()),
        (C::PercentOff, percent_of(c).into()),
        (C::AmountOff, c.amount_off.into()),
        (
            C::Currency,
            c.currency.as_ref().map(|s| s.to_ascii_lowercase()).into(),
        ),
        (C::Duration, duration.into()),
        (C::DurationInMonths, clamp(c.duration_in_months).into()),
        (C::MaxRedemptions, clamp(c.max_redemptions).into()),
        (
            C::TimesRedeemed,
            clamp(Some(c.times_redeemed)).unwrap_or(0).into(),
        ),
        (C::RedeemBy, ts(c.redeem_by).into()),
        (C::Valid, (c.valid && !c.deleted).into()),
        (C::AppliesToProducts, products.into()),
        (C::Deleted, c.deleted.into()),
    ];
    let snapshot = Snapshot::<coupons::Entity> {
        stripe_id: c.id.clone(),
        snapshot_at,
        insert: row,
        existing: existing.as_ref().map(|e| (e.updated_at, false)),
        values,
    };
    let cols = MirrorColumns {
        stripe_id: C::StripeCouponId,
        snapshot_at: C::SnapshotAt,
        updated_at: C::UpdatedAt,
    };
    upsert_guarded(db, cols, snapshot).await?;
    find_coupon(db, &c.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("coupon row missing")))
}

pub async fn find_coupon(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<coupons::Model>, ApiError> {
    Ok(coupons::Entity::find()
        .filter(coupons::Column::StripeCouponId.eq(stripe_id))
        .one(db)
        .await?)
}

/// Every mirrored coupon, newest first (deleted ones too: subscriptions may still name them).
pub async fn list_coupons(db: &impl ConnectionTrait) -> Result<Vec<coupons::Model>, ApiError> {
    Ok(coupons::Entity::find()
        .order_by_desc(coupons::Column::CreatedAt)
        .all(db)
        .await?)
}
