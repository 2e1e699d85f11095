//! Refunds of a payment. A row is written (status `pending`) before Stripe is called, so the
//! amount is reserved in the same transaction that checks the refundable balance.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub payment_id: Uuid,
    /// None until Stripe has answered.
    #[sea_orm(unique)]
    pub stripe_refund_id: Option<String>,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub status: super::statuses::RefundStatus,
    pub failure_reason: Option<String>,
    /// The user who asked for it (None when it came from Stripe).
    pub requested_by: Option<String>,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::payments::Entity",
        from = "Column::PaymentId",
        to = "super::payments::Column::Id"
    )]
    Payment,
}

impl Related<super::payments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Payment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
