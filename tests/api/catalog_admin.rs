//! Admin catalog mutations.

use serde_json::json;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn admins_create_products_and_prices() {
    let app = spawn_app().await;
    let admin = app.token("root", true);
    let user = app.token("u", false);
    let create = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name features stripeProductId } }";
    let denied = app
        .graphql(create, json!({"input": {"name": "Gold"}}), Some(&user))
        .await;
    assert_eq!(error_code(&denied), Some("FORBIDDEN"));
    let body = app.graphql(create, json!({"input": {"name": "Gold", "description": "Shiny", "features": ["Fast", "Friendly"]}}), Some(&admin)).await;
    let product = &body["data"]["createProduct"];
    assert_eq!(product["features"], json!(["Fast", "Friendly"]), "{body}");
    let (_, at_stripe) = app
        .emulator
        .get(&format!(
            "/v1/products/{}",
            product["stripeProductId"].as_str().expect("id")
        ))
        .await;
    assert_eq!(at_stripe["name"], "Gold");

    let price = "mutation($input: CreatePriceInput!) { createPrice(input: $input) { unitAmount { minorUnits currency } recurring { interval intervalCount } } }";
    let monthly = app
        .graphql(price, json!({"input": {"productId": product["id"], "amount": "15000", "currency": "KRW", "recurring": {"interval": "MONTH"}}}), Some(&admin))
        .await;
    assert_eq!(
        monthly["data"]["createPrice"]["unitAmount"],
        json!({"minorUnits": "15000", "currency": "krw"}),
        "{monthly}"
    );
    assert_eq!(
        monthly["data"]["createPrice"]["recurring"],
        json!({"interval": "MONTH", "intervalCount": 1})
    );
    let bad = app
        .graphql(
            price,
            json!({"input": {"productId": product["id"], "amount": "1.5", "currency": "jpy"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&bad), Some("INVALID_AMOUNT"));
    let too_long = app
        .graphql(price, json!({"input": {"productId": product["id"], "amount": "1", "currency": "usd", "recurring": {"interval": "MONTH", "intervalCount": 13}}}), Some(&admin))
        .await;
    assert_eq!(error_code(&too_long), Some("INVALID_INPUT"));
    let listed = app
        .graphql("{ products { name prices { currency } } }", json!({}), None)
        .await;
    assert_eq!(
        listed["data"]["products"][0]["prices"],
        json!([{"currency": "krw"}])
    );
}

#[tokio::test]
async fn admins_create_recurring_prices_with_a_trial_and_only_those() {
    let app = spawn_app().await;
    let admin = app.token("root", true);
    let body = app
        .graphql(
            "mutation { createProduct(input: {name: \"Pro\"}) { id } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let product = body["data"]["createProduct"]["id"].clone();
    let price = "mutation($input: CreatePriceInput!) { createPrice(input: $input) {
        stripePriceId recurring { interval intervalCount trialPeriodDays } } }";

    let trial = app
        .graphql(
            price,
            json!({"input": {"productId": product, "amount": "12.00", "currency": "usd",
            "recurring": {"interval": "MONTH"}, "trialPeriodDays": 14}}),
            Some(&admin),
        )
        .await;
    let created = &trial["data"]["createPrice"];
    assert_eq!(
        created["recurring"],
        json!({"interval": "MONTH", "intervalCount": 1, "trialPeriodDays": 14}),
        "{trial}"
    );
    // Stripe was asked for it (`recurring[trial_period_days]`) and holds it.
    let (_, at_stripe) = app
        .emulator
        .get(&format!(
            "/v1/prices/{}",
            created["stripePriceId"].as_str().expect("id")
        ))
        .await;
    assert_eq!(
        at_stripe["recurring"]["trial_period_days"], 14,
        "{at_stripe}"
    );

    let plain = app
        .graphql(
            price,
            json!({"input": {"productId": product, "amount": "11.00", "currency": "eur",
            "recurring": {"interval": "MONTH"}}}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        plain["data"]["createPrice"]["recurring"]["trialPeriodDays"],
        serde_json::Value::Null,
        "{plain}"
    );
    let listed = app
        .graphql(
            "{ products { prices { currency recurring { trialPeriodDays } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        listed["data"]["products"][0]["prices"],
        json!([
            {"currency": "eur", "recurring": {"trialPeriodDays": null}},
            {"currency": "usd", "recurring": {"trialPeriodDays": 14}},
        ]),
        "{listed}"
    );

    // Refused before Stripe is called: a trial on a one-time price, or outside 1–730 days.
    let prices_sent = |requests: Vec<String>| {
        requests
            .iter()
            .filter(|r| r.starts_with("POST /v1/prices"))
            .count()
    };
    let before = prices_sent(app.emulator.requests().await);
    let refused = [
        json!({"productId": product, "amount": "5.00", "currency": "usd", "trialPeriodDays": 7}),
        json!({"productId": product, "amount": "5.00", "currency": "usd",
               "recurring": {"interval": "MONTH"}, "trialPeriodDays": 0}),
        json!({"productId": product, "amount": "5.00", "currency": "usd",
               "recurring": {"interval": "MONTH"}, "trialPeriodDays": 731}),
        json!({"productId": product, "amount": "5.00", "currency": "usd",
               "recurring": {"interval": "YEAR"}, "trialPeriodDays": -14}),
    ];
    for input in refused {
        let body = app
            .graphql(price, json!({"input": input}), Some(&admin))
            .await;
        assert_eq!(error_code(&body), Some("INVALID_INPUT"), "{input}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "trialPeriodDays",
            "{input}: {body}"
        );
    }
    assert_eq!(
        prices_sent(app.emulator.requests().await),
        before,
        "a refused trial reaches no Stripe"
    );
}
