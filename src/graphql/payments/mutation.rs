//! The money-moving payment mutations: create, confirm and cancel a payment, refund one.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject, ID};

use super::{
    super::context,
    types::{Payment, Refund, RefundReason},
};
use crate::{
    billing::{self, refunds::RefundRequest},
    error::GqlResult,
};

/// Pay an amount (`amount` + `currency`) or a one-time price (`priceId`).
#[derive(InputObject)]
pub struct CreatePaymentIntentInput {
    /// Decimal amount in major units ("12.50"; "15000" for KRW).
    pub amount: Option<String>,
    /// ISO-4217 code, with `amount`.
    pub currency: Option<String>,
    /// A one-time price instead of amount + currency.
    pub price_id: Option<ID>,
    /// Units of `priceId` (1 to 10,000): the amount is the unit amount × quantity. With
    /// `amount`, which is already the total, only 1.
    #[graphql(default = 1)]
    pub quantity: Option<i32>,
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
            super::super::ids::optional_payment_method_id(input.payment_method_id.as_deref())?;
        let request = billing::payments::NewPayment {
            amount: input.amount,
            currency: input.currency,
            price_id: input.price_id.map(|id| id.0),
            quantity: input.quantity,
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
        let payment_method_id = super::super::ids::payment_method_id(&input.payment_method_id)?;
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
