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
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

/// A recurring charge for one price.
pub struct Subscription(pub subscriptions::Model);

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

    async fn trial_start(&self) -> Option<DateTime<Utc>> {
        self.0.trial_start
    }

    async fn trial_end(&self) -> Option<DateTime<Utc>> {
        self.0.trial_end
    }

    /// Set to end at the period's end (access continues until then).
    async fn cancel_at_period_end(&self) -> bool {
        self.0.cancel_at_period_end
    }

    async fn cancel_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancel_at
    }

    async fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.0.canceled_at
    }

    /// When it ended for good.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }

    /// The subscriber's user id.
    async fn user_id(&self) -> &str {
        &self.0.user_id
    }

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
        status: Option<SubscriptionStatus>,
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
    async fn subscription(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Subscription>> {
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
        status: Option<SubscriptionStatus>,
        user_id: Option<String>,
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
    pub price_id: ID,
    /// Charge this card (saved first if needed, and made the default) at once; without it the
    /// SPA confirms the first payment with Stripe.js using the returned `clientSecret`.
    pub payment_method_id: Option<String>,
    /// Start with a free trial of this many days. Omitted: no trial, even when the price
    /// offers one (the SPA passes `price.recurring.trialPeriodDays` when the customer keeps the
    /// trial ticked). At most what the price offers (`INVALID_INPUT` otherwise, and on a price
    /// that offers none); admins may grant up to Stripe's 730 days.
    pub trial_days: Option<i32>,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct CancelSubscriptionInput {
    pub subscription_id: ID,
    /// Keep access until the period ends (default) instead of ending now.
    #[graphql(default = true)]
    pub at_period_end: bool,
}

#[derive(InputObject)]
pub struct ChangeSubscriptionPriceInput {
    pub subscription_id: ID,
    /// Another recurring price in the same currency.
    pub price_id: ID,
    /// Credit unused time and charge the difference (default).
    #[graphql(default = true)]
    pub prorate: bool,
    pub idempotency_key: Option<String>,
}

/// A new subscription and what the SPA needs to finish its first payment.
#[derive(SimpleObject)]
pub struct SubscriptionPayload {
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
        input: CancelSubscriptionInput,
    ) -> GqlResult<Subscription> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let row = billing::subscriptions::cancel(
            &svc.db,
            &svc.stripe,
            viewer,
            &input.subscription_id,
            input.at_period_end,
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
