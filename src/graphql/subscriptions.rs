//! Subscriptions: the viewer's recurring billing, and the mutations that change it.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{prices, subscriptions};
use sea_orm::EntityTrait;

use super::{catalog::Price, context};
use crate::{
    billing::{self, subscriptions::NewSubscription},
    error::{ApiError, GqlResult},
};

/// Stripe's subscription statuses.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::SubscriptionStatus")]
pub enum SubscriptionStatus {
    /// Created, its first payment not yet made (it may need 3-D Secure); Stripe expires it
    /// after 23 hours.
    Incomplete,
    /// The first payment was never made: it ended without starting.
    IncompleteExpired,
    /// In its free trial: access without a charge yet.
    Trialing,
    /// Paid up.
    Active,
    /// The latest renewal failed; Stripe retries it.
    PastDue,
    /// Ended (at the period's end, or at once).
    Canceled,
    /// Renewals failed and retries stopped; it stays open but grants nothing.
    Unpaid,
    /// Paused (a trial that ended without a payment method, or paused by the merchant).
    Paused,
}

/// A recurring charge for one price.
pub struct Subscription(pub subscriptions::Model);

/// A recurring charge for one price.
#[Object]
impl Subscription {
    /// Tollgate's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stripe's id (`sub_…`).
    async fn stripe_subscription_id(&self) -> &str {
        &self.0.stripe_subscription_id
    }

    /// Where the subscription stands, as Stripe says.
    async fn status(&self) -> SubscriptionStatus {
        self.0.status.into()
    }

    /// Whether it grants access now (active or trialing).
    async fn is_active(&self) -> bool {
        self.0.status.grants_access()
    }

    /// The price billed (with its product id); null if the price is not in the catalog.
    async fn price(&self, ctx: &Context<'_>) -> GqlResult<Option<Price>> {
        let Some(id) = self.0.price_id else {
            return Ok(None);
        };
        let svc = context::services(ctx)?;
        Ok(prices::Entity::find_by_id(id)
            .one(&svc.db)
            .await?
            .map(Price))
    }

    /// When the period now paid for began.
    async fn current_period_start(&self) -> Option<DateTime<Utc>> {
        self.0.current_period_start
    }

    /// When the current period ends: the next renewal, or the end of access when canceling.
    async fn current_period_end(&self) -> Option<DateTime<Utc>> {
        self.0.current_period_end
    }

    /// Whole days until the current period ends (0 once it has); null without a period.
    async fn days_until_renewal(&self) -> Option<i64> {
        let end = self.0.current_period_end?;
        Some((end - Utc::now()).num_days().max(0))
    }

    /// When the free trial began, if there is one.
    async fn trial_start(&self) -> Option<DateTime<Utc>> {
        self.0.trial_start
    }

    /// When the free trial ends (the first charge follows), if there is one.
    async fn trial_end(&self) -> Option<DateTime<Utc>> {
        self.0.trial_end
    }

    /// Set to end at the period's end (access continues until then).
    async fn cancel_at_period_end(&self) -> bool {
        self.0.cancel_at_period_end
    }

    /// When it is set to end, if it is.
    async fn cancel_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancel_at
    }

    /// When it was canceled (it may run to its period's end), if it was.
    async fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.0.canceled_at
    }

    /// When it ended for good.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }

    /// Seats: units of the price billed (every invoice is the unit amount × quantity).
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// The coupon discounting it now, if any.
    async fn discount(&self, ctx: &Context<'_>) -> GqlResult<Option<super::discounts::Discount>> {
        super::discounts::Discount::of_subscription(ctx, &self.0).await
    }

    /// Why the customer canceled (Stripe's `cancellation_details.feedback`), if they said.
    async fn cancellation_reason(&self) -> Option<&str> {
        self.0.cancellation_reason.as_deref()
    }

    /// The customer's own words when canceling, if any.
    async fn cancellation_comment(&self) -> Option<&str> {
        self.0.cancellation_comment.as_deref()
    }

    /// The subscriber's user id.
    async fn user_id(&self) -> &str {
        &self.0.user_id
    }

    /// When the subscription was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Largest list returned by the subscription queries.
const MAX_LIST: u64 = 100;

#[derive(Default)]
pub struct SubscriptionsQuery;

#[Object]
impl SubscriptionsQuery {
    /// The viewer's subscriptions, newest first.
    async fn subscriptions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only subscriptions in this status.")] status: Option<SubscriptionStatus>,
    ) -> GqlResult<Vec<Subscription>> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let rows = billing::subscriptions::list(
            &svc.db,
            Some(&viewer.user_id),
            status.map(Into::into),
            MAX_LIST,
        )
        .await?;
        Ok(rows.into_iter().map(Subscription).collect())
    }

    /// One of the viewer's subscriptions (any for admins); another user's is `NOT_FOUND`.
    async fn subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription's Tollgate id.")] id: ID,
    ) -> GqlResult<Option<Subscription>> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        Ok(Some(Subscription(
            billing::subscriptions::find_for_viewer(&svc.db, viewer, &id).await?,
        )))
    }

    /// Admin: every subscription, newest first (at most 100), by status or user.
    async fn admin_subscriptions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only subscriptions in this status.")] status: Option<SubscriptionStatus>,
        #[graphql(desc = "Only this user's subscriptions (their token's `sub`).")] user_id: Option<
            String,
        >,
    ) -> GqlResult<Vec<Subscription>> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let rows = billing::subscriptions::list(
            &svc.db,
            user_id.as_deref(),
            status.map(Into::into),
            MAX_LIST,
        )
        .await?;
        Ok(rows.into_iter().map(Subscription).collect())
    }
}

/// Subscribe the viewer to a recurring price.
#[derive(InputObject)]
pub struct CreateSubscriptionInput {
    /// The recurring price (Tollgate's id) to subscribe to.
    pub price_id: ID,
    /// Charge this card (saved first if needed, and made the default) at once; without it the
    /// SPA confirms the first payment with Stripe.js using the returned `clientSecret`.
    pub payment_method_id: Option<String>,
    /// Start with a free trial of this many days. Omitted: no trial, even when the price
    /// offers one (the SPA passes `price.recurring.trialPeriodDays` when the customer keeps the
    /// trial ticked). At most what the price offers (`INVALID_INPUT` otherwise, and on a price
    /// that offers none); admins may grant up to Stripe's 730 days.
    pub trial_days: Option<i32>,
    /// Seats: units of the price (1 to 10,000). Every invoice is the unit amount × quantity.
    #[graphql(default = 1)]
    pub quantity: Option<i32>,
    /// A customer-facing promotion code (`checkPromotionCode` previews it). A code that cannot
    /// be redeemed is `PROMOTION_CODE_INVALID` with `extensions.reason`, before any charge.
    pub promotion_code: Option<String>,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

/// End a subscription, now or at its period's end.
#[derive(InputObject)]
pub struct CancelSubscriptionInput {
    /// The subscription (Tollgate's id).
    pub subscription_id: ID,
    /// Keep access until the period ends (default) instead of ending now.
    #[graphql(default = true)]
    pub at_period_end: bool,
    /// Why the customer leaves (sent to Stripe as `cancellation_details.feedback`).
    pub reason: Option<CancellationReason>,
    /// The customer's own words (at most 1,000 characters), shown to admins.
    pub comment: Option<String>,
}

/// Why a customer cancels: Stripe's `cancellation_details.feedback` values.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "billing::subscriptions::CancelReason")]
pub enum CancellationReason {
    /// Customer service was worse than expected.
    CustomerService,
    /// The quality was lower than expected.
    LowQuality,
    /// Some features are missing.
    MissingFeatures,
    /// Another reason.
    Other,
    /// Switched to another service.
    SwitchedService,
    /// Too hard to use.
    TooComplex,
    /// Too expensive.
    TooExpensive,
    /// Not used enough.
    Unused,
}

/// Move a subscription to another price without a quote.
#[derive(InputObject)]
pub struct ChangeSubscriptionPriceInput {
    /// The subscription (Tollgate's id).
    pub subscription_id: ID,
    /// Another recurring price in the same currency.
    pub price_id: ID,
    /// Credit unused time and charge the difference (default).
    #[graphql(default = true)]
    pub prorate: bool,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

/// A new subscription and what the SPA needs to finish its first payment.
#[derive(SimpleObject)]
pub struct SubscriptionPayload {
    /// The subscription, as Stripe answered.
    pub subscription: Subscription,
    /// While the subscription is `INCOMPLETE`: confirm the first payment with Stripe.js
    /// (`confirmCardPayment`, which also handles 3-D Secure).
    pub client_secret: Option<String>,
}

#[derive(Default)]
pub struct SubscriptionsMutation;

#[Object]
impl SubscriptionsMutation {
    /// Subscribes the viewer: `ACTIVE` when the first charge succeeds, `TRIALING` with a trial,
    /// `INCOMPLETE` (with `clientSecret`) while the customer must act, or a card error with
    /// nothing left behind.
    async fn create_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The price to subscribe to, and how to pay.")]
        input: CreateSubscriptionInput,
    ) -> GqlResult<SubscriptionPayload> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let trial_days = input
            .trial_days
            .map(|d| {
                u32::try_from(d)
                    .map_err(|_| ApiError::invalid_input("trialDays", "must be positive"))
            })
            .transpose()?;
        let request = NewSubscription {
            price_id: input.price_id.0,
            payment_method_id: super::ids::optional_payment_method_id(
                input.payment_method_id.as_deref(),
            )?,
            trial_days,
            quantity: billing::quantity(input.quantity)?,
            promotion_code: input.promotion_code,
        };
        let (row, client_secret) = billing::subscriptions::create_subscription(
            &svc.db,
            &svc.stripe,
            viewer,
            request,
            input.idempotency_key.as_deref(),
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(SubscriptionPayload {
            subscription: Subscription(row),
            client_secret,
        })
    }

    /// Cancels at the period's end (default: access continues until `currentPeriodEnd`) or now.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription, and when it ends.")] input: CancelSubscriptionInput,
    ) -> GqlResult<Subscription> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let row = billing::subscriptions::cancel(
            &svc.db,
            &svc.stripe,
            viewer,
            &input.subscription_id,
            input.at_period_end,
            &billing::subscriptions::Cancellation {
                reason: input.reason.map(Into::into),
                comment: input.comment,
            },
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(Subscription(row))
    }

    /// Undoes a pending cancel-at-period-end.
    async fn resume_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription set to cancel at its period's end.")]
        subscription_id: ID,
    ) -> GqlResult<Subscription> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let row = billing::subscriptions::resume(&svc.db, &svc.stripe, viewer, &subscription_id)
            .await?
            .publish(&svc.live, &svc.db)
            .await;
        Ok(Subscription(row))
    }

    /// Moves the subscription to another price (a plan change).
    async fn change_subscription_price(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription and its new price.")]
        input: ChangeSubscriptionPriceInput,
    ) -> GqlResult<Subscription> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let row = billing::subscriptions::change_price(
            &svc.db,
            &svc.stripe,
            viewer,
            &input.subscription_id,
            &input.price_id,
            input.prorate,
            input.idempotency_key.as_deref(),
        )
        .await?
        .publish(&svc.live, &svc.db)
        .await;
        Ok(Subscription(row))
    }
}
