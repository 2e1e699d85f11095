//! The payment types as clients see them: `Payment`, `Refund`, their statuses and disputes.
//! Beside each `#[Object]` is its table for the history plan (`history_plan`): how the plan
//! answers every field of the type, or that the executor does. A test there walks the schema,
//! so a field added here without an entry in its table fails it.

use async_graphql::{Context, Enum, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{payments, refunds};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::super::{
    context,
    loaders::{CustomerKey, PaymentRefundsKey},
    money::MoneyType,
    viewer::Customer,
};
use crate::{
    billing::{self, payments::PaymentRow, refunds::Reason},
    error::GqlResult,
};

/// Where a payment stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::PaymentStatus")]
pub enum PaymentStatus {
    /// Created; waiting for the customer to confirm (or for Stripe's answer).
    Pending,
    /// Stripe is processing it.
    Processing,
    /// The customer must complete an action (3-D Secure) in the SPA.
    RequiresAction,
    /// Paid: the money was captured.
    Succeeded,
    /// The last attempt failed; it may be confirmed again with another payment method.
    Failed,
    /// Canceled before it was paid; nothing was charged.
    Canceled,
    /// Paid, and part of it refunded.
    PartiallyRefunded,
    /// Paid, and all of it refunded.
    Refunded,
}

/// A one-time payment (one Stripe PaymentIntent).
pub struct Payment {
    row: PaymentRow,
    /// A summary row's whole row, read once when the first field needing it is asked for
    /// (the fields it did not read are loaded, never shown as placeholders).
    whole: tokio::sync::OnceCell<payments::Model>,
    /// Its refunds when they were read with the row (a page that asked for them); otherwise
    /// they come through the request's loader.
    refunds: Option<Vec<refunds::Model>>,
}

impl From<payments::Model> for Payment {
    fn from(row: payments::Model) -> Self {
        Payment::new(PaymentRow::Whole(Box::new(row)), None)
    }
}

impl Payment {
    pub(super) fn new(row: PaymentRow, refunds: Option<Vec<refunds::Model>>) -> Self {
        Payment {
            row,
            whole: tokio::sync::OnceCell::new(),
            refunds,
        }
    }

    pub(super) fn row(&self) -> &PaymentRow {
        &self.row
    }

    /// The whole row: this one, or (for a summary) the row as stored now, read once however
    /// many of its other fields the client asks for.
    async fn full(&self, ctx: &Context<'_>) -> GqlResult<&payments::Model> {
        if let Some(row) = self.row.whole() {
            return Ok(row);
        }
        let svc = context::services(ctx)?;
        Ok(self
            .whole
            .get_or_try_init(|| billing::payments::find(&svc.db, self.row.id()))
            .await?)
    }
}

/// A one-time payment (one Stripe PaymentIntent), or one charge of a subscription.
#[Object]
impl Payment {
    /// Tollgate's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.row.id().to_string())
    }

    /// Stripe's PaymentIntent id (`pi_…`); null only while Stripe's answer is awaited.
    async fn stripe_payment_intent_id(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.stripe_payment_intent_id.clone())
    }

    /// The amount charged.
    async fn amount(&self) -> MoneyType {
        MoneyType::from_parts(self.row.amount(), self.row.currency())
    }

    /// How much of it has been refunded.
    async fn amount_refunded(&self) -> MoneyType {
        MoneyType::from_parts(self.row.amount_refunded(), self.row.currency())
    }

    /// Where the payment stands.
    async fn status(&self) -> PaymentStatus {
        self.row.status().into()
    }

    /// What was bought, as the buyer was shown it.
    async fn description(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.description.clone())
    }

    /// Card brand (`visa`, `mastercard`, …) when paid by card.
    async fn card_brand(&self) -> Option<&str> {
        self.row.card_brand()
    }

    /// Last four digits of the card.
    async fn card_last4(&self) -> Option<&str> {
        self.row.card_last4()
    }

    /// Stripe's decline or error code of the last failed attempt.
    async fn failure_code(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.failure_code.clone())
    }

    /// A message about the last failed attempt, fit to show the customer.
    async fn failure_message(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.failure_message.clone())
    }

    /// Stripe's receipt page for the charge (shareable with the customer).
    async fn receipt_url(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.receipt_url.clone())
    }

    /// The receipt's number, once Stripe sent one.
    async fn receipt_number(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.receipt_number.clone())
    }

    /// The invoice it paid (a subscription charge), once mirrored.
    async fn invoice(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<super::super::invoices::Invoice>> {
        let Some(stripe_id) = self.full(ctx).await?.stripe_invoice_id.clone() else {
            return Ok(None);
        };
        let svc = context::services(ctx)?;
        Ok(entity::invoices::Entity::find()
            .filter(entity::invoices::Column::StripeInvoiceId.eq(stripe_id))
            .one(&svc.db)
            .await?
            .map(super::super::invoices::Invoice))
    }

    /// The subscription it was a charge of, if any.
    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<super::super::subscriptions::Subscription>> {
        let Some(id) = self.full(ctx).await?.subscription_id else {
            return Ok(None);
        };
        let svc = context::services(ctx)?;
        Ok(entity::subscriptions::Entity::find_by_id(id)
            .one(&svc.db)
            .await?
            .map(super::super::subscriptions::Subscription))
    }

    /// Whether the customer disputed the charge with their bank.
    async fn disputed(&self) -> bool {
        self.row.disputed()
    }

    /// The dispute, when there is one: where it stands and how much it is for.
    async fn dispute(&self, ctx: &Context<'_>) -> GqlResult<Option<PaymentDispute>> {
        let row = self.full(ctx).await?;
        Ok(row.dispute_status.map(|status| PaymentDispute {
            status: status.into(),
            amount: MoneyType::from_parts(row.dispute_amount, &row.currency),
        }))
    }

    /// The client's own key-value data.
    async fn metadata(&self, ctx: &Context<'_>) -> GqlResult<Json<serde_json::Value>> {
        Ok(Json(self.full(ctx).await?.metadata.clone()))
    }

    /// The payer's user id (the token's `sub`).
    async fn user_id(&self) -> &str {
        self.row.user_id()
    }

    /// The Stripe customer it was charged to.
    async fn customer(&self, ctx: &Context<'_>) -> GqlResult<Option<Customer>> {
        let Some(id) = self.row.customer_id() else {
            return Ok(None);
        };
        let loader = context::loader(ctx)?;
        Ok(loader.load_one(CustomerKey(id)).await?.map(Customer))
    }

    /// Its refunds, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> GqlResult<Vec<Refund>> {
        if let Some(rows) = &self.refunds {
            return Ok(rows.iter().cloned().map(Refund).collect());
        }
        let loader = context::loader(ctx)?;
        let rows = loader
            .load_one(PaymentRefundsKey(self.row.id()))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Refund).collect())
    }

    /// When the payment was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at()
    }

    /// When the local copy last changed.
    async fn updated_at(&self, ctx: &Context<'_>) -> GqlResult<DateTime<Utc>> {
        Ok(self.full(ctx).await?.updated_at)
    }
}

/// Which row a `Payment` field needs: what a summary (`billing::payments::PaymentSummary`)
/// holds, or the whole row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Summary,
    WholeRow,
}

/// A `Payment` leaf the history plan writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentLeaf {
    Typename,
    Id,
    UserId,
    StripePaymentIntentId,
    Status,
    Description,
    CardBrand,
    CardLast4,
    FailureCode,
    FailureMessage,
    Disputed,
    CreatedAt,
    UpdatedAt,
}

/// How the history plan answers a `Payment` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentPlan {
    Leaf(PaymentLeaf),
    Amount,
    AmountRefunded,
    Refunds,
    /// The executor answers it (the plan hands such a document back).
    Executor,
}

/// Every `Payment` field: how the history plan answers it and which row it needs. A page asks
/// for summaries when every field selected needs only a summary.
pub const PAYMENT_FIELDS: &[(&str, PaymentPlan, Needs)] = &[
    (
        "__typename",
        PaymentPlan::Leaf(PaymentLeaf::Typename),
        Needs::Summary,
    ),
    ("id", PaymentPlan::Leaf(PaymentLeaf::Id), Needs::Summary),
    (
        "userId",
        PaymentPlan::Leaf(PaymentLeaf::UserId),
        Needs::Summary,
    ),
    (
        "stripePaymentIntentId",
        PaymentPlan::Leaf(PaymentLeaf::StripePaymentIntentId),
        Needs::WholeRow,
    ),
    ("amount", PaymentPlan::Amount, Needs::Summary),
    (
        "amountRefunded",
        PaymentPlan::AmountRefunded,
        Needs::Summary,
    ),
    (
        "status",
        PaymentPlan::Leaf(PaymentLeaf::Status),
        Needs::Summary,
    ),
    (
        "description",
        PaymentPlan::Leaf(PaymentLeaf::Description),
        Needs::WholeRow,
    ),
    (
        "cardBrand",
        PaymentPlan::Leaf(PaymentLeaf::CardBrand),
        Needs::Summary,
    ),
    (
        "cardLast4",
        PaymentPlan::Leaf(PaymentLeaf::CardLast4),
        Needs::Summary,
    ),
    (
        "failureCode",
        PaymentPlan::Leaf(PaymentLeaf::FailureCode),
        Needs::WholeRow,
    ),
    (
        "failureMessage",
        PaymentPlan::Leaf(PaymentLeaf::FailureMessage),
        Needs::WholeRow,
    ),
    (
        "disputed",
        PaymentPlan::Leaf(PaymentLeaf::Disputed),
        Needs::Summary,
    ),
    (
        "createdAt",
        PaymentPlan::Leaf(PaymentLeaf::CreatedAt),
        Needs::Summary,
    ),
    (
        "updatedAt",
        PaymentPlan::Leaf(PaymentLeaf::UpdatedAt),
        Needs::WholeRow,
    ),
    ("refunds", PaymentPlan::Refunds, Needs::Summary),
    // Through the loader (a summary holds the customer's id).
    ("customer", PaymentPlan::Executor, Needs::Summary),
    ("dispute", PaymentPlan::Executor, Needs::WholeRow),
    ("metadata", PaymentPlan::Executor, Needs::WholeRow),
    ("invoice", PaymentPlan::Executor, Needs::WholeRow),
    ("receiptUrl", PaymentPlan::Executor, Needs::WholeRow),
    ("receiptNumber", PaymentPlan::Executor, Needs::WholeRow),
    ("subscription", PaymentPlan::Executor, Needs::WholeRow),
];

/// Whether a summary row holds what `Payment.{field}` needs (unknown fields: no).
pub fn summary_holds(field: &str) -> bool {
    PAYMENT_FIELDS
        .iter()
        .any(|(name, _, needs)| *name == field && *needs == Needs::Summary)
}

/// Where a refund stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::RefundStatus")]
pub enum RefundStatus {
    /// Sent to the card network; not yet settled.
    Pending,
    /// Stripe needs more from the customer to return the money (rare for cards).
    RequiresAction,
    /// The money is on its way back to the customer.
    Succeeded,
    /// The refund could not be made; the amount counts as paid again.
    Failed,
    /// Canceled before it was made.
    Canceled,
}

/// Why a refund was made.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RefundReason {
    /// The customer was charged twice for the same thing.
    Duplicate,
    /// The charge was not made by the card's owner.
    Fraudulent,
    /// The customer asked for their money back.
    RequestedByCustomer,
}

impl From<RefundReason> for Reason {
    fn from(r: RefundReason) -> Self {
        match r {
            RefundReason::Duplicate => Reason::Duplicate,
            RefundReason::Fraudulent => Reason::Fraudulent,
            RefundReason::RequestedByCustomer => Reason::RequestedByCustomer,
        }
    }
}

/// A stored refund reason as the GraphQL enum; None for one this API does not name.
pub fn refund_reason(stored: &str) -> Option<RefundReason> {
    match stored {
        "duplicate" => Some(RefundReason::Duplicate),
        "fraudulent" => Some(RefundReason::Fraudulent),
        "requested_by_customer" => Some(RefundReason::RequestedByCustomer),
        _ => None,
    }
}

/// Money returned to the customer, in part or in full.
pub struct Refund(pub refunds::Model);

/// Money returned from a payment, whole or in part.
#[Object]
impl Refund {
    /// Tollgate's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The refunded payment's id.
    async fn payment_id(&self) -> ID {
        ID(self.0.payment_id.to_string())
    }

    /// Stripe's refund id (`re_…`); null until Stripe has answered.
    async fn stripe_refund_id(&self) -> Option<&str> {
        self.0.stripe_refund_id.as_deref()
    }

    /// The amount returned.
    async fn amount(&self) -> MoneyType {
        MoneyType::from_parts(self.0.amount, &self.0.currency)
    }

    /// Why it was refunded, when a reason was given.
    async fn reason(&self) -> Option<RefundReason> {
        refund_reason(self.0.reason.as_deref()?)
    }

    /// Where the refund stands.
    async fn status(&self) -> RefundStatus {
        self.0.status.into()
    }

    /// Why Stripe could not refund, when it failed.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }

    /// When the refund was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A `Refund` leaf the history plan writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundLeaf {
    Typename,
    Id,
    PaymentId,
    StripeRefundId,
    Reason,
    Status,
    FailureReason,
    CreatedAt,
}

/// How the history plan answers a `Refund` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPlan {
    Leaf(RefundLeaf),
    Amount,
}

/// Every `Refund` field and how the history plan answers it.
pub const REFUND_FIELDS: &[(&str, RefundPlan)] = &[
    ("__typename", RefundPlan::Leaf(RefundLeaf::Typename)),
    ("id", RefundPlan::Leaf(RefundLeaf::Id)),
    ("paymentId", RefundPlan::Leaf(RefundLeaf::PaymentId)),
    (
        "stripeRefundId",
        RefundPlan::Leaf(RefundLeaf::StripeRefundId),
    ),
    ("amount", RefundPlan::Amount),
    ("reason", RefundPlan::Leaf(RefundLeaf::Reason)),
    ("status", RefundPlan::Leaf(RefundLeaf::Status)),
    ("failureReason", RefundPlan::Leaf(RefundLeaf::FailureReason)),
    ("createdAt", RefundPlan::Leaf(RefundLeaf::CreatedAt)),
];

/// Stripe's dispute statuses (`WON` and `LOST` are outcomes).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::DisputeStatus")]
pub enum DisputeStatus {
    /// An early fraud warning (inquiry) that needs evidence; no money moved yet.
    WarningNeedsResponse,
    /// Evidence for an inquiry was submitted and is being reviewed.
    WarningUnderReview,
    /// The inquiry closed without becoming a dispute.
    WarningClosed,
    /// A dispute that needs evidence before its deadline; the amount is withheld.
    NeedsResponse,
    /// Evidence was submitted; the bank is deciding.
    UnderReview,
    /// Decided for the merchant: the amount is returned.
    Won,
    /// Decided for the customer: the amount is gone (and comes off revenue).
    Lost,
    /// Stopped before it became a dispute (for example by a refund).
    Prevented,
}

/// A customer's dispute of a payment with their bank.
#[derive(SimpleObject)]
pub struct PaymentDispute {
    /// Where the dispute stands (`WON` and `LOST` are outcomes).
    pub status: DisputeStatus,
    /// The disputed amount (taken back if the dispute is lost).
    pub amount: MoneyType,
}

/// Revenue of one currency over a period.
#[derive(SimpleObject)]
pub struct RevenueLine {
    /// Lower-case ISO-4217 currency code.
    pub currency: String,
    /// Everything captured.
    pub gross: MoneyType,
    /// Everything refunded of it.
    pub refunded: MoneyType,
    /// Taken back by disputes lost.
    pub disputes_lost: MoneyType,
    /// Gross minus refunded minus disputes lost.
    pub net: MoneyType,
    /// What coupons took off the captured payments (never charged, so not in `gross`).
    pub discounts: MoneyType,
    /// Monthly recurring revenue now: active and past-due subscriptions (trials are not
    /// revenue), unit amount × quantity less recurring discounts, normalised to a month
    /// (yearly / 12, weekly × 52 / 12, daily × 365 / 12), banker's rounding per subscription.
    pub mrr: MoneyType,
}
