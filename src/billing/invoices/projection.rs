//! A Stripe invoice snapshot applied to its row: every line fetched (Stripe embeds the first
//! ten; dj-stripe #1052 lost the rest), the newest snapshot winning, and a paid or voided
//! invoice never walked back by an older or reordered one. Invoices of customers that are not
//! Tollgate's are skipped.

use chrono::{DateTime, Utc};
use entity::{invoices, InvoiceStatus};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use super::Line;
use crate::{
    billing::{customers, subscriptions},
    error::ApiError,
    stripe::{
        ids::InvoiceId,
        objects::{self, timestamp},
        requests::{invoice as invoice_req, invoice_line_item as line_req},
        StripeClient,
    },
};

/// Stripe's largest page.
const PAGE: i64 = 100;

/// Applies an invoice snapshot taken at `snapshot_at`; None for another system's customer.
pub async fn apply(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    inv: &objects::Invoice,
    snapshot_at: DateTime<Utc>,
) -> Result<Option<invoices::Model>, ApiError> {
    let Some(customer_id) = inv.customer.as_ref().map(|c| c.id().to_string()) else {
        return Ok(None);
    };
    let Some(customer) = customers::find_by_stripe_id(db, &customer_id).await? else {
        return Ok(None);
    };
    let status = status_of(inv)?;
    let lines = all_lines(stripe, inv).await?;
    let subscription_id = match inv.subscription_id() {
        Some(s) => subscriptions::find_by_stripe_id(db, &s)
            .await?
            .map(|s| s.id),
        None => None,
    };
    let ts = |v: Option<i64>| v.and_then(timestamp);
    let now = Utc::now();
    let total = inv.total.unwrap_or(0);
    let amount_due = inv.amount_due.unwrap_or(total);
    let amount_paid = inv.amount_paid.unwrap_or(0);
    let row = invoices::ActiveModel {
        id: Set(Uuid::now_v7()),
        stripe_invoice_id: Set(inv.id.clone()),
        user_id: Set(customer.user_id.clone()),
        customer_id: Set(customer.id),
        subscription_id: Set(subscription_id),
        number: Set(inv.number.clone()),
        status: Set(status),
        currency: Set(inv
            .currency
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase()),
        subtotal: Set(inv.subtotal.unwrap_or(total)),
        discount_total: Set(inv.discount_total()),
        tax: Set(inv.tax_total()),
        total: Set(total),
        amount_due: Set(amount_due),
        amount_paid: Set(amount_paid),
        amount_remaining: Set(inv
            .amount_remaining
            .unwrap_or(Ord::max(amount_due - amount_paid, 0))),
        period_start: Set(ts(inv.period_start)),
        period_end: Set(ts(inv.period_end)),
        hosted_invoice_url: Set(inv.hosted_invoice_url.clone()),
        invoice_pdf: Set(inv.invoice_pdf.clone()),
        billing_reason: Set(inv.billing_reason.clone()),
        lines: Set(serde_json::to_value(&lines).map_err(ApiError::internal)?),
        stripe_created_at: Set(ts(inv.created).unwrap_or(now)),
        snapshot_at: Set(snapshot_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    upsert_newer(db, row, snapshot_at, status).await?;
    Ok(invoices::Entity::find()
        .filter(invoices::Column::StripeInvoiceId.eq(&inv.id))
        .one(db)
        .await?)
}

/// An invoice Stripe deleted (only drafts can be): gone from the mirror too.
pub async fn forget(db: &impl ConnectionTrait, stripe_invoice_id: &str) -> Result<(), ApiError> {
    invoices::Entity::delete_many()
        .filter(invoices::Column::StripeInvoiceId.eq(stripe_invoice_id))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Draft))
        .exec(db)
        .await?;
    Ok(())
}

/// Reads an invoice from Stripe (by an id a webhook or an answer named) and applies it.
pub async fn retrieve_and_apply(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    stripe_invoice_id: &str,
) -> Result<Option<invoices::Model>, ApiError> {
    let Ok(id) = InvoiceId::parse(stripe_invoice_id) else {
        return Ok(None); // not an invoice id (a preview's `upcoming_…`): nothing to mirror
    };
    let inv: objects::Invoice = stripe
        .send(&invoice_req::RetrieveInvoice::new(id.as_str()), None)
        .await?;
    apply(db, stripe, &inv, Utc::now()).await
}

fn status_of(inv: &objects::Invoice) -> Result<InvoiceStatus, ApiError> {
    let text = inv.status.as_deref().unwrap_or("draft");
    InvoiceStatus::from_stripe(text).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "invoice {} has status `{}`, which Tollgate does not know",
            inv.id,
            text.chars().take(40).collect::<String>()
        ))
    })
}

/// Every line: the embedded first page, and the rest from `GET /v1/invoices/{id}/lines`.
async fn all_lines(stripe: &StripeClient, inv: &objects::Invoice) -> Result<Vec<Line>, ApiError> {
    let embedded = inv.lines.as_ref();
    if !embedded.is_some_and(|l| l.has_more) {
        return Ok(embedded
            .map(|l| l.data.iter().map(Line::of).collect())
            .unwrap_or_default());
    }
    let id = InvoiceId::parse(&inv.id).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    let all: Vec<objects::InvoiceLine> = stripe
        .list_all(|after| {
            let req = line_req::ListInvoiceInvoiceLineItem::new(id.as_str()).limit(PAGE);
            match after {
                Some(a) => req.starting_after(a),
                None => req,
            }
        })
        .await?;
    Ok(all.iter().map(Line::of).collect())
}

/// Inserts the row, or updates it unless it holds a newer snapshot, or is paid or voided and
/// this snapshot is not (one statement: the guard holds under races).
async fn upsert_newer(
    db: &impl ConnectionTrait,
    row: invoices::ActiveModel,
    snapshot_at: DateTime<Utc>,
    status: InvoiceStatus,
) -> Result<(), ApiError> {
    use invoices::Column as C;
    let newer = Expr::col((invoices::Entity, C::SnapshotAt)).lte(snapshot_at);
    let stored = || Expr::col((invoices::Entity, C::Status));
    let guard = match status {
        // Paid or voided is where an invoice ends: it lands unless the row already ended
        // (snapshot times mix Stripe's whole seconds with our clock, so no time guard here).
        s if s.is_final() => {
            newer.or(stored().is_not_in([InvoiceStatus::Paid, InvoiceStatus::Void]))
        }
        // A draft never replaces a finalized invoice (it would drop its number and pages).
        InvoiceStatus::Draft => newer.and(stored().eq(InvoiceStatus::Draft)),
        _ => newer.and(stored().is_not_in([InvoiceStatus::Paid, InvoiceStatus::Void])),
    };
    let result = invoices::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::StripeInvoiceId)
                .update_columns([
                    C::SubscriptionId,
                    C::Number,
                    C::Status,
                    C::Currency,
                    C::Subtotal,
                    C::DiscountTotal,
                    C::Tax,
                    C::Total,
                    C::AmountDue,
                    C::AmountPaid,
                    C::AmountRemaining,
                    C::PeriodStart,
                    C::PeriodEnd,
                    C::HostedInvoiceUrl,
                    C::InvoicePdf,
                    C::BillingReason,
                    C::Lines,
                    C::SnapshotAt,
                    C::UpdatedAt,
                ])
                .action_and_where(guard)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match result {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
