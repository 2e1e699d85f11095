//! Payments and refunds: the viewer's history, admin views, and the money-moving mutations.

use async_graphql::{Context, Enum, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{payments, refunds};

use super::{
    context,
    loaders::{CustomerKey, PaymentRefundsKey},
    money::MoneyType,
    viewer::Customer,
};
use crate::{
    billing::{
        self,
        payments::{Cursor, PaymentFilter},
        refunds::{Reason, RefundRequest},
    },
    error::{ApiError, GqlResult},
};

/// Largest page a client may ask for; larger requests are clamped.
pub const MAX_PAGE: i32 = 100;

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
    row: payments::Model,
    /// False for a history page's summary row (`billing::payments::Columns::Summary`): the
    /// fields it did not read are loaded when asked for, never shown as placeholders.
    complete: bool,
    /// A summary row's whole row, read once when the first field needing it is asked for.
    whole: tokio::sync::OnceCell<payments::Model>,
    /// Its refunds when they were read with the row (a page that asked for them); otherwise
    /// they come through the request's loader.
    refunds: Option<Vec<refunds::Model>>,
}

impl From<payments::Model> for Payment {
    fn from(row: payments::Model) -> Self {
        Payment::new(row, true)
    }
}

/// `Payment` fields a summary row holds; a page asking only for these reads fewer columns.
pub(super) const SUMMARY_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "userId",
    "amount",
    "amountRefunded",
    "status",
    "cardBrand",
    "cardLast4",
    "disputed",
    "createdAt",
    "customer",
    "refunds",
];

impl Payment {
    fn new(row: payments::Model, complete: bool) -> Self {
        Payment {
            row,
            complete,
            whole: tokio::sync::OnceCell::new(),
            refunds: None,
        }
    }

    /// The whole row: this one, or (for a summary) the row as stored now, read once however
    /// many of its other fields the client asks for.
    async fn full(&self, ctx: &Context<'_>) -> GqlResult<&payments::Model> {
        if self.complete {
            return Ok(&self.row);
        }
        let svc = context::services(ctx)?;
        Ok(self
            .whole
            .get_or_try_init(|| billing::payments::find(&svc.db, self.row.id))
            .await?)
    }
}

/// A one-time payment (one Stripe PaymentIntent), or one charge of a subscription.
#[Object]
impl Payment {
    /// Tollgate's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Stripe's PaymentIntent id (`pi_…`); null only while Stripe's answer is awaited.
    async fn stripe_payment_intent_id(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.stripe_payment_intent_id.clone())
    }

    /// The amount charged.
    async fn amount(&self) -> MoneyType {
        MoneyType::from_parts(self.row.amount, &self.row.currency)
    }

    /// How much of it has been refunded.
    async fn amount_refunded(&self) -> MoneyType {
        MoneyType::from_parts(self.row.amount_refunded, &self.row.currency)
    }

    /// Where the payment stands.
    async fn status(&self) -> PaymentStatus {
        self.row.status.into()
    }

    /// What was bought, as the buyer was shown it.
    async fn description(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.description.clone())
    }

    /// Card brand (`visa`, `mastercard`, …) when paid by card.
    async fn card_brand(&self) -> Option<&str> {
        self.row.card_brand.as_deref()
    }

    /// Last four digits of the card.
    async fn card_last4(&self) -> Option<&str> {
        self.row.card_last4.as_deref()
    }

    /// Stripe's decline or error code of the last failed attempt.
    async fn failure_code(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.failure_code.clone())
    }

    /// A message about the last failed attempt, fit to show the customer.
    async fn failure_message(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.full(ctx).await?.failure_message.clone())
    }

    /// Whether the customer disputed the charge with their bank.
    async fn disputed(&self) -> bool {
        self.row.disputed
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
        &self.row.user_id
    }

    /// The Stripe customer it was charged to.
    async fn customer(&self, ctx: &Context<'_>) -> GqlResult<Option<Customer>> {
        let Some(id) = self.row.customer_id else {
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
            .load_one(PaymentRefundsKey(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Refund).collect())
    }

    /// When the payment was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When the local copy last changed.
    async fn updated_at(&self, ctx: &Context<'_>) -> GqlResult<DateTime<Utc>> {
        Ok(self.full(ctx).await?.updated_at)
    }
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
pub(super) fn refund_reason(stored: &str) -> Option<RefundReason> {
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

/// Pagination state of a connection (Relay).
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether another page follows (ask for it with `after: endCursor`).
    pub has_next_page: bool,
    /// Always false: pages only go forward.
    pub has_previous_page: bool,
    /// The cursor of this page's first item; null for an empty page.
    pub start_cursor: Option<String>,
    /// The cursor of this page's last item: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A payment and its cursor. The cursor is encoded only when a client asks for it: most pages
/// read `pageInfo.endCursor` alone.
pub struct PaymentEdge(Payment);

/// One payment in a page, with the cursor that continues after it (Relay).
#[Object]
impl PaymentEdge {
    /// Pass as `after` to continue after this payment.
    async fn cursor(&self) -> String {
        Cursor::of(&self.0.row).encode()
    }

    /// The payment.
    async fn node(&self) -> &Payment {
        &self.0
    }
}

/// A page of payments, newest first.
pub struct PaymentConnection {
    edges: Vec<PaymentEdge>,
    page_info: PageInfo,
    filter: PaymentFilter,
}

/// A page of payments, newest first (Relay Cursor Connections).
#[Object]
impl PaymentConnection {
    /// The payments of this page, each with its cursor.
    async fn edges(&self) -> &[PaymentEdge] {
        &self.edges
    }

    /// Where this page is: whether more follow, and the cursors at its ends.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many payments match the filters, across all pages (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<u64> {
        let svc = context::services(ctx)?;
        Ok(billing::payments::count(&svc.db, &self.filter).await?)
    }
}

pub(super) fn page_args(
    first: Option<i32>,
    after: Option<String>,
) -> Result<(u64, Option<Cursor>), ApiError> {
    let first = first.unwrap_or(20);
    if first < 1 {
        return Err(ApiError::invalid_input("first", "must be at least 1"));
    }
    let first = first.min(MAX_PAGE) as u64;
    let after = match after {
        None => None,
        Some(a) => Some(
            Cursor::decode(&a)
                .ok_or_else(|| ApiError::invalid_input("after", "not a cursor from this API"))?,
        ),
    };
    Ok((first, after))
}

/// `payments`: the viewer's own.
pub(super) fn viewer_filter(
    viewer: &crate::auth::Viewer,
    status: Option<PaymentStatus>,
) -> PaymentFilter {
    PaymentFilter {
        user_id: Some(viewer.user_id.clone()),
        status: status.map(Into::into),
        currency: None,
    }
}

/// `adminPayments`: anyone's, as filtered.
pub(super) fn admin_filter(
    status: Option<PaymentStatus>,
    user_id: Option<String>,
    currency: Option<String>,
) -> PaymentFilter {
    PaymentFilter {
        user_id,
        status: status.map(Into::into),
        currency,
    }
}

/// Reads one page: a summary of each row when the query asks only for fields a summary holds
/// (the history page), whole rows otherwise; and the refunds of the whole page in one
/// statement when the query asks for them.
async fn page_for(
    ctx: &Context<'_>,
    filter: PaymentFilter,
    first: u64,
    after: Option<Cursor>,
) -> GqlResult<PaymentConnection> {
    let svc = context::services(ctx)?;
    let nodes = ctx.look_ahead().field("edges").field("node");
    let summary = nodes.selection_fields().iter().all(|node| {
        node.selection_set()
            .all(|f| SUMMARY_FIELDS.contains(&f.name()))
    });
    let columns = if summary {
        billing::payments::Columns::Summary
    } else {
        billing::payments::Columns::All
    };
    let with_refunds = nodes.field("refunds").exists();
    let page =
        billing::payments::list(&svc.db, &filter, first, after, columns, with_refunds).await?;
    Ok(connection(page, filter, !summary))
}

fn connection(
    page: billing::payments::Page,
    filter: PaymentFilter,
    complete: bool,
) -> PaymentConnection {
    let page_info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: false,
        start_cursor: page.rows.first().map(|r| Cursor::of(r).encode()),
        end_cursor: page.rows.last().map(|r| Cursor::of(r).encode()),
    };
    let mut refunds = page.refunds.map(Vec::into_iter);
    let edges: Vec<PaymentEdge> = page
        .rows
        .into_iter()
        .map(|row| {
            let mut payment = Payment::new(row, complete);
            payment.refunds = refunds.as_mut().and_then(Iterator::next);
            PaymentEdge(payment)
        })
        .collect();
    PaymentConnection {
        page_info,
        edges,
        filter,
    }
}

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
    /// Monthly recurring revenue of subscriptions active now (yearly prices count 1/12).
    pub mrr: MoneyType,
}

#[derive(Default)]
pub struct PaymentsQuery;

#[Object]
impl PaymentsQuery {
    /// The viewer's payments, newest first.
    async fn payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 20,
            desc = "How many to return (1–100; larger values are clamped)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor` of the page before).")]
        after: Option<String>,
        #[graphql(desc = "Only payments in this status.")] status: Option<PaymentStatus>,
    ) -> GqlResult<PaymentConnection> {
        let viewer = context::viewer(ctx)?;
        let (first, after) = page_args(first, after)?;
        page_for(ctx, viewer_filter(viewer, status), first, after).await
    }

    /// One of the viewer's payments (any payment for admins). Another user's payment is
    /// `NOT_FOUND`, exactly like one that does not exist.
    async fn payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The payment's Tollgate id.")] id: ID,
    ) -> GqlResult<Option<Payment>> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        Ok(Some(Payment::from(
            billing::payments::find_for_viewer(&svc.db, viewer, &id).await?,
        )))
    }

    /// Admin: every payment, newest first, filtered by status, user or currency.
    async fn admin_payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 20,
            desc = "How many to return (1–100; larger values are clamped)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor` of the page before).")]
        after: Option<String>,
        #[graphql(desc = "Only payments in this status.")] status: Option<PaymentStatus>,
        #[graphql(desc = "Only this user's payments (their token's `sub`).")] user_id: Option<
            String,
        >,
        #[graphql(desc = "Only payments in this currency (lower-case ISO-4217).")] currency: Option<
            String,
        >,
    ) -> GqlResult<PaymentConnection> {
        context::admin(ctx)?;
        let (first, after) = page_args(first, after)?;
        page_for(ctx, admin_filter(status, user_id, currency), first, after).await
    }

    /// Admin: per currency, payments captured in [from, to) (gross, refunded, net) and the
    /// monthly recurring revenue of subscriptions active now.
    async fn revenue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Payments created at or after this moment (default: all).")] from: Option<
            DateTime<Utc>,
        >,
        #[graphql(desc = "Payments created before this moment (default: now).")] to: Option<
            DateTime<Utc>,
        >,
    ) -> GqlResult<Vec<RevenueLine>> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let lines = billing::payments::revenue(&svc.db, from, to).await?;
        let mrr: std::collections::BTreeMap<String, i64> = billing::subscriptions::mrr(&svc.db)
            .await?
            .into_iter()
            .collect();
        let mut currencies: Vec<String> = lines
            .iter()
            .map(|l| l.currency.clone())
            .chain(mrr.keys().cloned())
            .collect();
        currencies.sort();
        currencies.dedup();
        Ok(currencies
            .into_iter()
            .map(|currency| {
                let line = lines.iter().find(|l| l.currency == currency);
                let (gross, refunded, lost) =
                    line.map_or((0, 0, 0), |l| (l.gross, l.refunded, l.disputes_lost));
                RevenueLine {
                    gross: MoneyType::from_parts(gross, &currency),
                    refunded: MoneyType::from_parts(refunded, &currency),
                    disputes_lost: MoneyType::from_parts(lost, &currency),
                    net: MoneyType::from_parts(gross - refunded - lost, &currency),
                    mrr: MoneyType::from_parts(mrr.get(&currency).copied().unwrap_or(0), &currency),
                    currency,
                }
            })
            .collect())
    }
}

/// Pay an amount (`amount` + `currency`) or a one-time price (`priceId`).
#[derive(InputObject)]
pub struct CreatePaymentIntentInput {
    /// Decimal amount in major units ("12.50"; "15000" for KRW).
    pub amount: Option<String>,
    /// ISO-4217 code, with `amount`.
    pub currency: Option<String>,
    /// A one-time price instead of amount + currency.
    pub price_id: Option<ID>,
    /// What is being bought, shown on the payment.
    pub description: Option<String>,
    /// Confirm at once with this payment method (a saved card); otherwise the SPA confirms
    /// with Stripe.js using the returned `clientSecret`.
    pub payment_method_id: Option<String>,
    /// Up to 48 string values, kept with the payment.
    pub metadata: Option<Json<serde_json::Value>>,
    /// One per click: a repeat returns the first result instead of paying twice.
    pub idempotency_key: Option<String>,
}

/// Confirm a pending payment server-side.
#[derive(InputObject)]
pub struct ConfirmPaymentInput {
    /// The pending payment (Tollgate's id).
    pub payment_id: ID,
    /// The card to pay with (`pm_…`).
    pub payment_method_id: String,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

/// Refund a payment, in full or in part.
#[derive(InputObject)]
pub struct RefundPaymentInput {
    /// The payment to refund (Tollgate's id).
    pub payment_id: ID,
    /// Decimal amount; the whole remaining amount when absent.
    pub amount: Option<String>,
    /// Why, as Stripe records it.
    pub reason: Option<RefundReason>,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

/// A payment and what the SPA needs to continue it.
#[derive(SimpleObject)]
pub struct PaymentIntentPayload {
    /// The payment, as Stripe answered.
    pub payment: Payment,
    /// For Stripe.js (`confirmCardPayment`, `handleNextAction`) while the payment is pending
    /// or requires action.
    pub client_secret: Option<String>,
}

#[derive(Default)]
pub struct PaymentsMutation;

#[Object]
impl PaymentsMutation {
    /// Starts a payment. With `paymentMethodId` it is confirmed at once and the result is
    /// `SUCCEEDED`, `REQUIRES_ACTION` (3-D Secure: continue with `clientSecret`) or a card
    /// error; without, it stays `PENDING` for the SPA to confirm with Stripe.js.
    async fn create_payment_intent(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to pay.")] input: CreatePaymentIntentInput,
    ) -> GqlResult<PaymentIntentPayload> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let payment_method_id =
            super::ids::optional_payment_method_id(input.payment_method_id.as_deref())?;
        let request = billing::payments::NewPayment {
            amount: input.amount,
            currency: input.currency,
            price_id: input.price_id.map(|id| id.0),
            description: input.description,
            payment_method_id,
            metadata: input.metadata.map(|j| j.0),
        };
        let (payment, client_secret) = billing::payments::create_payment_intent(
            &svc.db,
            &svc.stripe,
            viewer,
            request,
            input.idempotency_key.as_deref(),
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(PaymentIntentPayload {
            payment: Payment::from(payment),
            client_secret,
        })
    }

    /// Confirms a pending (or failed) payment with a payment method.
    async fn confirm_payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The payment and the card to confirm it with.")]
        input: ConfirmPaymentInput,
    ) -> GqlResult<PaymentIntentPayload> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let payment_method_id = super::ids::payment_method_id(&input.payment_method_id)?;
        let (payment, client_secret) = billing::payments::confirm_payment(
            &svc.db,
            &svc.stripe,
            viewer,
            &input.payment_id,
            &payment_method_id,
            input.idempotency_key.as_deref(),
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(PaymentIntentPayload {
            payment: Payment::from(payment),
            client_secret,
        })
    }

    /// Cancels a payment that has not succeeded.
    async fn cancel_payment_intent(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The pending payment's Tollgate id.")] payment_id: ID,
    ) -> GqlResult<Payment> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let row = billing::payments::cancel_payment(&svc.db, &svc.stripe, viewer, &payment_id)
            .await?
            .publish(&svc.live, &svc.db)
            .await;
        Ok(Payment::from(row))
    }

    /// Refunds a payment: admins always; its owner within the configured refund window.
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The payment, and how much of it to refund.")] input: RefundPaymentInput,
    ) -> GqlResult<Refund> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let request = RefundRequest {
            payment_id: input.payment_id.0,
            amount: input.amount,
            reason: input.reason.map(Into::into),
        };
        let refund = billing::refunds::refund_payment(
            &svc.db,
            &svc.stripe,
            viewer,
            svc.owner_refund_window,
            request,
            input.idempotency_key.as_deref(),
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(Refund(refund))
    }
}
