//! Refunds: the refundable balance holds under concurrency; the refund policy is explicit.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
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

/// A `refund.*` event with a Refund object, shaped like Stripe's (API 2026-07-29), signed.
fn refund_event(event_id: &str, created: i64, refund: Value) -> String {
    json!({
        "id": event_id, "object": "event", "api_version": "2026-07-29.dahlia", "livemode": false,
        "created": created, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "type": "refund.failed", "data": {"object": refund}
    })
    .to_string()
}

async fn deliver(app: &TestApp, body: &str) {
    let sig = tollgate::webhooks::signature::sign(
        crate::helpers::WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    assert_eq!(app.post_webhook(body, Some(&sig)).await.status(), 200);
}

async fn stripe_refund_id(app: &TestApp, admin: &str, id: &str, amount: &str) -> (String, String) {
    let r = refund(app, admin, id, Some(amount)).await;
    let refund = &r["data"]["refundPayment"];
    assert_eq!(refund["status"], "SUCCEEDED", "{r}");
    let pi = app
        .graphql(
            "query($id: ID!) { payment(id: $id) { stripePaymentIntentId } }",
            json!({"id": id}),
            Some(admin),
        )
        .await["data"]["payment"]["stripePaymentIntentId"]
        .as_str()
        .expect("pi")
        .to_string();
    (
        refund["stripeRefundId"].as_str().expect("re_").to_string(),
        pi,
    )
}

#[tokio::test]
async fn a_succeeded_refund_that_later_fails_gives_the_payment_its_status_back() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let admin = app.token("root", true);
    let id = app.pay_ok(&alice, "40.00", "usd").await;
    let (only, pi) = stripe_refund_id(&app, &admin, &id, "40.00").await;
    let before = app.graphql(PAYMENT, json!({"id": id}), Some(&admin)).await;
    assert_eq!(before["data"]["payment"]["status"], "REFUNDED", "{before}");

    let mut live = app.state.live.subscribe();
    let later = chrono::Utc::now().timestamp() + 5;
    let failed = json!({"id": only, "object": "refund", "amount": 4000, "currency": "usd",
        "status": "failed", "failure_reason": "expired_or_canceled_card", "payment_intent": pi});
    deliver(&app, &refund_event("evt_refund_failed_1", later, failed)).await;
    let after = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the payment is back to SUCCEEDED",
        || async {
            let p = app.graphql(PAYMENT, json!({"id": id}), Some(&admin)).await;
            if p["data"]["payment"]["status"] == "SUCCEEDED" {
                Ok(p)
            } else {
                Err(p)
            }
        },
    )
    .await;
    let payment = &after["data"]["payment"];
    assert_eq!(payment["amountRefunded"]["minorUnits"], "0");
    assert_eq!(payment["refunds"][0]["status"], "FAILED");
    let row = entity::refunds::Entity::find()
        .all(app.db())
        .await
        .expect("refunds");
    assert_eq!(
        row[0].failure_reason.as_deref(),
        Some("expired_or_canceled_card")
    );
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), live.recv())
        .await
        .expect("a live update")
        .expect("channel open");
    assert_eq!(heard.user_id(), "alice");
    // A redelivery changes nothing more.
    let again = json!({"id": only, "object": "refund", "amount": 4000, "currency": "usd",
        "status": "failed", "payment_intent": pi});
    deliver(&app, &refund_event("evt_refund_failed_2", later, again)).await;
    crate::webhooks::wait_until_drained(&app, 2, std::time::Duration::from_secs(10)).await;
    let still = app.graphql(PAYMENT, json!({"id": id}), Some(&admin)).await;
    assert_eq!(
        still["data"]["payment"]["amountRefunded"]["minorUnits"],
        "0"
    );
}

#[tokio::test]
async fn with_other_refunds_left_a_reversal_leaves_it_partially_refunded() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let admin = app.token("root", true);
    let id = app.pay_ok(&alice, "50.00", "usd").await;
    let (first, pi) = stripe_refund_id(&app, &admin, &id, "20.00").await;
    stripe_refund_id(&app, &admin, &id, "30.00").await;
    let failed = json!({"id": first, "object": "refund", "amount": 2000, "currency": "usd",
        "status": "canceled", "payment_intent": pi});
    deliver(
        &app,
        &refund_event(
            "evt_refund_canceled",
            chrono::Utc::now().timestamp() + 5,
            failed,
        ),
    )
    .await;
    let after = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "partially refunded",
        || async {
            let p = app.graphql(PAYMENT, json!({"id": id}), Some(&admin)).await;
            if p["data"]["payment"]["status"] == "PARTIALLY_REFUNDED" {
                Ok(p)
            } else {
                Err(p)
            }
        },
    )
    .await;
    assert_eq!(
        after["data"]["payment"]["amountRefunded"]["minorUnits"],
        "3000"
    );
}

#[tokio::test]
async fn an_outside_refund_larger_than_what_is_left_is_parked_with_a_reason() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let admin = app.token("root", true);
    let id = app.pay_ok(&alice, "10.00", "usd").await;
    let (_, pi) = stripe_refund_id(&app, &admin, &id, "8.00").await;
    // Made in the dashboard, for more than the local copy says is left (2.00).
    let outside = json!({"id": "re_dashboard_big", "object": "refund", "amount": 500,
        "currency": "usd", "status": "succeeded", "payment_intent": pi});
    let body = json!({
        "id": "evt_outside_refund", "object": "event", "api_version": "2026-07-29.dahlia",
        "livemode": false, "created": chrono::Utc::now().timestamp(), "type": "refund.created",
        "data": {"object": outside}
    })
    .to_string();
    deliver(&app, &body).await;
    let event = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the event is parked",
        || async {
            let row = entity::webhook_events::Entity::find()
                .filter(entity::webhook_events::Column::StripeEventId.eq("evt_outside_refund"))
                .one(app.db())
                .await
                .expect("query");
            match row {
                Some(r) if r.status == entity::WebhookEventStatus::Failed => Ok(r),
                other => Err(other),
            }
        },
    )
    .await;
    assert_eq!(event.attempts, 1, "parked at once, not retried blindly");
    let why = event.last_error.unwrap_or_default();
    assert!(
        why.contains("re_dashboard_big") && why.contains("exceeds"),
        "{why}"
    );
    let payment = app.graphql(PAYMENT, json!({"id": id}), Some(&admin)).await;
    assert_eq!(
        payment["data"]["payment"]["amountRefunded"]["minorUnits"],
        "800"
    );
    assert_eq!(payment["data"]["payment"]["status"], "PARTIALLY_REFUNDED");
}
