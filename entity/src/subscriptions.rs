//! Mirror of Stripe subscriptions (one price per subscription).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub customer_id: Uuid,
    #[sea_orm(unique)]
    pub stripe_subscription_id: String,
    pub price_id: Option<Uuid>,
    pub stripe_price_id: String,
    pub status: super::statuses::SubscriptionStatus,
    pub current_period_start: Option<DateTimeUtc>,
    pub current_period_end: Option<DateTimeUtc>,
    pub trial_start: Option<DateTimeUtc>,
    pub trial_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<DateTimeUtc>,
    pub canceled_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub latest_invoice_id: Option<String>,
    /// Seats: the item's quantity (amounts are unit amount × quantity).
    pub quantity: i32,
    /// The coupon discounting it now (Stripe's id), with the promotion code that applied it.
    pub discount_coupon_id: Option<String>,
    pub discount_promotion_code_id: Option<String>,
    pub discount_start: Option<DateTimeUtc>,
    pub discount_end: Option<DateTimeUtc>,
    /// Stripe's `cancellation_details.feedback` (`too_expensive`, …) and the customer's words.
    pub cancellation_reason: Option<String>,
    pub cancellation_comment: Option<String>,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::customers::Entity",
        from = "Column::CustomerId",
        to = "super::customers::Column::Id"
    )]
    Customer,
    #[sea_orm(
        belongs_to = "super::prices::Entity",
        from = "Column::PriceId",
        to = "super::prices::Column::Id"
    )]
    Price,
}

impl Related<super::prices::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Price.def()
    }
}

impl Related<super::customers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Customer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
