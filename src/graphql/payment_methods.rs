//! Saved payment methods: setting up, attaching, detaching and choosing the default.

use async_graphql::{Context, Object, SimpleObject, ID};
use entity::payment_methods;

use super::context;
use crate::{billing, error::GqlResult};

/// A saved card (never its number).
pub struct PaymentMethod {
    pub row: payment_methods::Model,
    pub is_default: bool,
}

/// A saved card (never its number).
#[Object]
impl PaymentMethod {
    /// Tollgate's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Stripe's id (`pm_…`), as Stripe.js knows it.
    async fn stripe_payment_method_id(&self) -> &str {
        &self.row.stripe_payment_method_id
    }

    /// `card`, or another Stripe payment method type.
    #[graphql(name = "type")]
    async fn method_type(&self) -> &str {
        &self.row.method_type
    }

    /// Card brand (`visa`, `mastercard`, …).
    async fn brand(&self) -> Option<&str> {
        self.row.brand.as_deref()
    }

    /// The card number's last four digits.
    async fn last4(&self) -> Option<&str> {
        self.row.last4.as_deref()
    }

    /// The card's expiry month (1–12).
    async fn exp_month(&self) -> Option<i32> {
        self.row.exp_month
    }

    /// The card's expiry year (four digits).
    async fn exp_year(&self) -> Option<i32> {
        self.row.exp_year
    }

    /// Whether subscriptions and invoices charge it by default.
    async fn is_default(&self) -> bool {
        self.is_default
    }
}

/// What Stripe.js needs to save a card (`confirmCardSetup`).
#[derive(SimpleObject)]
pub struct SetupIntentPayload {
    /// Pass to Stripe.js `confirmCardSetup` to save the card.
    pub client_secret: String,
}

#[derive(Default)]
pub struct PaymentMethodsMutation;

#[Object]
impl PaymentMethodsMutation {
    /// Starts saving a card: pass `clientSecret` to Stripe.js `confirmCardSetup`.
    async fn create_setup_intent(&self, ctx: &Context<'_>) -> GqlResult<SetupIntentPayload> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let client_secret =
            billing::payment_methods::create_setup_intent(&svc.db, &svc.stripe, viewer).await?;
        Ok(SetupIntentPayload { client_secret })
    }

    /// Saves a payment method (from Stripe.js) to the viewer; the first becomes the default.
    async fn attach_payment_method(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The card Stripe.js created (`pm_…`).")] payment_method_id: String,
    ) -> GqlResult<PaymentMethod> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let payment_method_id = super::ids::payment_method_id(&payment_method_id)?;
        let row =
            billing::payment_methods::attach(&svc.db, &svc.stripe, viewer, &payment_method_id)
                .await?;
        let customer = billing::customers::find_for_user(&svc.db, &viewer.user_id).await?;
        let is_default = customer
            .and_then(|c| c.default_payment_method_id)
            .is_some_and(|d| d == row.stripe_payment_method_id);
        Ok(PaymentMethod { row, is_default })
    }

    /// Removes a saved payment method (Stripe id or Tollgate id).
    async fn detach_payment_method(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The saved card (`pm_…`) to remove.")] payment_method_id: String,
    ) -> GqlResult<bool> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let payment_method_id = super::ids::payment_method_ref(&payment_method_id)?;
        billing::payment_methods::detach(&svc.db, &svc.stripe, viewer, &payment_method_id).await?;
        Ok(true)
    }

    /// Makes a saved payment method the default (Stripe id or Tollgate id).
    async fn set_default_payment_method(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The saved card (`pm_…`) to charge by default.")]
        payment_method_id: String,
    ) -> GqlResult<PaymentMethod> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let payment_method_id = super::ids::payment_method_ref(&payment_method_id)?;
        let row =
            billing::payment_methods::set_default(&svc.db, &svc.stripe, viewer, &payment_method_id)
                .await?;
        Ok(PaymentMethod {
            row,
            is_default: true,
        })
    }
}
