//! Mirror of Stripe promotion codes: the customer-facing codes of a coupon.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "promotion_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub stripe_promotion_code_id: String,
    /// As created; Stripe matches codes case-insensitively.
    pub code: String,
    pub stripe_coupon_id: String,
    pub active: bool,
    pub max_redemptions: Option<i32>,
    pub times_redeemed: i32,
    pub expires_at: Option<DateTimeUtc>,
    pub first_time_transaction: bool,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
