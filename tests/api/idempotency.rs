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

const CREATE_PRODUCT: &str =
    "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name } }";
const CREATE_PRICE: &str =
    "mutation($input: CreatePriceInput!) { createPrice(input: $input) { id unitAmount { minorUnits } } }";
const CHANGE_PRICE: &str = "mutation($input: ChangeSubscriptionPriceInput!) {
    changeSubscriptionPrice(input: $input) { id price { id } } }";

/// The same key twice: the same answer; with another request: `IDEMPOTENCY_KEY_REUSED` (it
/// was `INTERNAL` with a backtrace for products and prices, Stripe's own refusal passed on).
async fn replays_and_refuses(
    app: &crate::helpers::TestApp,
    token: &str,
    mutation: &str,
    field: &str,
    input: Value,
    other: Value,
) {
    let first = app
        .graphql(mutation, json!({"input": input}), Some(token))
        .await;
    assert!(first["errors"].is_null(), "{field}: {first}");
    let again = app
        .graphql(mutation, json!({"input": input}), Some(token))
        .await;
    assert_eq!(
        first["data"][field]["id"], again["data"][field]["id"],
        "{field}: {again}"
    );
    let reused = app
        .graphql(mutation, json!({"input": other}), Some(token))
        .await;
    assert_eq!(
        error_code(&reused),
        Some("IDEMPOTENCY_KEY_REUSED"),
        "{field}: {reused}"
    );
    assert!(reused["data"].is_null(), "{field}: {reused}");
}

#[tokio::test]
async fn catalog_and_plan_change_mutations_replay_and_refuse_a_reused_key() {
    let app = spawn_app().await;
    let admin = app.token("catalog-admin", true);
    let product = json!({"name": "Seats", "idempotencyKey": "p-1"});
    let other_product = json!({"name": "Other", "idempotencyKey": "p-1"});
    replays_and_refuses(
        &app,
        &admin,
        CREATE_PRODUCT,
        "createProduct",
        product.clone(),
        other_product,
    )
    .await;
    let products = app.emulator.get("/v1/products?limit=100").await.1;
    let named: Vec<&Value> = products["data"]
        .as_array()
        .map(|all| all.iter().filter(|p| p["name"] == "Seats").collect())
        .unwrap_or_default();
    assert_eq!(named.len(), 1, "one product at Stripe");
    let product_id = app
        .graphql(CREATE_PRODUCT, json!({"input": product}), Some(&admin))
        .await["data"]["createProduct"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let price = |amount: &str| {
        json!({"productId": product_id, "amount": amount, "currency": "usd",
               "recurring": {"interval": "MONTH"}, "idempotencyKey": "pr-1"})
    };
    replays_and_refuses(
        &app,
        &admin,
        CREATE_PRICE,
        "createPrice",
        price("9.00"),
        price("19.00"),
    )
    .await;

    // A plan change: subscribe to the first price, change to a second one with a key.
    let basic = app
        .graphql(CREATE_PRICE, json!({"input": price("9.00")}), Some(&admin))
        .await["data"]["createPrice"]["id"]
        .as_str()
        .expect("price")
        .to_string();
    let second = |amount: &str, key: &str| {
        json!({"input": {"productId": product_id, "amount": amount, "currency": "usd",
               "recurring": {"interval": "MONTH"}, "idempotencyKey": key}})
    };
    let pro = app
        .graphql(CREATE_PRICE, second("29.00", "pr-2"), Some(&admin))
        .await["data"]["createPrice"]["id"]
        .as_str()
        .expect("price")
        .to_string();
    let max = app
        .graphql(CREATE_PRICE, second("49.00", "pr-3"), Some(&admin))
        .await["data"]["createPrice"]["id"]
        .as_str()
        .expect("price")
        .to_string();
    let user = app.token("changer", false);
    let subscribed = app
        .graphql(
            "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }",
            json!({"input": {"priceId": basic, "paymentMethodId": "pm_card_visa"}}),
            Some(&user),
        )
        .await;
    let sub = subscribed["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{subscribed}"))
        .to_string();
    let change =
        |price: &str| json!({"subscriptionId": sub, "priceId": price, "idempotencyKey": "c-1"});
    replays_and_refuses(
        &app,
        &user,
        CHANGE_PRICE,
        "changeSubscriptionPrice",
        change(&pro),
        change(&max),
    )
    .await;
}

#[tokio::test]
async fn an_empty_key_is_invalid_input_on_every_mutation_that_takes_one() {
    let app = spawn_app().await;
    let admin = app.token("empty-keys", true);
    let id = uuid::Uuid::new_v4().to_string();
    let cases = [
        (PAY, json!({"input": {"amount": "1.00", "currency": "usd", "idempotencyKey": ""}})),
        (
            "mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { clientSecret } }",
            json!({"input": {"paymentId": id, "paymentMethodId": "pm_card_visa", "idempotencyKey": ""}}),
        ),
        (
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { id } }",
            json!({"input": {"paymentId": id, "idempotencyKey": ""}}),
        ),
        (
            "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { clientSecret } }",
            json!({"input": {"priceId": id, "idempotencyKey": ""}}),
        ),
        (CHANGE_PRICE, json!({"input": {"subscriptionId": id, "priceId": id, "idempotencyKey": ""}})),
        (CREATE_PRODUCT, json!({"input": {"name": "x", "idempotencyKey": ""}})),
        (
            CREATE_PRICE,
            json!({"input": {"productId": id, "amount": "1.00", "currency": "usd", "idempotencyKey": ""}}),
        ),
    ];
    let before = app.emulator.requests().await.len();
    for (mutation, variables) in cases {
        let body = app.graphql(mutation, variables, Some(&admin)).await;
        assert_eq!(
            error_code(&body),
            Some("INVALID_INPUT"),
            "{mutation}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("idempotencyKey"),
            "{body}"
        );
    }
    assert_eq!(
        app.emulator.requests().await.len(),
        before,
        "nothing reached Stripe"
    );
}
