//! Idempotency keys on money-moving mutations.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, PAY};

fn input(amount: &str, key: &str) -> Value {
    json!({"input": {"amount": amount, "currency": "usd", "paymentMethodId": "pm_card_visa", "idempotencyKey": key}})
}

async fn intents_at_stripe(app: &crate::helpers::TestApp) -> usize {
    let (_, list) = app.emulator.get("/v1/payment_intents?limit=100").await;
    list["data"].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test]
async fn the_same_key_replays_and_a_different_request_is_refused() {
    let app = spawn_app().await;
    let token = app.token("alice", false);
    let first = app.graphql(PAY, input("12.50", "k-1"), Some(&token)).await;
    let second = app.graphql(PAY, input("12.50", "k-1"), Some(&token)).await;
    assert!(first["errors"].is_null(), "{first}");
    assert_eq!(first, second, "identical responses");
    assert_eq!(intents_at_stripe(&app).await, 1, "one PaymentIntent");

    let other = app.graphql(PAY, input("99.00", "k-1"), Some(&token)).await;
    assert_eq!(
        error_code(&other),
        Some("IDEMPOTENCY_KEY_REUSED"),
        "{other}"
    );
    assert_eq!(intents_at_stripe(&app).await, 1);

    // Keys are per user: another user's identical key is another request.
    let bob = app.token("bob", false);
    let theirs = app.graphql(PAY, input("12.50", "k-1"), Some(&bob)).await;
    assert_ne!(
        theirs["data"]["createPaymentIntent"]["payment"]["id"],
        first["data"]["createPaymentIntent"]["payment"]["id"]
    );
    assert_eq!(intents_at_stripe(&app).await, 2);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_make_one_payment() {
    let app = spawn_app().await;
    let token = app.token("carol", false);
    app.pay_ok(&token, "1.00", "usd").await; // customer exists; every request races on the key alone
    let requests = (0..20).map(|_| app.graphql(PAY, input("7.00", "double-click"), Some(&token)));
    let results = futures_util::future::join_all(requests).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| {
            r["data"]["createPaymentIntent"]["payment"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every response names the same payment");
    assert_eq!(
        intents_at_stripe(&app).await,
        2,
        "the first payment and exactly one more"
    );
}

#[tokio::test]
async fn a_declined_payment_is_replayed_as_declined() {
    let app = spawn_app().await;
    let token = app.token("dan", false);
    let declined = json!({"input": {"amount": "4.00", "currency": "usd", "paymentMethodId": "pm_card_visa_chargeDeclined", "idempotencyKey": "k-d"}});
    let a = app.graphql(PAY, declined.clone(), Some(&token)).await;
    let b = app.graphql(PAY, declined, Some(&token)).await;
    assert_eq!(error_code(&a), Some("CARD_DECLINED"));
    assert_eq!(
        error_code(&b),
        Some("CARD_DECLINED"),
        "the outcome is a fact, not retried"
    );
    assert_eq!(intents_at_stripe(&app).await, 1);
    let long_key = "x".repeat(256);
    let body = app
        .graphql(PAY, input("1.00", &long_key), Some(&token))
        .await;
    assert_eq!(error_code(&body), Some("INVALID_INPUT"));
}

#[tokio::test]
async fn concurrent_first_requests_create_one_customer() {
    let app = spawn_app().await;
    let token = app.token("erin", false);
    let amounts: Vec<String> = (1..=6).map(|i| format!("{i}.00")).collect();
    let requests = amounts
        .iter()
        .map(|a| app.pay(&token, a, "usd", Some("pm_card_visa")));
    let results = futures_util::future::join_all(requests).await;
    for r in &results {
        assert_eq!(
            r["data"]["createPaymentIntent"]["payment"]["status"], "SUCCEEDED",
            "{r}"
        );
    }
    let (_, customers) = app.emulator.get("/v1/customers?limit=100").await;
    assert_eq!(
        customers["data"].as_array().map(Vec::len),
        Some(1),
        "one Stripe customer: {customers}"
    );
}

#[tokio::test]
async fn a_retry_after_lost_answers_sends_stripe_the_same_request() {
    let app = spawn_app().await;
    let token = app.token("carol", false);
    let metadata: serde_json::Map<String, Value> = (0..12)
        .map(|i| (format!("note{i}"), Value::from(format!("value {i}"))))
        .collect();
    let input = json!({"input": {"amount": "18.00", "currency": "usd",
        "paymentMethodId": "pm_card_visa", "metadata": metadata, "idempotencyKey": "k-lost"}});
    // Stripe charges, and every answer is lost: the client is told to retry.
    app.emulator
        .chaos_with(
            "drop",
            3,
            &[("method", "POST"), ("path", "/v1/payment_intents")],
        )
        .await;
    let first = app.graphql(PAY, input.clone(), Some(&token)).await;
    assert_eq!(error_code(&first), Some("STRIPE_UNAVAILABLE"), "{first}");
    // The retry rebuilds the request (its metadata a new map): Stripe must see the same
    // parameters under the same key, and replay the charge it made.
    let retry = app.graphql(PAY, input, Some(&token)).await;
    assert_eq!(
        retry["data"]["createPaymentIntent"]["payment"]["status"], "SUCCEEDED",
        "{retry}"
    );
    assert_eq!(intents_at_stripe(&app).await, 1, "charged once");
}

/// A request that outlives its first lease keeps its key: the lease is renewed while it runs,
/// so a duplicate keeps waiting instead of taking over a request that is alive (only a
/// crashed one, whose lease lapses, is taken over).
#[tokio::test]
async fn a_long_request_renews_its_lease_while_it_runs() {
    use entity::idempotency_keys;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tollgate::billing::idempotency;

    let app = spawn_app().await;
    let db = app.db().clone();
    let scope =
        idempotency::Scope::new("u-slow", "k-slow", "test", &json!({"n": 1})).expect("a valid key");
    let locked_until = || async {
        idempotency_keys::Entity::find()
            .filter(idempotency_keys::Column::Key.eq("k-slow"))
            .one(app.db())
            .await
            .expect("query")
            .expect("the key is held")
            .locked_until
            .expect("a lease while running")
    };
    let (first, renewed) = idempotency::run(&db, Some(&scope), || async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let first = locked_until().await;
        // Past the first renewal (every 5 s).
        tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
        Ok((first, locked_until().await))
    })
    .await
    .expect("runs");
    assert!(
        renewed - first >= chrono::Duration::seconds(4),
        "the lease moved on while the request ran: {first} → {renewed}"
    );
    let done = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::Key.eq("k-slow"))
        .one(app.db())
        .await
        .expect("query")
        .expect("the outcome is kept");
    assert!(
        done.locked_until.is_none() && done.response.is_some(),
        "{done:?}"
    );
}
