//! A quoted plan change: what Stripe said the change would cost at `proration_date`, kept so the
//! commit applies exactly it (or refuses when the subscription moved meanwhile).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_quotes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The viewer it was quoted for; nobody else may commit it.
    pub user_id: String,
    pub subscription_id: Uuid,
    pub stripe_price_id: String,
    pub quantity: i32,
    pub stripe_promotion_code_id: Option<String>,
    pub proration_date: DateTimeUtc,
    pub currency: String,
    /// Charged when the change is committed (minor units).
    pub amount_due: i64,
    /// The first regular invoice after the change (minor units).
    pub next_invoice_total: i64,
    /// The invoice lines due now (JSON array of `QuoteLine`).
    pub lines: Json,
    /// The subscription's state at Stripe when quoted (price, quantity, period, status,
    /// cancellation, discount); any difference at commit makes the quote stale.
    pub basis: String,
    pub expires_at: DateTimeUtc,
    /// When it was sent to Stripe, and the basis it was committed from (unique per
    /// subscription: one state is committed from once).
    pub committed_at: Option<DateTimeUtc>,
    pub committed_basis: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
