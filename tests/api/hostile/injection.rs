//! Stripe ids from clients never become paths: the reproduction that re-assigned another
//! user's PaymentIntent, and its variants through every field that takes a Stripe id.

use serde_json::json;
use tollgate::stripe::{requests::payment_method as pm_req, StripeError};

use super::{first_error, nothing_sent_since, still_healthy, stripe_log};
use crate::helpers::{spawn_app, PAY};

const ATTACH: &str = "mutation($id: String!) { attachPaymentMethod(paymentMethodId: $id) { id } }";
const DETACH: &str = "mutation($id: String!) { detachPaymentMethod(paymentMethodId: $id) }";
const DEFAULT: &str =
    "mutation($id: String!) { setDefaultPaymentMethod(paymentMethodId: $id) { id } }";
const SUBSCRIBE: &str = "mutation($input: CreateSubscriptionInput!) {
    createSubscription(input: $input) { subscription { id } } }";
const CONFIRM: &str = "mutation($input: ConfirmPaymentInput!) {
    confirmPayment(input: $input) { payment { id } } }";

#[tokio::test]
async fn another_users_payment_intent_cannot_be_reached_through_a_payment_method_id() {
    let app = spawn_app().await;
    let victim = app.token("victim", false);
    let attacker = app.token("attacker", false);
    let paid = app.pay(&victim, "25.00", "usd", Some("pm_card_visa")).await;
    let pi = paid["data"]["createPaymentIntent"]["payment"]["stripePaymentIntentId"]
        .as_str()
        .expect("victim paid")
        .to_string();
    let (_, before_attack) = app.emulator.get(&format!("/v1/payment_intents/{pi}")).await;
    // The attacker has a customer of their own, so only the attack itself could call Stripe.
    app.pay(&attacker, "1.00", "usd", Some("pm_card_visa"))
        .await;
    let before = stripe_log(&app).await;

    let payloads = [
        format!("../payment_intents/{pi}?"),
        format!("../payment_intents/{pi}#"),
        format!("pm_x/../../payment_intents/{pi}"),
        format!("pm_%2e%2e%2fpayment_intents%2f{pi}"),
        "pm_card_visa?expand[]=customer".to_string(),
        "pm_card visa".to_string(),
        format!("pm_{}", "a".repeat(300)),
        "pi_123".to_string(),
        String::new(),
    ];
    for id in &payloads {
        for (query, vars) in [
            (ATTACH, json!({"id": id})),
            (DETACH, json!({"id": id})),
            (DEFAULT, json!({"id": id})),
            (
                SUBSCRIBE,
                json!({"input": {"priceId": uuid::Uuid::now_v7(), "paymentMethodId": id}}),
            ),
            (
                CONFIRM,
                json!({"input": {"paymentId": uuid::Uuid::now_v7(), "paymentMethodId": id}}),
            ),
            (
                PAY,
                json!({"input": {"amount": "5", "currency": "usd", "paymentMethodId": id}}),
            ),
        ] {
            let (status, body) = app.graphql_raw(query, vars, Some(&attacker)).await;
            assert_eq!(status, 200, "{id}: {body}");
            let (code, message) = first_error(&body);
            assert_eq!(code, Some("INVALID_INPUT"), "{id}: {body}");
            assert!(!message.contains(&pi), "the id is not echoed: {message}");
            assert_eq!(body["errors"][0]["extensions"]["field"], "paymentMethodId");
        }
    }
    nothing_sent_since(&app, &before).await;
    let (_, after_attack) = app.emulator.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(
        after_attack["customer"], before_attack["customer"],
        "still the victim's"
    );
    still_healthy(&app).await;
}

#[tokio::test]
async fn the_stripe_client_refuses_any_url_outside_v1_by_itself() {
    let app = spawn_app().await;
    let before = stripe_log(&app).await;
    // Builders take any string; the client is the second wall.
    for id in [
        "../payment_intents/pi_1?",
        "..",
        "pm_1/../../x",
        "pm_1?a=b",
        "pm_1#f",
    ] {
        let request = pm_req::AttachPaymentMethod::new(id).customer("cus_1");
        let result = app
            .state
            .stripe
            .send::<serde_json::Value>(&request, None)
            .await;
        assert!(
            matches!(result, Err(StripeError::Local(_))),
            "{id}: {result:?}"
        );
    }
    nothing_sent_since(&app, &before).await;
}

#[tokio::test]
async fn a_currency_stripe_does_not_support_is_refused_before_stripe() {
    let app = spawn_app().await;
    let token = app.token("u1", false);
    app.pay(&token, "1.00", "usd", Some("pm_card_visa")).await;
    let before = stripe_log(&app).await;
    for currency in ["zzz", "ZZZ", "abc", "us", "usdd", "<b>", ""] {
        let body = app
            .pay(&token, "10.00", currency, Some("pm_card_visa"))
            .await;
        assert_eq!(
            first_error(&body).0,
            Some("INVALID_INPUT"),
            "{currency}: {body}"
        );
    }
    nothing_sent_since(&app, &before).await;
    still_healthy(&app).await;
}

#[tokio::test]
async fn stripe_invalid_request_errors_are_invalid_input_with_a_safe_message() {
    let app = spawn_app().await;
    let token = app.token("u1", false);
    let pending = app.pay(&token, "3.00", "usd", None).await;
    let payment_id = pending["data"]["createPaymentIntent"]["payment"]["id"]
        .as_str()
        .expect("pending payment")
        .to_string();
    // Well-formed, but Stripe has no such payment method.
    let body = app
        .graphql(
            CONFIRM,
            json!({"input": {"paymentId": payment_id, "paymentMethodId": "pm_doesNotExist123"}}),
            Some(&token),
        )
        .await;
    let (code, message) = first_error(&body);
    assert_eq!(code, Some("INVALID_INPUT"), "{body}");
    assert!(!message.contains("pm_doesNotExist123"), "{message}");
    still_healthy(&app).await;
}
