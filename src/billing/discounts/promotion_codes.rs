//! The promotion code mirror, `createPromotionCode`, and reading a code live from Stripe.

use chrono::{DateTime, Utc};
use entity::{coupons, promotion_codes};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    billing::{
        idempotency,
        mirror::{upsert_guarded, MirrorColumns, Snapshot},
    },
    error::ApiError,
    stripe::{
        ids,
        objects::{self, Expandable},
        requests::{coupon as coupon_req, promotion_code as req},
        IdempotencyKey, StripeClient, StripeError,
    },
};

/// Longest code Tollgate accepts from customers and admins (Stripe: 500; nobody types that).
pub const MAX_CODE_LEN: usize = 64;

/// A code as a customer or admin typed it: letters, digits, `-` and `_` only, so it can go
/// into a Stripe query without surprises.
pub fn parse_code(field: &str, code: &str) -> Result<String, ApiError> {
    let code = code.trim();
    if code.is_empty()
        || code.len() > MAX_CODE_LEN
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid_input(
            field,
            format!("1 to {MAX_CODE_LEN} letters, digits, - or _"),
        ));
    }
    Ok(code.to_string())
}

/// A promotion code an admin asks for. Serialised, it is the idempotency fingerprint.
#[derive(Debug, Clone, Serialize)]
pub struct NewPromotionCode {
    /// The coupon (Tollgate's id).
    pub coupon_id: Uuid,
    pub code: String,
    pub max_redemptions: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub first_time_transaction: bool,
}

/// Creates a promotion code at Stripe and mirrors it at once.
///
/// Idempotent under the admin's key, like every mutation that takes one.
pub async fn create_promotion_code(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    admin_id: &str,
    new: &NewPromotionCode,
    idempotency_key: Option<&str>,
) -> Result<promotion_codes::Model, ApiError> {
    let scope = idempotency::scope(admin_id, idempotency_key, "createPromotionCode", new)?;
    let id = idempotency::run(db, scope.as_ref(), || async {
        let key = idempotency::stripe_key(scope.as_ref(), "promo")?;
        Ok(create_at_stripe(db, stripe, new, Some(&key)).await?.id)
    })
    .await?;
    promotion_codes::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("promotion code"))
}

async fn create_at_stripe(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    new: &NewPromotionCode,
    key: Option<&IdempotencyKey>,
) -> Result<promotion_codes::Model, ApiError> {
    let code = parse_code("code", &new.code)?;
    if new.max_redemptions.is_some_and(|m| m < 1) {
        return Err(ApiError::invalid_input("maxRedemptions", "at least 1"));
    }
    if new.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::invalid_input(
            "expiresAt",
            "must be in the future",
        ));
    }
    let coupon = coupons::Entity::find_by_id(new.coupon_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("coupon"))?;
    if !coupon.valid {
        return Err(ApiError::invalid_input(
            "couponId",
            "this coupon can no longer be redeemed",
        ));
    }
    let mut promotion =
        req::CreatePromotionCodePromotion::new(req::CreatePromotionCodePromotionType::Coupon);
    promotion.coupon = Some(coupon.stripe_coupon_id.clone());
    let mut request = req::CreatePromotionCode::new(promotion).code(code);
    if let Some(n) = new.max_redemptions {
        request = request.max_redemptions(i64::from(n));
    }
    if let Some(t) = new.expires_at {
        request = request.expires_at(t.timestamp());
    }
    if new.first_time_transaction {
        let mut restrictions = req::CreatePromotionCodeRestrictions::new();
        restrictions.first_time_transaction = Some(true);
        request = request.restrictions(restrictions);
    }
    let promo: objects::PromotionCode = stripe.send(&request, key).await?;
    apply_promotion_code(db, &promo, Utc::now()).await
}

/// Writes a Stripe promotion code snapshot taken at `snapshot_at` (never over a newer one).
pub async fn apply_promotion_code(
    db: &impl ConnectionTrait,
    p: &objects::PromotionCode,
    snapshot_at: DateTime<Utc>,
) -> Result<promotion_codes::Model, ApiError> {
    use promotion_codes::Column as C;
    let coupon = p.coupon().map(|c| c.id().to_string()).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("promotion code {} without a coupon", p.id))
    })?;
    let clamp = |v: Option<i64>| v.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let expires_at = p.expires_at.and_then(objects::timestamp);
    let times = clamp(Some(p.times_redeemed)).unwrap_or(0);
    let now = Utc::now();
    let row = promotion_codes::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_promotion_code_id: Set(p.id.clone()),
        code: Set(p.code.clone()),
        stripe_coupon_id: Set(coupon.clone()),
        active: Set(p.active),
        max_redemptions: Set(clamp(p.max_redemptions)),
        times_redeemed: Set(times),
        expires_at: Set(expires_at),
        first_time_transaction: Set(p.first_time_transaction()),
        snapshot_at: Set(snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let existing = find(db, &p.id).await?;
    let snapshot = Snapshot::<promotion_codes::Entity> {
        stripe_id: p.id.clone(),
        snapshot_at,
        insert: row,
        existing: existing.as_ref().map(|e| (e.updated_at, false)),
        values: vec![
            (C::Code, p.code.clone().into()),
            (C::StripeCouponId, coupon.into()),
            (C::Active, p.active.into()),
            (C::MaxRedemptions, clamp(p.max_redemptions).into()),
            (C::TimesRedeemed, times.into()),
            (C::ExpiresAt, expires_at.into()),
            (C::FirstTimeTransaction, p.first_time_transaction().into()),
        ],
    };
    let cols = MirrorColumns {
        stripe_id: C::StripePromotionCodeId,
        snapshot_at: C::SnapshotAt,
        updated_at: C::UpdatedAt,
    };
    upsert_guarded(db, cols, snapshot).await?;
    find(db, &p.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("promotion code row missing")))
}

async fn find(
    db: &impl ConnectionTrait,
    stripe_id: &str,
) -> Result<Option<promotion_codes::Model>, ApiError> {
    Ok(promotion_codes::Entity::find()
        .filter(promotion_codes::Column::StripePromotionCodeId.eq(stripe_id))
        .one(db)
        .await?)
}

/// Mirrored promotion codes, newest first, of one coupon (Tollgate's id) or all.
pub async fn list_promotion_codes(
    db: &impl ConnectionTrait,
    coupon: Option<&coupons::Model>,
) -> Result<Vec<promotion_codes::Model>, ApiError> {
    let mut query =
        promotion_codes::Entity::find().order_by_desc(promotion_codes::Column::CreatedAt);
    if let Some(c) = coupon {
        query = query.filter(promotion_codes::Column::StripeCouponId.eq(&c.stripe_coupon_id));
    }
    Ok(query.all(db).await?)
}

/// A code read live from Stripe with its coupon: the active one with this code (Stripe
/// matches case-insensitively), else the newest inactive one (to say why it is refused).
pub async fn live_by_code(
    stripe: &StripeClient,
    code: &str,
) -> Result<Option<(objects::PromotionCode, objects::Coupon)>, StripeError> {
    let list: objects::List<objects::PromotionCode> = stripe
        .send(&req::ListPromotionCode::new().code(code).limit(10), None)
        .await?;
    let Some(promo) = list
        .data
        .iter()
        .find(|p| p.active)
        .or_else(|| list.data.first())
        .cloned()
    else {
        return Ok(None);
    };
    let coupon = match promo.coupon() {
        Some(Expandable::Object(c)) => (**c).clone(),
        Some(Expandable::Id(id)) => {
            // Stripe's answer, still checked before it becomes part of a URL.
            let Ok(id) = ids::check_coupon_id(id) else {
                return Ok(None);
            };
            stripe
                .send(&coupon_req::RetrieveCoupon::new(id), None)
                .await?
        }
        None => return Ok(None),
    };
    Ok(Some((promo, coupon)))
}
