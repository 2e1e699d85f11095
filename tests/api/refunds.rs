//! Refunds: the refundable balance holds under concurrency; the refund policy is explicit.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

const REFUND: &str = "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) {
    id status amount { amount minorUnits } reason stripeRefundId } }";
const PAYMENT: &str = "query($id: ID!) { payment(id: $id) { status amount { amount } amountRefunded { amount minorUnits }
    refunds { status amount { amount } } } }";

async fn refund(app: &TestApp, token: &str, id: &str, amount: Option<&str>) -> Value {
    app.graphql(
        REFUND,
        json!({"input": {"paymentId": id, "amount": amount, "reason": "REQUESTED_BY_CUSTOMER"}}),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn two_concurrent_sixty_percent_refunds_only_one_passes() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let admin = app.token("root", true);
    let id = app.pay_ok(&alice, "50.00", "usd").await;

    let (a, b) = tokio::join!(
        refund(&app, &admin, &id, Some("30.00")),
        refund(&app, &admin, &id, Some("30.00"))
    );
    let outcomes = [&a, &b];
    let ok = outcomes
        .iter()
        .filter(|r| r["data"]["refundPayment"]["status"] == "SUCCEEDED")
        .count();
    let refused: Vec<_> = outcomes.iter().filter_map(|r| error_code(r)).collect();
    assert_eq!(ok, 1, "{a} {b}");
    assert_eq!(refused, ["REFUND_EXCEEDS_PAYMENT"], "{a} {b}");

    let p = app.graphql(PAYMENT, json!({"id": id}), Some(&alice)).await;
    let p = &p["data"]["payment"];
    assert_eq!(p["amountRefunded"]["amount"], "30.00");
    assert_eq!(p["status"], "PARTIALLY_REFUNDED");
    assert_eq!(
        p["refunds"].as_array().map(Vec::len),
        Some(1),
        "the refused refund left nothing behind"
    );

    let rest = refund(&app, &admin, &id, None).await;
    assert_eq!(
        rest["data"]["refundPayment"]["amount"]["amount"], "20.00",
        "{rest}"
    );
    let p = app.graphql(PAYMENT, json!({"id": id}), Some(&alice)).await;
    assert_eq!(p["data"]["payment"]["status"], "REFUNDED");
    let more = refund(&app, &admin, &id, Some("0.01")).await;
    assert_eq!(error_code(&more), Some("REFUND_EXCEEDS_PAYMENT"));
    // Stripe agrees: exactly what we recorded was refunded there.
    let (_, refunds) = app.emulator.get("/v1/refunds?limit=100").await;
    let total: i64 = refunds["data"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["amount"].as_i64()).sum())
        .unwrap_or(0);
    assert_eq!(total, 5000);
}

#[tokio::test]
async fn many_concurrent_refunds_never_exceed_the_payment() {
    let app = spawn_app().await;
    let admin = app.token("root", true);
    let id = app.pay_ok(&app.token("bob", false), "10.00", "usd").await;
    let attempts = (0..8).map(|_| refund(&app, &admin, &id, Some("3.00")));
    let results = futures_util::future::join_all(attempts).await;
    let ok = results
        .iter()
        .filter(|r| r["data"]["refundPayment"]["status"] == "SUCCEEDED")
        .count();
    assert_eq!(ok, 3, "3 × 3.00 fit in 10.00, a fourth does not");
    let p = app.graphql(PAYMENT, json!({"id": id}), Some(&admin)).await;
    assert_eq!(p["data"]["payment"]["amountRefunded"]["minorUnits"], "900");
}

#[tokio::test]
async fn owners_refund_only_within_the_window_and_others_see_nothing() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let id = app.pay_ok(&alice, "5.00", "usd").await;
    let own = refund(&app, &alice, &id, None).await;
    assert_eq!(
        error_code(&own),
        Some("FORBIDDEN"),
        "default policy: admins only"
    );
    let mallory = app.token("mallory", false);
    let other = refund(&app, &mallory, &id, None).await;
    assert_eq!(
        error_code(&other),
        Some("NOT_FOUND"),
        "another user's payment does not exist for them"
    );
    let peek = app
        .graphql(PAYMENT, json!({"id": id}), Some(&mallory))
        .await;
    assert_eq!(error_code(&peek), Some("NOT_FOUND"));
    let unknown = refund(
        &app,
        &app.token("root", true),
        &uuid::Uuid::new_v4().to_string(),
        None,
    )
    .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));

    let windowed = spawn_app_with(|vars| {
        vars.insert("REFUND_OWNER_WINDOW_SECS".into(), "3600".into());
    })
    .await;
    let alice = windowed.token("alice", false);
    let id = windowed.pay_ok(&alice, "5.00", "usd").await;
    let own = refund(&windowed, &alice, &id, Some("1.00")).await;
    assert_eq!(own["data"]["refundPayment"]["status"], "SUCCEEDED", "{own}");
    assert_eq!(
        own["data"]["refundPayment"]["reason"],
        "REQUESTED_BY_CUSTOMER"
    );
}

#[tokio::test]
async fn only_captured_payments_are_refundable() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let admin = app.token("root", true);
    let pending = app.pay(&alice, "5.00", "usd", None).await;
    let id = pending["data"]["createPaymentIntent"]["payment"]["id"]
        .as_str()
        .expect("id");
    let body = refund(&app, &admin, id, None).await;
    assert_eq!(error_code(&body), Some("NOT_REFUNDABLE"), "{body}");
    let paid = app.pay_ok(&alice, "5.00", "usd").await;
    let body = refund(&app, &admin, &paid, Some("5.001")).await;
    assert_eq!(error_code(&body), Some("INVALID_AMOUNT"));
    let body = refund(&app, &admin, &paid, Some("6.00")).await;
    assert_eq!(error_code(&body), Some("REFUND_EXCEEDS_PAYMENT"));
    assert_eq!(
        body["errors"][0]["extensions"]["remainingMinorUnits"],
        "500"
    );
}
