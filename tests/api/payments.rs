//! One-time payments through GraphQL against the emulator.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, PAY};

const HISTORY: &str = "query($first: Int, $after: String, $status: PaymentStatus) {
    payments(first: $first, after: $after, status: $status) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { id status cardBrand cardLast4 failureCode description
            amount { amount minorUnits currency formatted } amountRefunded { amount }
            refunds { id } customer { stripeCustomerId } } } } }";

fn payment(body: &Value) -> &Value {
    &body["data"]["createPaymentIntent"]["payment"]
}

#[tokio::test]
async fn a_visa_payment_succeeds_and_shows_in_history() {
    let app = spawn_app().await;
    let token = app.token("alice", false);
    let body = app
        .graphql(
            PAY,
            json!({"input": {"amount": "12.50", "currency": "USD", "paymentMethodId": "pm_card_visa",
                "description": "Order #1", "metadata": {"order": "1"}}}),
            Some(&token),
        )
        .await;
    let p = payment(&body);
    assert_eq!(p["status"], "SUCCEEDED", "{body}");
    assert_eq!(
        p["amount"],
        json!({"amount": "12.50", "minorUnits": "1250", "currency": "usd"})
    );

    let history = app.graphql(HISTORY, json!({}), Some(&token)).await;
    let conn = &history["data"]["payments"];
    assert_eq!(conn["totalCount"], 1, "{history}");
    let node = &conn["edges"][0]["node"];
    assert_eq!(node["cardBrand"], "visa");
    assert_eq!(node["cardLast4"], "4242");
    assert_eq!(node["description"], "Order #1");
    assert_eq!(node["amount"]["formatted"], "$12.50");
    assert!(node["customer"]["stripeCustomerId"]
        .as_str()
        .is_some_and(|c| c.starts_with("cus_")));

    let viewer = app
        .graphql(
            "{ viewer { id email customer { stripeCustomerId } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(viewer["data"]["viewer"]["id"], "alice");
    assert_eq!(
        viewer["data"]["viewer"]["customer"]["stripeCustomerId"],
        node["customer"]["stripeCustomerId"]
    );
}

#[tokio::test]
async fn amounts_reach_stripe_in_the_currencys_minor_units() {
    let app = spawn_app().await;
    let token = app.token("bob", false);
    for (amount, currency, minor) in [
        ("15000", "krw", 15000),
        ("1000", "jpy", 1000),
        ("1.230", "bhd", 1230),
        ("1.23", "bhd", 1230),
    ] {
        let body = app
            .pay(&token, amount, currency, Some("pm_card_visa"))
            .await;
        let pi = payment(&body)["stripePaymentIntentId"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_string();
        let (_, at_stripe) = app.emulator.get(&format!("/v1/payment_intents/{pi}")).await;
        assert_eq!(at_stripe["amount"], minor, "{amount} {currency}");
        assert_eq!(at_stripe["currency"], currency);
    }
    let (_, before) = app.emulator.get("/v1/payment_intents?limit=100").await;
    for (amount, currency) in [
        ("1.234", "bhd"),
        ("0", "usd"),
        ("-1", "usd"),
        ("1e3", "usd"),
        ("12.345", "usd"),
        ("1,000", "usd"),
        ("1000000", "usd"),
    ] {
        let body = app
            .pay(&token, amount, currency, Some("pm_card_visa"))
            .await;
        assert_eq!(
            error_code(&body),
            Some("INVALID_AMOUNT"),
            "{amount} {currency}: {body}"
        );
        assert!(
            body["errors"][0]["extensions"]["field"].is_string(),
            "names the field"
        );
    }
    // Three letters are not a currency: only those Stripe supports reach it.
    for currency in ["dollars", "zzz", "us", ""] {
        let body = app.pay(&token, "12", currency, Some("pm_card_visa")).await;
        assert_eq!(
            error_code(&body),
            Some("INVALID_INPUT"),
            "{currency}: {body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "currency");
    }
    let (_, after) = app.emulator.get("/v1/payment_intents?limit=100").await;
    assert_eq!(
        before["data"].as_array().map(Vec::len),
        after["data"].as_array().map(Vec::len),
        "nothing sent to Stripe"
    );
    let body = app
        .graphql(
            PAY,
            json!({"input": {"amount": "5", "currency": "usd", "priceId": "x"}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        error_code(&body),
        Some("INVALID_INPUT"),
        "amount and priceId together"
    );
}

#[tokio::test]
async fn three_d_secure_requires_action_and_declines_leave_nothing_half_written() {
    let app = spawn_app().await;
    let token = app.token("carol", false);
    let body = app
        .pay(
            &token,
            "20.00",
            "eur",
            Some("pm_card_authenticationRequired"),
        )
        .await;
    assert_eq!(payment(&body)["status"], "REQUIRES_ACTION", "{body}");
    assert!(body["data"]["createPaymentIntent"]["clientSecret"]
        .as_str()
        .is_some_and(|s| s.contains("_secret_")));

    let body = app
        .pay(&token, "20.00", "eur", Some("pm_card_visa_chargeDeclined"))
        .await;
    assert_eq!(error_code(&body), Some("CARD_DECLINED"), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["declineCode"],
        "generic_decline"
    );
    let body = app
        .pay(
            &token,
            "20.00",
            "eur",
            Some("pm_card_visa_chargeDeclinedInsufficientFunds"),
        )
        .await;
    assert_eq!(error_code(&body), Some("INSUFFICIENT_FUNDS"), "{body}");

    // The declined attempts are recorded as what they are: failed, with Stripe's reason.
    let history = app
        .graphql(HISTORY, json!({"status": "FAILED"}), Some(&token))
        .await;
    let failed = history["data"]["payments"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed.len(), 2, "{history}");
    let codes: Vec<&str> = failed
        .iter()
        .filter_map(|e| e["node"]["failureCode"].as_str())
        .collect();
    assert!(
        codes.contains(&"generic_decline") && codes.contains(&"insufficient_funds"),
        "{codes:?}"
    );
    let ok = app
        .graphql(HISTORY, json!({"status": "SUCCEEDED"}), Some(&token))
        .await;
    assert_eq!(ok["data"]["payments"]["totalCount"], 0);
}

#[tokio::test]
async fn a_pending_payment_is_confirmed_or_canceled() {
    let app = spawn_app().await;
    let token = app.token("dave", false);
    let body = app.pay(&token, "9.99", "usd", None).await;
    let p = payment(&body);
    assert_eq!(p["status"], "PENDING", "{body}");
    assert!(body["data"]["createPaymentIntent"]["clientSecret"].is_string());
    let id = p["id"].as_str().expect("id");

    let confirm = "mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { payment { status cardLast4 } } }";
    let declined = app
        .graphql(
            confirm,
            json!({"input": {"paymentId": id, "paymentMethodId": "pm_card_chargeCustomerFail"}}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&declined), Some("CARD_DECLINED"), "{declined}");
    let ok = app
        .graphql(
            confirm,
            json!({"input": {"paymentId": id, "paymentMethodId": "pm_card_visa"}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        ok["data"]["confirmPayment"]["payment"]["status"], "SUCCEEDED",
        "a failed attempt can be retried: {ok}"
    );

    let cancel = "mutation($id: ID!) { cancelPaymentIntent(paymentId: $id) { status } }";
    let refused = app.graphql(cancel, json!({"id": id}), Some(&token)).await;
    assert_eq!(
        error_code(&refused),
        Some("INVALID_INPUT"),
        "a succeeded payment cannot be canceled"
    );
    let other = app.pay(&token, "1.00", "usd", None).await;
    let other_id = payment(&other)["id"].as_str().expect("id");
    let canceled = app
        .graphql(cancel, json!({"id": other_id}), Some(&token))
        .await;
    assert_eq!(
        canceled["data"]["cancelPaymentIntent"]["status"], "CANCELED",
        "{canceled}"
    );
}

#[tokio::test]
async fn one_time_prices_can_be_bought_by_id() {
    let app = spawn_app().await;
    tollgate::demo::seed(app.db(), &app.state.stripe)
        .await
        .expect("seed");
    let products = app
        .graphql(
            "{ products { name prices { id currency type } } }",
            json!({}),
            None,
        )
        .await;
    let all: Vec<Value> = products["data"]["products"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let price_of = |kind: &str, currency: &str| {
        all.iter()
            .flat_map(|p| p["prices"].as_array().cloned().unwrap_or_default())
            .find(|p| p["type"] == kind && p["currency"] == currency)
            .and_then(|p| p["id"].as_str().map(str::to_owned))
            .expect("price")
    };
    let token = app.token("erin", false);
    let one_time = price_of("ONE_TIME", "krw");
    let body = app
        .graphql(
            PAY,
            json!({"input": {"priceId": one_time, "paymentMethodId": "pm_card_visa"}}),
            Some(&token),
        )
        .await;
    assert_eq!(payment(&body)["amount"]["minorUnits"], "25000", "{body}");
    let recurring = price_of("RECURRING", "usd");
    let body = app
        .graphql(PAY, json!({"input": {"priceId": recurring}}), Some(&token))
        .await;
    assert_eq!(
        error_code(&body),
        Some("INVALID_INPUT"),
        "subscriptions are bought elsewhere"
    );
    let body = app
        .graphql(
            PAY,
            json!({"input": {"priceId": uuid::Uuid::new_v4().to_string()}}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test]
async fn history_pages_newest_first_with_opaque_cursors() {
    let app = spawn_app().await;
    let token = app.token("frank", false);
    for i in 1..=5 {
        app.pay_ok(&token, &format!("{i}.00"), "usd").await;
    }
    app.pay_ok(&app.token("someone-else", false), "7.00", "usd")
        .await;
    let first = app
        .graphql(HISTORY, json!({"first": 2}), Some(&token))
        .await;
    let conn = &first["data"]["payments"];
    assert_eq!(
        conn["totalCount"], 5,
        "only the viewer's own payments: {first}"
    );
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    let amounts = |c: &Value| -> Vec<String> {
        c["edges"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|e| e["node"]["amount"]["amount"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(amounts(conn), ["5.00", "4.00"]);
    let after = conn["pageInfo"]["endCursor"].as_str().expect("cursor");
    let rest = app
        .graphql(HISTORY, json!({"first": 10, "after": after}), Some(&token))
        .await;
    assert_eq!(amounts(&rest["data"]["payments"]), ["3.00", "2.00", "1.00"]);
    assert_eq!(rest["data"]["payments"]["pageInfo"]["hasNextPage"], false);

    let bad = app
        .graphql(HISTORY, json!({"after": "garbage"}), Some(&token))
        .await;
    assert_eq!(error_code(&bad), Some("INVALID_INPUT"));
    let zero = app
        .graphql(HISTORY, json!({"first": 0}), Some(&token))
        .await;
    assert_eq!(error_code(&zero), Some("INVALID_INPUT"));
    let huge = app
        .graphql(HISTORY, json!({"first": 100000}), Some(&token))
        .await;
    assert_eq!(
        huge["data"]["payments"]["edges"].as_array().map(Vec::len),
        Some(5),
        "clamped, not refused"
    );
}

#[tokio::test]
async fn stripe_down_means_stripe_unavailable_and_no_success_recorded() {
    let mut app = spawn_app().await;
    let token = app.token("gina", false);
    app.pay_ok(&token, "1.00", "usd").await; // the customer now exists
    app.emulator.stop().await;
    let body = app.pay(&token, "2.00", "usd", Some("pm_card_visa")).await;
    assert_eq!(error_code(&body), Some("STRIPE_UNAVAILABLE"), "{body}");
    let history = app.graphql(HISTORY, json!({}), Some(&token)).await;
    assert_eq!(
        history["data"]["payments"]["totalCount"], 1,
        "nothing recorded for a request that never left: {history}"
    );
}

#[tokio::test]
async fn an_unknown_outcome_is_kept_pending_and_settled_by_a_retry() {
    let app = crate::helpers::spawn_app_with(|vars| {
        vars.insert("STRIPE_TIMEOUT_MS".into(), "700".into());
    })
    .await;
    let token = app.token("hank", false);
    app.pay_ok(&token, "1.00", "usd").await;
    // The emulator swallows the next requests (three attempts): Stripe's answer is lost.
    app.emulator.chaos("hang", 3).await;
    let input = json!({"input": {"amount": "3.00", "currency": "usd", "paymentMethodId": "pm_card_visa", "idempotencyKey": "click-1"}});
    let body = app.graphql(PAY, input.clone(), Some(&token)).await;
    assert_eq!(error_code(&body), Some("STRIPE_UNAVAILABLE"), "{body}");
    let pending = app
        .graphql(HISTORY, json!({"status": "PENDING"}), Some(&token))
        .await;
    assert_eq!(
        pending["data"]["payments"]["totalCount"], 1,
        "kept as pending, never dropped: {pending}"
    );
    let succeeded = app
        .graphql(HISTORY, json!({"status": "SUCCEEDED"}), Some(&token))
        .await;
    assert_eq!(
        succeeded["data"]["payments"]["totalCount"], 1,
        "only the first payment claims success"
    );

    // The client retries the same click: same Stripe key, so at most one charge, and the
    // pending row becomes the real payment.
    let retry = app.graphql(PAY, input, Some(&token)).await;
    assert_eq!(payment(&retry)["status"], "SUCCEEDED", "{retry}");
    let all = app.graphql(HISTORY, json!({}), Some(&token)).await;
    assert_eq!(all["data"]["payments"]["totalCount"], 2, "{all}");
}

#[tokio::test]
async fn a_missing_nullable_root_field_nulls_only_itself() {
    let app = spawn_app().await;
    let token = app.token("u1", false);
    let mine = app.pay_ok(&token, "2.00", "usd").await;
    let other = app.pay_ok(&app.token("u2", false), "3.00", "usd").await;
    let body = app
        .graphql(
            "query($mine: ID!, $other: ID!) { mine: payment(id: $mine) { id } other: payment(id: $other) { id } viewer { id } }",
            json!({"mine": mine, "other": other}),
            Some(&token),
        )
        .await;
    assert_eq!(body["data"]["mine"]["id"], mine.as_str(), "{body}");
    assert!(body["data"]["other"].is_null(), "{body}");
    assert_eq!(body["data"]["viewer"]["id"], "u1", "{body}");
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    assert_eq!(body["errors"][0]["path"][0], "other");
}

#[tokio::test]
async fn an_unknown_stored_status_is_an_error_not_a_silent_default() {
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let token = app.token("u1", false);
    let id = app.pay_ok(&token, "2.00", "usd").await;
    // A value no version of Tollgate writes (a hand edit, a bad migration).
    let corrupted = entity::payments::Entity::update_many()
        .col_expr(entity::payments::Column::Status, Expr::value("paid"))
        .filter(entity::payments::Column::Id.eq(uuid::Uuid::parse_str(&id).expect("uuid")))
        .exec(app.db())
        .await
        .expect("corrupt the row");
    assert_eq!(corrupted.rows_affected, 1);
    let body = app
        .graphql(
            "query($id: ID!) { payment(id: $id) { status } }",
            json!({"id": id}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), Some("INTERNAL"), "{body}");
    assert!(body["data"]["payment"].is_null(), "{body}");
}
