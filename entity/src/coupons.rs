//! Mirror of Stripe coupons (from `coupon.*` events, API answers and `tollgate sync catalog`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub stripe_coupon_id: String,
    pub name: Option<String>,
    /// Percent off as a decimal string ("12.5"); exactly one of this and `amount_off`.
    pub percent_off: Option<String>,
    /// Amount off in minor units of `currency`.
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    /// `once`, `repeating` or `forever`.
    pub duration: String,
    pub duration_in_months: Option<i32>,
    pub max_redemptions: Option<i32>,
    pub times_redeemed: i32,
    pub redeem_by: Option<DateTimeUtc>,
    pub valid: bool,
    /// Stripe product ids it is limited to (JSON array); null: every product.
    pub applies_to_products: Option<Json>,
    /// Deleted at Stripe (kept: subscriptions still name it).
    pub deleted: bool,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
