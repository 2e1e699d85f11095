//! Plan changes quoted, then committed at exactly the quoted price.

use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use entity::subscription_quotes;

use super::{context, invoices::InvoiceLine, money::MoneyType, subscriptions::Subscription};
use crate::{
    billing::{self, invoices::Line},
    error::GqlResult,
};

/// What a plan change costs, as Stripe computed it: commit it with `changeSubscription`
/// before `expiresAt` to be charged exactly `amountDue`.
pub struct SubscriptionChangeQuote(pub subscription_quotes::Model);

/// What a plan change costs, as Stripe computed it: commit it with `changeSubscription`
/// before `expiresAt` to be charged exactly `amountDue`.
#[Object]
impl SubscriptionChangeQuote {
    /// The quote's id (for `changeSubscription`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The subscription it changes (Tollgate's id).
    async fn subscription_id(&self) -> ID {
        ID(self.0.subscription_id.to_string())
    }

    /// The lines invoiced when the change is committed: credit for unused time on the old plan,
    /// charge for the rest of the period on the new one.
    async fn lines(&self) -> Vec<InvoiceLine> {
        Line::all_in(&self.0.lines)
            .into_iter()
            .map(|line| InvoiceLine {
                line,
                currency: self.0.currency.clone(),
            })
            .collect()
    }

    /// Charged at once when committed (zero when the change credits more than it costs).
    async fn amount_due(&self) -> MoneyType {
        MoneyType::from_parts(self.0.amount_due, &self.0.currency)
    }

    /// The next regular invoice on the new plan.
    async fn next_invoice_total(&self) -> MoneyType {
        MoneyType::from_parts(self.0.next_invoice_total, &self.0.currency)
    }

    /// The moment the prorations are computed for; the commit uses the same.
    async fn proration_date(&self) -> DateTime<Utc> {
        self.0.proration_date
    }

    /// After this, committing is `QUOTE_EXPIRED`.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// Units on the new plan.
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
}

/// A plan change to quote; what is omitted stays as it is.
#[derive(InputObject)]
pub struct SubscriptionChangeInput {
    /// The subscription (Tollgate's id).
    pub subscription_id: ID,
    /// Another recurring price of the same product and currency.
    pub price_id: Option<ID>,
    /// Another number of seats (1 to 10,000).
    pub quantity: Option<i32>,
    /// A promotion code to apply with the change.
    pub promotion_code: Option<String>,
}

/// Commit a quote.
#[derive(InputObject)]
pub struct ChangeSubscriptionInput {
    /// The subscription (Tollgate's id).
    pub subscription_id: ID,
    /// The quote from `previewSubscriptionChange`.
    pub quote_id: ID,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
pub struct QuotesQuery;

#[Object]
impl QuotesQuery {
    /// Quotes a plan change of the viewer's subscription at Stripe: what it invoices now and
    /// the next invoice after it. Valid for ten minutes; nothing changes until committed.
    async fn preview_subscription_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change to quote.")] input: SubscriptionChangeInput,
    ) -> GqlResult<SubscriptionChangeQuote> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let change = billing::subscriptions::ChangeRequest {
            subscription_id: input.subscription_id.0,
            price_id: input.price_id.map(|p| p.0),
            quantity: input.quantity,
            promotion_code: input.promotion_code,
        };
        Ok(SubscriptionChangeQuote(
            billing::subscriptions::preview_change(&svc.db, &svc.stripe, viewer, &change).await?,
        ))
    }
}

#[derive(Default)]
pub struct QuotesMutation;

#[Object]
impl QuotesMutation {
    /// Applies a quote: the quoted change with its proration date, charged at once exactly the
    /// quoted `amountDue`. `QUOTE_STALE` when the subscription changed since (nothing is
    /// charged), `QUOTE_EXPIRED` after `expiresAt`, a card error when the charge fails (and
    /// the change is not applied).
    async fn change_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription and its quote.")] input: ChangeSubscriptionInput,
    ) -> GqlResult<Subscription> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let row = billing::subscriptions::change_subscription(
            &svc.db,
            &svc.stripe,
            viewer,
            &input.subscription_id,
            &input.quote_id,
            input.idempotency_key.as_deref(),
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(Subscription(row))
    }
}
