//! Mirror of Stripe prices. Amounts are minor units of `currency`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub stripe_price_id: String,
    pub product_id: Uuid,
    pub stripe_product_id: String,
    /// Lower-case ISO-4217 code.
    pub currency: String,
    /// None for prices Tollgate cannot charge as a fixed amount (tiered, customer-chosen).
    pub unit_amount: Option<i64>,
    /// None for one-time prices.
    pub recurring_interval: Option<super::statuses::PriceInterval>,
    pub recurring_interval_count: Option<i32>,
    /// Days of free trial the price offers (Stripe's `recurring.trial_period_days`, 1–730);
    /// None when it offers none, and for one-time prices.
    pub trial_period_days: Option<i32>,
    pub active: bool,
    pub nickname: Option<String>,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::products::Entity",
        from = "Column::ProductId",
        to = "super::products::Column::Id"
    )]
    Product,
}

impl Related<super::products::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
