//! Plan changes quoted, then committed at exactly the quoted price (SQLite and PostgreSQL),
//! against the emulator's prorations (by the second, `proration_date`, `always_invoice`).

use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    helpers::{error_code, spawn_app, TestApp},
    selling::{
        admin_code, admin_coupon, advance, another_price, clocked_customer, price_in, subscribe,
    },
};

const PREVIEW: &str = "query($input: SubscriptionChangeInput!) {
    previewSubscriptionChange(input: $input) { id subscriptionId quantity prorationDate expiresAt
    amountDue { minorUnits currency } nextInvoiceTotal { minorUnits }
    lines { description quantity proration amount { minorUnits } periodStart periodEnd price { id } } } }";
const COMMIT: &str = "mutation($input: ChangeSubscriptionInput!) {
    changeSubscription(input: $input) { id quantity status price { id } } }";

struct Subscribed {
    id: String,
    stripe_id: String,
    token: String,
}

/// `user` subscribed to `seats` of `price` with a card.
async fn subscribed(app: &TestApp, user: &str, price: &str, seats: i64) -> Subscribed {
    let token = app.token(user, false);
    let body = subscribe(app, &token, json!({"priceId": price, "quantity": seats})).await;
    let sub = &body["data"]["createSubscription"]["subscription"];
    assert_eq!(sub["status"], "ACTIVE", "{body}");
    Subscribed {
        id: sub["id"].as_str().expect("id").into(),
        stripe_id: sub["stripeSubscriptionId"].as_str().expect("sub").into(),
        token,
    }
}

async fn preview(app: &TestApp, token: &str, input: Value) -> Value {
    app.graphql(PREVIEW, json!({"input": input}), Some(token))
        .await
}

async fn commit(app: &TestApp, token: &str, sub: &str, quote: &Value, key: &str) -> Value {
    app.graphql(
        COMMIT,
        json!({"input": {"subscriptionId": sub, "quoteId": quote["id"], "idempotencyKey": key}}),
        Some(token),
    )
    .await
}

fn minor(v: &Value) -> i64 {
    v["minorUnits"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("minor units")
}

async fn latest_invoice(app: &TestApp, stripe_sub: &str) -> Value {
    let (_, sub) = app
        .emulator
        .get(&format!(
            "/v1/subscriptions/{stripe_sub}?expand[]=latest_invoice"
        ))
        .await;
    sub["latest_invoice"].clone()
}

async fn payment_intent_count(app: &TestApp) -> usize {
    let (_, list) = app.emulator.get("/v1/payment_intents?limit=100").await;
    list["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_upgrade_mid_period_is_charged_exactly_its_quote() {
    let app = spawn_app().await;
    let (price, product) = price_in(&app, "usd", 1000, Some("month")).await;
    let bigger = another_price(&app, &product, "usd", 2500).await;
    // Subscribed ten days ago: the change comes mid-period.
    clocked_customer(&app, "uma", 10).await;
    let sub = subscribed(&app, "uma", &price, 2).await;
    let body = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "priceId": bigger, "quantity": 3}),
    )
    .await;
    let quote = body["data"]["previewSubscriptionChange"].clone();
    assert!(body["errors"].is_null(), "{body}");
    let lines = quote["lines"].as_array().expect("lines");
    assert_eq!(
        lines.len(),
        2,
        "unused time credited, remaining time charged: {quote}"
    );
    assert!(lines.iter().all(|l| l["proration"] == true));
    assert!(minor(&lines[0]["amount"]) < 0, "the credit");
    assert_eq!(lines[1]["price"]["id"], bigger.as_str());
    assert_eq!(lines[1]["quantity"], 3);
    let due = minor(&quote["amountDue"]);
    assert_eq!(
        due,
        lines.iter().map(|l| minor(&l["amount"])).sum::<i64>(),
        "{quote}"
    );
    // About two thirds of the month are left: 2/3 × (75.00 − 20.00).
    assert!((3000..4500).contains(&due), "a part of the period: {due}");
    assert_eq!(
        minor(&quote["nextInvoiceTotal"]),
        7500,
        "3 × 25.00 from the next period"
    );

    // Previewing changed nothing.
    let invoice_before = latest_invoice(&app, &sub.stripe_id).await;
    let body = commit(&app, &sub.token, &sub.id, &quote, "commit-1").await;
    let changed = &body["data"]["changeSubscription"];
    assert_eq!(changed["quantity"], 3, "{body}");
    assert_eq!(changed["price"]["id"], bigger.as_str());
    let invoice = latest_invoice(&app, &sub.stripe_id).await;
    assert_ne!(
        invoice["id"], invoice_before["id"],
        "a new invoice, made now"
    );
    assert_eq!(
        invoice["amount_due"], due,
        "the invoice equals the quote to the minor unit"
    );
    assert_eq!(invoice["status"], "paid");
    let paid: Vec<i64> = entity::payments::Entity::find()
        .filter(entity::payments::Column::UserId.eq("uma"))
        .all(app.db())
        .await
        .expect("payments")
        .iter()
        .map(|p| p.amount)
        .collect();
    assert!(
        paid.contains(&due),
        "the charge is in the history: {paid:?}"
    );

    // A retry answers the same, with the same key or another (a second tab): the quote reaches
    // Stripe once, so nothing more is charged.
    let before = payment_intent_count(&app).await;
    for key in ["commit-1", "commit-2"] {
        let again = commit(&app, &sub.token, &sub.id, &quote, key).await;
        assert_eq!(
            again["data"]["changeSubscription"]["quantity"], 3,
            "{again}"
        );
    }
    assert_eq!(
        latest_invoice(&app, &sub.stripe_id).await["id"],
        invoice["id"]
    );
    assert_eq!(
        payment_intent_count(&app).await,
        before,
        "nothing charged twice"
    );
}

#[tokio::test]
async fn a_quote_made_stale_by_a_renewal_charges_nothing() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let clock = clocked_customer(&app, "rena", 0).await;
    let sub = subscribed(&app, "rena", &price, 1).await;
    let body = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 4}),
    )
    .await;
    let quote = body["data"]["previewSubscriptionChange"].clone();
    assert!(body["errors"].is_null(), "{body}");
    advance(&app, &clock, 32).await; // the subscription renews at Stripe
    let before = payment_intent_count(&app).await;
    let body = commit(&app, &sub.token, &sub.id, &quote, "stale").await;
    assert_eq!(error_code(&body), Some("QUOTE_STALE"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("period"),
        "says what moved: {body}"
    );
    assert_eq!(
        payment_intent_count(&app).await,
        before,
        "nothing was charged"
    );
    let (_, at_stripe) = app
        .emulator
        .get(&format!("/v1/subscriptions/{}", sub.stripe_id))
        .await;
    assert_eq!(
        at_stripe["items"]["data"][0]["quantity"], 1,
        "nothing was changed"
    );
}

#[tokio::test]
async fn a_quote_changed_by_another_change_is_stale_and_an_old_one_expired() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let sub = subscribed(&app, "vic", &price, 1).await;
    let first = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 2}),
    )
    .await;
    let first = first["data"]["previewSubscriptionChange"].clone();
    let second = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 3}),
    )
    .await;
    let second = second["data"]["previewSubscriptionChange"].clone();
    let body = commit(&app, &sub.token, &sub.id, &second, "second").await;
    assert_eq!(body["data"]["changeSubscription"]["quantity"], 3, "{body}");
    let body = commit(&app, &sub.token, &sub.id, &first, "first").await;
    assert_eq!(error_code(&body), Some("QUOTE_STALE"), "{body}");

    let third = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 5}),
    )
    .await;
    let third = third["data"]["previewSubscriptionChange"].clone();
    let id: uuid::Uuid = third["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    entity::subscription_quotes::Entity::update_many()
        .col_expr(
            entity::subscription_quotes::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(entity::subscription_quotes::Column::Id.eq(id))
        .exec(app.db())
        .await
        .expect("expire");
    let body = commit(&app, &sub.token, &sub.id, &third, "third").await;
    assert_eq!(error_code(&body), Some("QUOTE_EXPIRED"), "{body}");
}

#[tokio::test]
async fn a_quote_belongs_to_its_viewer() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let sub = subscribed(&app, "wes", &price, 1).await;
    let quote = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 2}),
    )
    .await;
    let quote = quote["data"]["previewSubscriptionChange"].clone();
    let mallory = app.token("mallory", false);
    let body = commit(&app, &mallory, &sub.id, &quote, "steal").await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = preview(
        &app,
        &mallory,
        json!({"subscriptionId": sub.id, "quantity": 9}),
    )
    .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    // Nor does an admin commit a customer's quote.
    let body = commit(&app, &app.token("root", true), &sub.id, &quote, "admin").await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        let body = commit(&app, &sub.token, &sub.id, &json!({"id": bad}), bad).await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn a_downgrade_credits_and_a_code_can_come_with_a_change() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let sub = subscribed(&app, "xena", &price, 4).await;
    let body = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 2}),
    )
    .await;
    let quote = &body["data"]["previewSubscriptionChange"];
    assert_eq!(
        minor(&quote["amountDue"]),
        0,
        "a credit is never a charge: {body}"
    );
    assert_eq!(minor(&quote["nextInvoiceTotal"]), 2000);

    let coupon = admin_coupon(&app, json!({"percentOff": "50", "duration": "FOREVER"})).await;
    admin_code(&app, &coupon, json!({"code": "HALF"})).await;
    let body = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 6, "promotionCode": "HALF"}),
    )
    .await;
    let quote = body["data"]["previewSubscriptionChange"].clone();
    assert_eq!(
        minor(&quote["nextInvoiceTotal"]),
        3000,
        "6 × 10.00 × 0.5: {body}"
    );
    let body = commit(&app, &sub.token, &sub.id, &quote, "half").await;
    assert!(body["errors"].is_null(), "{body}");
    let invoice = latest_invoice(&app, &sub.stripe_id).await;
    assert_eq!(invoice["amount_due"], minor(&quote["amountDue"]));
    let body = preview(&app, &sub.token, json!({"subscriptionId": sub.id})).await;
    assert_eq!(
        error_code(&body),
        Some("INVALID_INPUT"),
        "nothing to change: {body}"
    );
    let body = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "promotionCode": "NOPE"}),
    )
    .await;
    assert_eq!(error_code(&body), Some("PROMOTION_CODE_INVALID"), "{body}");
}

#[tokio::test]
async fn two_quotes_committed_at_once_charge_once() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    clocked_customer(&app, "yan", 10).await;
    let sub = subscribed(&app, "yan", &price, 1).await;
    let a = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 2}),
    )
    .await;
    let b = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 3}),
    )
    .await;
    let (a, b) = (
        a["data"]["previewSubscriptionChange"].clone(),
        b["data"]["previewSubscriptionChange"].clone(),
    );
    let before = payment_intent_count(&app).await;
    let (ra, rb) = tokio::join!(
        commit(&app, &sub.token, &sub.id, &a, "tab-a"),
        commit(&app, &sub.token, &sub.id, &b, "tab-b"),
    );
    let codes = [error_code(&ra), error_code(&rb)];
    assert!(
        codes.contains(&None) && codes.contains(&Some("QUOTE_STALE")),
        "{ra}\n{rb}"
    );
    assert_eq!(
        payment_intent_count(&app).await,
        before + 1,
        "one change charged"
    );
}

#[tokio::test]
async fn a_commit_whose_answer_is_lost_is_charged_once() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    clocked_customer(&app, "zed", 10).await;
    let sub = subscribed(&app, "zed", &price, 1).await;
    let quote = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "quantity": 4}),
    )
    .await;
    let quote = quote["data"]["previewSubscriptionChange"].clone();
    let before = payment_intent_count(&app).await;
    // Stripe applies the update but the answer never arrives.
    let path = format!("/v1/subscriptions/{}", sub.stripe_id);
    app.emulator
        .chaos_with("drop", 1, &[("method", "POST"), ("path", path.as_str())])
        .await;
    let first = commit(&app, &sub.token, &sub.id, &quote, "lost").await;
    // Whatever the first answer, a retry (same key, then another) ends with the change applied
    // and charged once, never as "stale".
    let again = commit(&app, &sub.token, &sub.id, &quote, "lost").await;
    let other = commit(&app, &sub.token, &sub.id, &quote, "another-tab").await;
    for body in [&again, &other] {
        assert_eq!(
            body["data"]["changeSubscription"]["quantity"], 4,
            "{first}\n{body}"
        );
    }
    assert_eq!(payment_intent_count(&app).await, before + 1, "charged once");
}

#[tokio::test]
async fn a_code_alone_charges_nothing_now_and_discounts_from_the_next_invoice() {
    let app = spawn_app().await;
    let (price, _) = price_in(&app, "usd", 1000, Some("month")).await;
    let sub = subscribed(&app, "abe", &price, 2).await;
    let coupon = admin_coupon(&app, json!({"percentOff": "25", "duration": "FOREVER"})).await;
    admin_code(&app, &coupon, json!({"code": "QUARTER"})).await;
    let body = preview(
        &app,
        &sub.token,
        json!({"subscriptionId": sub.id, "promotionCode": "QUARTER"}),
    )
    .await;
    let quote = body["data"]["previewSubscriptionChange"].clone();
    assert_eq!(minor(&quote["amountDue"]), 0, "{body}");
    assert_eq!(quote["lines"], json!([]));
    assert_eq!(minor(&quote["nextInvoiceTotal"]), 1500, "2 × 10.00 × 0.75");
    let before = payment_intent_count(&app).await;
    let body = commit(&app, &sub.token, &sub.id, &quote, "code-only").await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        payment_intent_count(&app).await,
        before,
        "nothing charged now"
    );
    let subs = app
        .graphql(
            "{ subscriptions { discount { promotionCode coupon { percentOff } } } }",
            json!({}),
            Some(&sub.token),
        )
        .await;
    assert_eq!(
        subs["data"]["subscriptions"][0]["discount"],
        json!({"promotionCode": "QUARTER", "coupon": {"percentOff": "25"}}),
        "{subs}"
    );
}
