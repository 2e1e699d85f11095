//! Coupons, promotion codes and discounts, read in today's shapes (`promotion.coupon`,
//! `discount.source.coupon`, a subscription's `discounts` list) and the legacy ones (`coupon`
//! objects, a subscription's single `discount`).

use serde::Deserialize;

use super::{null_as_default, Expandable, HasId, Metadata};

/// https://docs.stripe.com/api/coupons/object
#[derive(Debug, Clone, Deserialize)]
pub struct Coupon {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// A JSON number (`25.5`); kept as it was written so no float rounding happens here.
    #[serde(default)]
    pub percent_off: Option<serde_json::Number>,
    #[serde(default)]
    pub amount_off: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub duration_in_months: Option<i64>,
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub times_redeemed: i64,
    #[serde(default)]
    pub redeem_by: Option<i64>,
    #[serde(default = "yes")]
    pub valid: bool,
    #[serde(default)]
    pub applies_to: Option<AppliesTo>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppliesTo {
    #[serde(default)]
    pub products: Vec<String>,
}

/// https://docs.stripe.com/api/promotion_codes/object
#[derive(Debug, Clone, Deserialize)]
pub struct PromotionCode {
    pub id: String,
    pub code: String,
    /// Today: `promotion: { type: "coupon", coupon }`.
    #[serde(default)]
    pub promotion: Option<Promotion>,
    /// Before API 2025-09-30: the coupon object itself.
    #[serde(default)]
    pub coupon: Option<Expandable<Coupon>>,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub times_redeemed: i64,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub restrictions: Option<Restrictions>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Promotion {
    #[serde(default)]
    pub coupon: Option<Expandable<Coupon>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Restrictions {
    #[serde(default)]
    pub first_time_transaction: bool,
}

impl PromotionCode {
    /// Its coupon, whichever shape named it.
    pub fn coupon(&self) -> Option<&Expandable<Coupon>> {
        self.promotion
            .as_ref()
            .and_then(|p| p.coupon.as_ref())
            .or(self.coupon.as_ref())
    }

    pub fn first_time_transaction(&self) -> bool {
        self.restrictions
            .as_ref()
            .is_some_and(|r| r.first_time_transaction)
    }
}

/// https://docs.stripe.com/api/discounts/object
#[derive(Debug, Clone, Deserialize)]
pub struct Discount {
    #[serde(default)]
    pub id: Option<String>,
    /// Legacy: the coupon object.
    #[serde(default)]
    pub coupon: Option<Expandable<Coupon>>,
    /// Today: `source: { type: "coupon", coupon }`.
    #[serde(default)]
    pub source: Option<Promotion>,
    #[serde(default)]
    pub promotion_code: Option<Expandable<PromotionCode>>,
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
}

impl Discount {
    pub fn coupon(&self) -> Option<&Expandable<Coupon>> {
        self.source
            .as_ref()
            .and_then(|s| s.coupon.as_ref())
            .or(self.coupon.as_ref())
    }
}

/// What an invoice's discounts took off (`total_discount_amounts`).
#[derive(Debug, Clone, Deserialize)]
pub struct DiscountAmount {
    pub amount: i64,
}

impl HasId for Coupon {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for PromotionCode {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Discount {
    fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }
}
