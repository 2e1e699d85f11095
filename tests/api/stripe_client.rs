//! Tollgate's Stripe transport against the emulator: typed builders out, tolerant readers in,
//! idempotency keys honoured, failures classified.

use std::time::Duration;

use tollgate::{
    config::{Secret, StripeConfig},
    stripe::{objects, requests, IdempotencyKey, StripeClient, StripeError},
};

use crate::helpers::{Emulator, STRIPE_SECRET_KEY};

fn client(emu: &Emulator, timeout: Duration) -> StripeClient {
    StripeClient::new(&StripeConfig {
        secret_key: Secret::new(STRIPE_SECRET_KEY),
        api_base: emu.base_url(),
        publishable_key: None,
        js_url: String::new(),
        webhook_secrets: vec![],
        webhook_tolerance: Duration::from_secs(300),
        timeout,
    })
    .expect("client")
}

#[tokio::test]
async fn builds_with_async_stripe_and_reads_tolerantly() {
    let emu = Emulator::start().await;
    let stripe = client(&emu, Duration::from_secs(5));
    let req = requests::customer::CreateCustomer::new().email("reader@example.com");
    let customer: objects::Customer = stripe.send(&req, None).await.expect("create customer");
    assert!(customer.id.starts_with("cus_"));
    assert_eq!(customer.email.as_deref(), Some("reader@example.com"));

    let req = requests::payment_intent::CreatePaymentIntent::new(1250, stripe_types::Currency::USD)
        .customer(customer.id.clone())
        .payment_method("pm_card_visa")
        .confirm(true)
        .expand(vec!["payment_method".to_string()]);
    let pi: objects::PaymentIntent = stripe.send(&req, None).await.expect("pay");
    assert_eq!(pi.status, objects::PaymentIntentStatus::Succeeded);
    assert_eq!(pi.amount, 1250);
    let card = pi
        .payment_method
        .as_ref()
        .and_then(|pm| pm.object())
        .and_then(|pm| pm.card.clone());
    assert_eq!(card.and_then(|c| c.last4).as_deref(), Some("4242"));
}

#[tokio::test]
async fn idempotency_key_yields_one_object() {
    let emu = Emulator::start().await;
    let stripe = client(&emu, Duration::from_secs(5));
    let key = IdempotencyKey::new("tollgate-test-key").expect("key");
    let req = requests::customer::CreateCustomer::new().email("once@example.com");
    let a: objects::Customer = stripe.send(&req, Some(&key)).await.expect("first");
    let b: objects::Customer = stripe.send(&req, Some(&key)).await.expect("replay");
    assert_eq!(a.id, b.id);
    let other = requests::customer::CreateCustomer::new().email("twice@example.com");
    let err = stripe
        .send::<objects::Customer>(&other, Some(&key))
        .await
        .expect_err("reused key");
    assert!(matches!(err, StripeError::Idempotency(_)), "{err:?}");
}

#[tokio::test]
async fn card_errors_keep_code_and_decline_code() {
    let emu = Emulator::start().await;
    let stripe = client(&emu, Duration::from_secs(5));
    let req = requests::payment_intent::CreatePaymentIntent::new(500, stripe_types::Currency::USD)
        .payment_method("pm_card_visa_chargeDeclinedInsufficientFunds")
        .confirm(true);
    let err = stripe
        .send::<objects::PaymentIntent>(&req, None)
        .await
        .expect_err("declined");
    let StripeError::Card(card) = &err else {
        panic!("expected a card error, got {err:?}")
    };
    assert_eq!(card.code.as_deref(), Some("card_declined"));
    assert_eq!(card.decline_code.as_deref(), Some("insufficient_funds"));
    let pi: objects::PaymentIntent = serde_json::from_value(
        card.payment_intent
            .clone()
            .expect("payment intent in error"),
    )
    .expect("reads");
    assert_eq!(
        pi.status,
        objects::PaymentIntentStatus::RequiresPaymentMethod
    );
    let api: tollgate::error::ApiError = err.into();
    assert_eq!(api.code().as_str(), "INSUFFICIENT_FUNDS");
}

#[tokio::test]
async fn failures_are_classified_by_what_stripe_may_have_done() {
    let mut emu = Emulator::start().await;
    let stripe = client(&emu, Duration::from_millis(800));
    let get = requests::customer::ListCustomer::new();

    // 5xx: retried (GET is safe), and reported as unknown when it persists.
    emu.chaos("error", 1).await;
    let ok: objects::List<objects::Customer> =
        stripe.send(&get, None).await.expect("retried past one 500");
    assert!(ok.data.is_empty());
    emu.chaos("error", 10).await;
    let err = stripe
        .send::<objects::List<objects::Customer>>(&get, None)
        .await
        .expect_err("500s");
    assert!(
        matches!(err, StripeError::Server { status: 500, .. }) && err.outcome_unknown(),
        "{err:?}"
    );

    // A POST without idempotency key is never retried after it may have arrived.
    emu.chaos("error", 1).await;
    let create = requests::customer::CreateCustomer::new();
    let err = stripe
        .send::<objects::Customer>(&create, None)
        .await
        .expect_err("not retried");
    assert!(err.outcome_unknown(), "{err:?}");
    emu.chaos("error", 0).await;

    // Hanging: the per-attempt timeout fires and the outcome is unknown.
    emu.chaos("hang", 1).await;
    let err = stripe
        .send::<objects::Customer>(&create, None)
        .await
        .expect_err("timeout");
    assert!(matches!(err, StripeError::OutcomeUnknown(_)), "{err:?}");

    // Emulator gone: nothing was sent.
    emu.stop().await;
    let err = stripe
        .send::<objects::Customer>(&create, None)
        .await
        .expect_err("down");
    assert!(
        matches!(err, StripeError::NotSent(_)) && !err.outcome_unknown(),
        "{err:?}"
    );
    assert_eq!(
        tollgate::error::ApiError::from(err).code().as_str(),
        "STRIPE_UNAVAILABLE"
    );
}
