//! One row per Stripe PaymentIntent made through (or seen by) Tollgate.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub customer_id: Option<Uuid>,
    /// None only while the outcome of the create request at Stripe is unknown.
    #[sea_orm(unique)]
    pub stripe_payment_intent_id: Option<String>,
    /// The key the PaymentIntent was created with, to re-ask Stripe for its outcome.
    pub stripe_idempotency_key: Option<String>,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    pub status: super::statuses::PaymentStatus,
    pub description: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Minor units refunded so far (succeeded refunds).
    pub amount_refunded: i64,
    /// Minor units of refunds requested but not yet settled; reserved so that concurrent
    /// refunds can never add up to more than `amount`.
    pub refund_reserved: i64,
    pub metadata: Json,
    pub price_id: Option<Uuid>,
    pub subscription_id: Option<Uuid>,
    pub stripe_invoice_id: Option<String>,
    pub disputed: bool,
    /// Stripe's dispute status, once the charge is disputed; `won`/`lost` are final.
    pub dispute_status: Option<super::statuses::DisputeStatus>,
    /// Minor units the customer disputed (taken back when the dispute is lost).
    pub dispute_amount: i64,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Units bought of `price_id` (one-time purchases); null for a free amount.
    pub quantity: Option<i32>,
    /// What coupons took off this charge (minor units; the invoice's discounts).
    pub discount_amount: i64,
    /// Stripe's receipt page and number, from the charge.
    pub receipt_url: Option<String>,
    pub receipt_number: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::customers::Entity",
        from = "Column::CustomerId",
        to = "super::customers::Column::Id"
    )]
    Customer,
    #[sea_orm(has_many = "super::refunds::Entity")]
    Refunds,
}

impl Related<super::customers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Customer.def()
    }
}

impl Related<super::refunds::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Refunds.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
