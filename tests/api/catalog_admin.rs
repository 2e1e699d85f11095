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
