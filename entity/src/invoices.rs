//! Mirror of Stripe invoices (from `invoice.*` events, API answers and `tollgate sync invoices`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub stripe_invoice_id: String,
    pub user_id: String,
    pub customer_id: Uuid,
    pub subscription_id: Option<Uuid>,
    /// Assigned by Stripe when the invoice is finalized.
    pub number: Option<String>,
    pub status: super::statuses::InvoiceStatus,
    pub currency: String,
    /// Minor units of `currency`.
    pub subtotal: i64,
    pub discount_total: i64,
    pub tax: i64,
    pub total: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub amount_remaining: i64,
    pub period_start: Option<DateTimeUtc>,
    pub period_end: Option<DateTimeUtc>,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
    pub billing_reason: Option<String>,
    /// Every line (all pages), JSON array of `InvoiceLine`s as Tollgate stores them.
    pub lines: Json,
    /// Stripe's `created`: the order of a customer's invoices.
    pub stripe_created_at: DateTimeUtc,
    pub snapshot_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
