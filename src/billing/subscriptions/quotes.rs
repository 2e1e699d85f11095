//! Quoting a plan change (`previewSubscriptionChange`): what Stripe says the change would
//! invoice now at a fixed proration date and what the next regular invoice comes to, kept as a
//! quote that expires, together with the subscription's state at Stripe when quoted (its
//! `basis`). `commit` applies exactly that change, or refuses if the basis moved.
//!
//! Stripe documents the pattern: preview with `subscription_details.proration_date`, then
//! update with the same `proration_date` (https://docs.stripe.com/billing/subscriptions/prorations#preview-proration).

use chrono::{DateTime, Duration, Utc};
use entity::{prices, subscription_quotes, subscriptions};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::{create::recurring_price, lookup::owned, SubscriptionStatus};
use crate::{
    auth::Viewer,
    billing::{customers, discounts, invoices::Line},
    error::ApiError,
    stripe::{
        objects::{self, timestamp},
        requests::{invoice as invoice_req, subscription as req},
        StripeClient,
    },
};

/// How long a quote may be committed (the default, ten minutes).
pub const QUOTE_TTL: Duration = Duration::minutes(10);

/// A change a customer asks to be quoted: another price, another quantity, a code; omitted
/// parts stay as they are.
#[derive(Debug, Clone)]
pub struct ChangeRequest {
    pub subscription_id: String,
    pub price_id: Option<String>,
    pub quantity: Option<i32>,
    pub promotion_code: Option<String>,
}

/// What a subscription looked like at Stripe: anything a change, a renewal or a cancel moves.
/// Two snapshots with the same basis are billed the same for the same change.
pub fn basis(sub: &objects::Subscription) -> String {
    let (start, end) = sub.period();
    let discounts: Vec<String> = sub
        .discounts
        .iter()
        .flatten()
        .map(|d| d.id().to_string())
        .collect();
    format!(
        "price={};quantity={};period={}-{};status={};cancel_at_period_end={};cancel_at={};\
         discounts={};latest_invoice={}",
        sub.price_id().unwrap_or_default(),
        sub.quantity(),
        start.unwrap_or_default(),
        end.unwrap_or_default(),
        sub.status.as_str(),
        sub.cancel_at_period_end,
        sub.cancel_at.unwrap_or_default(),
        discounts.join(","),
        sub.latest_invoice
            .as_ref()
            .map(|i| i.id())
            .unwrap_or_default(),
    )
}

/// Which parts of two bases differ, in words for `QUOTE_STALE` ("price, period").
pub fn what_moved(quoted: &str, now: &str) -> String {
    let parts = |s: &str| -> Vec<(String, String)> {
        s.split(';')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let (a, b) = (parts(quoted), parts(now));
    let moved: Vec<String> = a
        .iter()
        .filter(|(k, v)| {
            b.iter()
                .find(|(k2, _)| k2 == k)
                .is_none_or(|(_, v2)| v2 != v)
        })
        .map(|(k, _)| k.replace('_', " "))
        .collect();
    if moved.is_empty() {
        "it was changed".into()
    } else {
        moved.join(", ")
    }
}

/// The change resolved: the new price and quantity, a redeemable code's Stripe id.
struct Target {
    price: prices::Model,
    quantity: i32,
    promotion_code: Option<String>,
    /// The code's coupon discounts one invoice only (so the invoice made now uses it up).
    code_once: bool,
    /// The price or the quantity changes (not only a code): prorations are invoiced now.
    plan_changes: bool,
}

/// Quotes a change of the viewer's subscription and stores the quote.
pub async fn preview_change(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    change: &ChangeRequest,
) -> Result<subscription_quotes::Model, ApiError> {
    let row = owned(db, viewer, &change.subscription_id).await?;
    if !matches!(
        row.status,
        SubscriptionStatus::Active | SubscriptionStatus::PastDue
    ) {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            format!(
                "a {} subscription cannot be quoted a change (only active or past due ones)",
                row.status
            ),
        ));
    }
    if row.cancel_at_period_end {
        return Err(ApiError::invalid_input(
            "subscriptionId",
            "resume the subscription before changing its plan",
        ));
    }
    let live = super::lookup::live(stripe, &row).await?;
    let target = target(db, stripe, viewer, &row, &live, change).await?;
    let (start, end) = live.period();
    let now = Utc::now().timestamp();
    let proration_date = now.clamp(start.unwrap_or(now), end.unwrap_or(now));
    // Only a code: nothing is prorated, so nothing is invoiced now (Stripe applies it from the
    // next invoice).
    let due_now = match target.plan_changes {
        true => Some(preview(stripe, &row, &live, &target, proration_date, Preview::Now).await?),
        false => None,
    };
    let amount_due = due_now
        .as_ref()
        .map_or(0, |i| i.amount_due.or(i.total).unwrap_or(0));
    // A one-invoice coupon used up by the invoice made now does not discount the next one.
    let next_kind = if target.code_once && amount_due > 0 {
        Preview::NextWithoutCode
    } else {
        Preview::Next
    };
    let next = preview(stripe, &row, &live, &target, proration_date, next_kind).await?;
    let lines: Vec<Line> = due_now
        .iter()
        .flat_map(|i| i.lines.iter().flat_map(|l| &l.data))
        .map(Line::of)
        .collect();
    let created = Utc::now();
    forget_old_quotes(db, created).await?;
    let quote = subscription_quotes::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(viewer.user_id.clone()),
        subscription_id: Set(row.id),
        stripe_price_id: Set(target.price.stripe_price_id.clone()),
        quantity: Set(target.quantity),
        stripe_promotion_code_id: Set(target.promotion_code.clone()),
        proration_date: Set(timestamp(proration_date).unwrap_or(created)),
        currency: Set(target.price.currency.clone()),
        amount_due: Set(amount_due),
        next_invoice_total: Set(next.total.or(next.amount_due).unwrap_or(0)),
        lines: Set(serde_json::to_value(&lines).map_err(ApiError::internal)?),
        basis: Set(basis(&live)),
        expires_at: Set(created + QUOTE_TTL),
        committed_at: Set(None),
        committed_basis: Set(None),
        created_at: Set(created),
    };
    Ok(subscription_quotes::Entity::insert(quote)
        .exec_with_returning(db)
        .await?)
}

async fn target(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    viewer: &Viewer,
    row: &subscriptions::Model,
    live: &objects::Subscription,
    change: &ChangeRequest,
) -> Result<Target, ApiError> {
    let current = match row.price_id {
        Some(id) => prices::Entity::find_by_id(id).one(db).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::invalid_input("subscriptionId", "its price is not in the catalog"))?;
    let price = match &change.price_id {
        Some(id) => recurring_price(db, id).await?,
        None => current.clone(),
    };
    if price.currency != current.currency {
        return Err(ApiError::invalid_input(
            "priceId",
            "the new price must be in the subscription's currency",
        ));
    }
    if price.product_id != current.product_id {
        return Err(ApiError::invalid_input(
            "priceId",
            "a plan change stays within the product; subscribe to another product instead",
        ));
    }
    let quantity = crate::billing::quantity(Some(
        change
            .quantity
            .unwrap_or_else(|| i32::try_from(live.quantity()).unwrap_or(1)),
    ))?;
    let same = price.id == current.id && i64::from(quantity) == live.quantity();
    if same && change.promotion_code.is_none() {
        return Err(ApiError::invalid_input(
            "priceId",
            "this is the current plan: change the price, the quantity or add a code",
        ));
    }
    let (promotion_code, code_once) = match &change.promotion_code {
        Some(code) => {
            let customer = customers::find_for_user(db, &viewer.user_id).await?;
            let amount = discounts::check::before_discount(&price, quantity)?;
            match discounts::resolve_code(db, stripe, code, &price, &amount, customer.as_ref())
                .await?
            {
                Ok(resolved) => (
                    Some(resolved.promotion_code.id),
                    resolved.coupon.duration == "once",
                ),
                Err(refusal) => return Err(ApiError::PromotionCodeInvalid(refusal)),
            }
        }
        None => (None, false),
    };
    Ok(Target {
        price,
        quantity,
        promotion_code,
        code_once,
        plan_changes: !same,
    })
}

/// Which invoice a preview asks Stripe for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Preview {
    /// The one the change makes at once (`always_invoice`).
    Now,
    /// The next regular one on the new plan (`none`).
    Next,
    /// The next regular one, without the code (a one-invoice coupon spent by `Now`).
    NextWithoutCode,
}

/// Stripe's preview of the change: the invoice it makes now or the next regular one.
async fn preview(
    stripe: &StripeClient,
    row: &subscriptions::Model,
    live: &objects::Subscription,
    target: &Target,
    proration_date: i64,
    which: Preview,
) -> Result<objects::Invoice, ApiError> {
    let item = super::lookup::only_item(live)?;
    let mut line = invoice_req::CreatePreviewInvoiceSubscriptionDetailsItems::new();
    line.id = Some(item.id.clone());
    line.price = Some(target.price.stripe_price_id.clone());
    line.quantity = u64::try_from(target.quantity).ok();
    let mut details = invoice_req::CreatePreviewInvoiceSubscriptionDetails::new();
    details.items = Some(vec![line]);
    details.proration_date = Some(proration_date);
    details.proration_behavior = Some(if which == Preview::Now {
        invoice_req::CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::AlwaysInvoice
    } else {
        invoice_req::CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::None
    });
    let mut request = invoice_req::CreatePreviewInvoice::new()
        .customer(live.customer.id().to_string())
        .subscription(row.stripe_subscription_id.clone())
        .subscription_details(details);
    if let Some(code) = target
        .promotion_code
        .as_ref()
        .filter(|_| which != Preview::NextWithoutCode)
    {
        let mut discount = invoice_req::CreatePreviewInvoiceDiscounts::new();
        discount.promotion_code = Some(code.clone());
        request = request.discounts(vec![discount]);
    }
    Ok(stripe.send(&request, None).await?)
}

/// Quotes nobody committed, a day past their expiry, are forgotten (the table stays small
/// however many previews are asked for).
async fn forget_old_quotes(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    subscription_quotes::Entity::delete_many()
        .filter(subscription_quotes::Column::CommittedAt.is_null())
        .filter(subscription_quotes::Column::ExpiresAt.lt(now - Duration::days(1)))
        .exec(db)
        .await?;
    Ok(())
}

/// A quote of the viewer's; another user's (or none) is `NOT_FOUND`.
pub async fn find_quote(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> Result<subscription_quotes::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("quote"))?;
    let quote = subscription_quotes::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("quote"))?;
    if quote.user_id != viewer.user_id {
        return Err(ApiError::NotFound("quote"));
    }
    Ok(quote)
}

/// The update that applies a quote: its items, its proration date, invoiced and charged now,
/// refused (nothing applied) when the charge fails.
pub fn update_request(
    quote: &subscription_quotes::Model,
    row: &subscriptions::Model,
    live: &objects::Subscription,
) -> Result<req::UpdateSubscription, ApiError> {
    let item = super::lookup::only_item(live)?;
    let mut update = req::UpdateSubscriptionItems::new();
    update.id = Some(item.id.clone());
    update.price = Some(quote.stripe_price_id.clone());
    update.quantity = u64::try_from(quote.quantity).ok();
    let mut request = req::UpdateSubscription::new(row.stripe_subscription_id.as_str())
        .items(vec![update])
        .proration_date(quote.proration_date.timestamp())
        .proration_behavior(req::UpdateSubscriptionProrationBehavior::AlwaysInvoice)
        .payment_behavior(req::UpdateSubscriptionPaymentBehavior::ErrorIfIncomplete)
        .expand(vec![
            "latest_invoice.confirmation_secret".to_string(),
            "discounts".to_string(),
        ]);
    if let Some(code) = &quote.stripe_promotion_code_id {
        request = request.discounts(vec![req::DiscountsDataParam {
            promotion_code: Some(code.clone()),
            ..Default::default()
        }]);
    }
    Ok(request)
}

/// Whether a quote is past its expiry.
pub fn expired(quote: &subscription_quotes::Model, now: DateTime<Utc>) -> bool {
    now >= quote.expires_at
}
