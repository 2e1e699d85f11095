//! Stripe closing the connection without answering: after doing the work ("Stripe did it but
//! we never heard") and before doing it (the client cannot tell the two apart).

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    harness::{
        assert_charged_once_each, assert_in_sync, assert_no_event_lost, list_all, scalar,
        PgCluster, Tollgate,
    },
    helpers::{error_code, eventually, Emulator},
};

const ON_INTENTS: [(&str, &str); 2] = [("method", "POST"), ("path", "/v1/payment_intents")];

#[tokio::test]
async fn stripe_drops_the_connection_under_a_payment() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |_| {}).await;
    let token = app.warmed_up_shopper("dropped-shopper").await;

    // One answer lost after Stripe charged: Tollgate's own retry (same Stripe key) hears
    // Stripe's replay, and the client gets its payment at once.
    emu.chaos_with("drop", 1, &ON_INTENTS).await;
    let (_, body) = app
        .pay(&token, "11.00", "one-lost-answer")
        .await
        .expect("answered");
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    assert_eq!(payment["status"], "SUCCEEDED", "{body}");

    // Every attempt's answer lost: Stripe charged, Tollgate cannot know. The client is told
    // Stripe is unavailable; a pending row waits for the webhook, which settles it.
    emu.chaos_with("drop", 3, &ON_INTENTS).await;
    let (_, body) = app
        .pay(&token, "22.00", "all-answers-lost")
        .await
        .expect("answered");
    assert_eq!(error_code(&body), Some("STRIPE_UNAVAILABLE"), "{body}");
    let db = pg.connect().await;
    let settled = eventually(
        Duration::from_secs(30),
        "the webhook settles the unknown outcome",
        || async {
            let status = scalar(
                &db,
                "SELECT status::text || ' ' || id::text FROM payments WHERE amount = 2200",
            )
            .await;
            match status.as_deref().and_then(|s| s.split_once(' ')) {
                Some(("succeeded", id)) => Ok(id.to_string()),
                _ => Err(status),
            }
        },
    )
    .await;
    let retried = app
        .pay_until_answered(&token, "22.00", "all-answers-lost")
        .await;
    assert_eq!(retried["status"], "SUCCEEDED", "{retried}");
    assert_eq!(
        retried["id"],
        settled.as_str(),
        "the retry answers the same payment"
    );

    // Dropped before Stripe did anything: nothing was charged; the retry charges once.
    emu.chaos_with("drop_unprocessed", 3, &ON_INTENTS).await;
    let (_, body) = app
        .pay(&token, "33.00", "never-reached")
        .await
        .expect("answered");
    assert_eq!(error_code(&body), Some("STRIPE_UNAVAILABLE"), "{body}");
    assert_eq!(
        list_all(&emu, "/v1/payment_intents").await.len(),
        3,
        "nothing was created at Stripe"
    );
    let retried = app
        .pay_until_answered(&token, "33.00", "never-reached")
        .await;
    assert_eq!(retried["status"], "SUCCEEDED", "{retried}");

    assert_charged_once_each(&emu, 4).await;
    assert_no_event_lost(&emu, &pg).await;
    assert_in_sync(&app).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM payments WHERE status <> 'succeeded'"
        )
        .await
        .as_deref(),
        Some("0"),
        "no payment left pending"
    );
}

const SUBSCRIBE: &str =
    "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
    subscription { id status stripeSubscriptionId } } }";

#[tokio::test]
async fn stripe_drops_the_connection_under_a_subscription() {
    let pg = PgCluster::start().await;
    let emu = Emulator::start().await;
    let app = Tollgate::start(&pg.url(), &emu, |_| {}).await;
    let (_, stripe_price) = emu.create_price("Dropped plan", "usd", 1500, true).await;
    let (code, out) = app.cli(&["sync", "catalog"]).await;
    assert_eq!(code, Some(0), "{out}");
    let db = pg.connect().await;
    let price = scalar(
        &db,
        &format!("SELECT id::text FROM prices WHERE stripe_price_id = '{stripe_price}'"),
    )
    .await
    .expect("price mirrored");
    let token = app.token("dropped-subscriber", false);
    let subscribe = |key: &'static str| {
        let price = price.clone();
        let app = &app;
        let token = token.clone();
        async move {
            app.graphql(
                SUBSCRIBE,
                json!({"input": {"priceId": price, "paymentMethodId": "pm_card_visa",
                    "idempotencyKey": key}}),
                &token,
            )
            .await
            .expect("answered")
            .1
        }
    };

    emu.chaos_with(
        "drop",
        3,
        &[("method", "POST"), ("path", "/v1/subscriptions")],
    )
    .await;
    let body = subscribe("subscribe-once").await;
    assert_eq!(error_code(&body), Some("STRIPE_UNAVAILABLE"), "{body}");
    let mut answer = Value::Null;
    for _ in 0..20 {
        let body = subscribe("subscribe-once").await;
        if body["data"]["createSubscription"]["subscription"].is_object() {
            answer = body["data"]["createSubscription"]["subscription"].clone();
            break;
        }
        eprintln!("retry answered {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(answer["status"], "ACTIVE", "{answer}");
    let at_stripe = list_all(&emu, "/v1/subscriptions?status=all").await;
    assert_eq!(
        at_stripe.len(),
        1,
        "one subscription at Stripe: {at_stripe:#?}"
    );
    assert_eq!(answer["stripeSubscriptionId"], at_stripe[0]["id"]);

    assert_charged_once_each(&emu, 1).await;
    assert_no_event_lost(&emu, &pg).await;
    assert_in_sync(&app).await;
}
