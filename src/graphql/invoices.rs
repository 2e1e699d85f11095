//! Invoices: what a customer was billed, with every line, the hosted page and the PDF; the
//! viewer's own as a Relay connection, one by id, and every one for admins.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{invoices, payments, prices, subscriptions};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    catalog::Price,
    context,
    money::MoneyType,
    payments::{PageInfo, Payment},
    subscriptions::Subscription,
};
use crate::{
    billing::{
        self,
        invoices::{InvoiceFilter, Line},
    },
    error::GqlResult,
    stripe::objects::timestamp,
};

/// One line of an invoice: what it bills, for which period, and whether it prorates a change.
pub struct InvoiceLine {
    pub(crate) line: Line,
    pub(crate) currency: String,
}

/// One line of an invoice: what it bills, for which period, and whether it prorates a change.
#[Object]
impl InvoiceLine {
    /// As Stripe words it ("Remaining time on 5 × Team after 17 Dec 2026").
    async fn description(&self) -> Option<&str> {
        self.line.description.as_deref()
    }

    /// Units billed.
    async fn quantity(&self) -> Option<i32> {
        self.line.quantity.and_then(|q| i32::try_from(q).ok())
    }

    /// The price of one unit, for a line that bills whole units (null for prorations).
    async fn unit_amount(&self) -> Option<MoneyType> {
        let q = self.line.quantity.filter(|q| *q > 0)?;
        (!self.line.proration && self.line.amount % q == 0)
            .then(|| MoneyType::from_parts(self.line.amount / q, &self.currency))
    }

    /// The line's amount (negative for a credit of unused time).
    async fn amount(&self) -> MoneyType {
        MoneyType::from_parts(self.line.amount, &self.currency)
    }

    /// True for a proration of a plan change (credit or charge for part of a period).
    async fn proration(&self) -> bool {
        self.line.proration
    }

    /// Start of the period the line bills.
    async fn period_start(&self) -> Option<DateTime<Utc>> {
        self.line.period_start.and_then(timestamp)
    }

    /// End of the period the line bills.
    async fn period_end(&self) -> Option<DateTime<Utc>> {
        self.line.period_end.and_then(timestamp)
    }

    /// The price billed, when it is in the catalog.
    async fn price(&self, ctx: &Context<'_>) -> GqlResult<Option<Price>> {
        let Some(stripe_id) = &self.line.stripe_price_id else {
            return Ok(None);
        };
        let svc = context::services(ctx)?;
        Ok(prices::Entity::find()
            .filter(prices::Column::StripePriceId.eq(stripe_id.as_str()))
            .one(&svc.db)
            .await?
            .map(Price))
    }
}

/// Stripe's invoice statuses.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::InvoiceStatus")]
pub enum InvoiceStatus {
    /// Being prepared; not yet final.
    Draft,
    /// Final and awaiting payment.
    Open,
    /// Paid in full.
    Paid,
    /// Written off: not expected to be paid.
    Uncollectible,
    /// Canceled; nothing is owed.
    Void,
}

/// What a customer was billed: the lines, the totals, the hosted page and the PDF.
pub struct Invoice(pub invoices::Model);

impl Invoice {
    fn money(&self, minor: i64) -> MoneyType {
        MoneyType::from_parts(minor, &self.0.currency)
    }
}

/// What a customer was billed: the lines, the totals, the hosted page and the PDF.
#[Object]
impl Invoice {
    /// Tollgate's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stripe's id (`in_…`).
    async fn stripe_invoice_id(&self) -> &str {
        &self.0.stripe_invoice_id
    }

    /// The number on the invoice, once Stripe finalized it.
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }

    /// Where it stands.
    async fn status(&self) -> InvoiceStatus {
        self.0.status.into()
    }

    /// The lines' total before discounts and tax.
    async fn subtotal(&self) -> MoneyType {
        self.money(self.0.subtotal)
    }

    /// What discounts took off.
    async fn discount_total(&self) -> MoneyType {
        self.money(self.0.discount_total)
    }

    /// Tax.
    async fn tax(&self) -> MoneyType {
        self.money(self.0.tax)
    }

    /// The invoice's total.
    async fn total(&self) -> MoneyType {
        self.money(self.0.total)
    }

    /// What was due (the total less any credit applied).
    async fn amount_due(&self) -> MoneyType {
        self.money(self.0.amount_due)
    }

    /// What was paid.
    async fn amount_paid(&self) -> MoneyType {
        self.money(self.0.amount_paid)
    }

    /// What is still owed.
    async fn amount_remaining(&self) -> MoneyType {
        self.money(self.0.amount_remaining)
    }

    /// Start of the period it bills.
    async fn period_start(&self) -> Option<DateTime<Utc>> {
        self.0.period_start
    }

    /// End of the period it bills.
    async fn period_end(&self) -> Option<DateTime<Utc>> {
        self.0.period_end
    }

    /// Stripe's page for the invoice (view, pay, download).
    async fn hosted_invoice_url(&self) -> Option<&str> {
        self.0.hosted_invoice_url.as_deref()
    }

    /// The invoice as a PDF.
    async fn invoice_pdf(&self) -> Option<&str> {
        self.0.invoice_pdf.as_deref()
    }

    /// Every line (all of Stripe's pages of them).
    async fn lines(&self) -> Vec<InvoiceLine> {
        Line::all_in(&self.0.lines)
            .into_iter()
            .map(|line| InvoiceLine {
                line,
                currency: self.0.currency.clone(),
            })
            .collect()
    }

    /// The subscription it bills, if any.
    async fn subscription(&self, ctx: &Context<'_>) -> GqlResult<Option<Subscription>> {
        let Some(id) = self.0.subscription_id else {
            return Ok(None);
        };
        let svc = context::services(ctx)?;
        Ok(subscriptions::Entity::find_by_id(id)
            .one(&svc.db)
            .await?
            .map(Subscription))
    }

    /// The payment that paid it, if any.
    async fn payment(&self, ctx: &Context<'_>) -> GqlResult<Option<Payment>> {
        let svc = context::services(ctx)?;
        Ok(payments::Entity::find()
            .filter(payments::Column::StripeInvoiceId.eq(self.0.stripe_invoice_id.as_str()))
            .one(&svc.db)
            .await?
            .map(Payment::from))
    }

    /// When Stripe created it.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.stripe_created_at
    }
}

/// One invoice in a page, with the cursor that continues after it (Relay).
#[derive(SimpleObject)]
pub struct InvoiceEdge {
    /// Pass as `after` to continue after this invoice.
    pub cursor: String,
    /// The invoice.
    pub node: Invoice,
}

/// A page of invoices, newest first (Relay).
#[derive(SimpleObject)]
pub struct InvoiceConnection {
    /// The invoices of this page.
    pub edges: Vec<InvoiceEdge>,
    /// Where this page stands.
    pub page_info: PageInfo,
}

async fn connection(
    ctx: &Context<'_>,
    filter: InvoiceFilter,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<InvoiceConnection> {
    let svc = context::services(ctx)?;
    let first = u64::try_from(first.unwrap_or(20).max(1)).unwrap_or(20);
    let page = billing::invoices::page(&svc.db, &filter, first, after.as_deref()).await?;
    let edges: Vec<InvoiceEdge> = page
        .rows
        .into_iter()
        .map(|row| InvoiceEdge {
            cursor: billing::invoices::cursor_of(&row),
            node: Invoice(row),
        })
        .collect();
    Ok(InvoiceConnection {
        page_info: PageInfo {
            has_next_page: page.has_next,
            has_previous_page: false,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
    })
}

#[derive(Default)]
pub struct InvoicesQuery;

#[Object]
impl InvoicesQuery {
    /// The viewer's invoices, newest first.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (1 to 100).", default = 20)] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only invoices in this status.")] status: Option<InvoiceStatus>,
    ) -> GqlResult<InvoiceConnection> {
        let viewer = context::viewer(ctx)?;
        let filter = InvoiceFilter {
            user_id: Some(viewer.user_id.clone()),
            status: status.map(Into::into),
        };
        connection(ctx, filter, first, after).await
    }

    /// One of the viewer's invoices (any for admins); another user's is `NOT_FOUND`.
    async fn invoice(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice's Tollgate id.")] id: ID,
    ) -> GqlResult<Option<Invoice>> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        Ok(Some(Invoice(
            billing::invoices::find_for_viewer(&svc.db, viewer, &id).await?,
        )))
    }

    /// Admin: every invoice, newest first, by status or user.
    async fn admin_invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (1 to 100).", default = 20)] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (`pageInfo.endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only invoices in this status.")] status: Option<InvoiceStatus>,
        #[graphql(desc = "Only this user's invoices (their token's `sub`).")] user_id: Option<
            String,
        >,
    ) -> GqlResult<InvoiceConnection> {
        context::admin(ctx)?;
        let filter = InvoiceFilter {
            user_id,
            status: status.map(Into::into),
        };
        connection(ctx, filter, first, after).await
    }
}
