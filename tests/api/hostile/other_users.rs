//! Every by-id field and mutation, probed with another user's ids: the answer is `NOT_FOUND`
//! (their records do not exist for you), admin views are `FORBIDDEN`, and nothing of theirs is
//! touched at Stripe.

use serde_json::{json, Value};

use super::{first_error, nothing_sent_since, still_healthy, stripe_log};
use crate::{
    helpers::{spawn_app, PAY},
    subscriptions::monthly_price,
};

const ATTACH: &str = "mutation($id: String!) { attachPaymentMethod(paymentMethodId: $id) {
    id stripePaymentMethodId } }";
const SUBSCRIBE: &str = "mutation($input: CreateSubscriptionInput!) {
    createSubscription(input: $input) { subscription { id } } }";

#[tokio::test]
async fn another_users_ids_are_not_found_and_admin_views_are_forbidden() {
    let app = spawn_app().await;
    let victim = app.token("victim", false);
    let attacker = app.token("attacker", false);
    let price = monthly_price(&app, 900).await;

    // The victim's records: a saved card, a subscription, a paid and a pending payment.
    let card = app
        .graphql(ATTACH, json!({"id": "pm_card_visa"}), Some(&victim))
        .await;
    let card = &card["data"]["attachPaymentMethod"];
    let card_id = card["id"].as_str().expect("card").to_string();
    let card_stripe = card["stripePaymentMethodId"]
        .as_str()
        .expect("pm")
        .to_string();
    let sub = app
        .graphql(
            SUBSCRIBE,
            json!({"input": {"priceId": price, "paymentMethodId": card_stripe}}),
            Some(&victim),
        )
        .await;
    let sub_id = sub["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{sub}"))
        .to_string();
    let paid = app.pay_ok(&victim, "12.00", "usd").await;
    let pending = app.pay(&victim, "7.00", "usd", None).await;
    let pending = pending["data"]["createPaymentIntent"]["payment"]["id"]
        .as_str()
        .expect("pending")
        .to_string();

    // The attacker is a customer too, so any Stripe call below would be the attack's.
    app.pay_ok(&attacker, "1.00", "usd").await;
    let before = stripe_log(&app).await;

    let not_found: Vec<(&str, &str, Value)> = vec![
        ("payment", "query($id: ID!) { payment(id: $id) { id } }", json!({"id": paid})),
        ("subscription", "query($id: ID!) { subscription(id: $id) { id } }", json!({"id": sub_id})),
        ("cancelPaymentIntent", "mutation($id: ID!) { cancelPaymentIntent(paymentId: $id) { id } }", json!({"id": pending})),
        ("confirmPayment", "mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { payment { id } } }",
            json!({"input": {"paymentId": pending, "paymentMethodId": "pm_card_visa"}})),
        ("cancelSubscription", "mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) { id } }",
            json!({"input": {"subscriptionId": sub_id}})),
        ("resumeSubscription", "mutation($id: ID!) { resumeSubscription(subscriptionId: $id) { id } }", json!({"id": sub_id})),
        ("changeSubscriptionPrice", "mutation($input: ChangeSubscriptionPriceInput!) { changeSubscriptionPrice(input: $input) { id } }",
            json!({"input": {"subscriptionId": sub_id, "priceId": price}})),
        ("detach by Stripe id", "mutation($id: String!) { detachPaymentMethod(paymentMethodId: $id) }", json!({"id": card_stripe})),
        ("detach by Tollgate id", "mutation($id: String!) { detachPaymentMethod(paymentMethodId: $id) }", json!({"id": card_id})),
        ("setDefault", "mutation($id: String!) { setDefaultPaymentMethod(paymentMethodId: $id) { id } }", json!({"id": card_stripe})),
        ("attach theirs", ATTACH, json!({"id": card_stripe})),
        ("pay with theirs", PAY, json!({"input": {"amount": "5", "currency": "usd", "paymentMethodId": card_stripe}})),
        ("subscribe with theirs", SUBSCRIBE, json!({"input": {"priceId": price, "paymentMethodId": card_stripe}})),
    ];
    for (name, query, vars) in not_found {
        let (status, body) = app.graphql_raw(query, vars, Some(&attacker)).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(first_error(&body).0, Some("NOT_FOUND"), "{name}: {body}");
        assert!(!body.to_string().contains("victim"), "{name} leaks: {body}");
    }
    // Refunds are the admin's (no owner window configured): someone else's is forbidden too.
    let body = app
        .graphql(
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { id } }",
            json!({"input": {"paymentId": paid}}),
            Some(&attacker),
        )
        .await;
    let code = first_error(&body).0;
    assert!(matches!(code, Some("NOT_FOUND" | "FORBIDDEN")), "{body}");

    let forbidden = [
        "{ adminPayments { totalCount } }",
        "{ adminSubscriptions { id } }",
        "{ revenue { currency } }",
        "{ webhookEvents { totalCount } }",
        "mutation { createProduct(input: {name: \"x\"}) { id } }",
    ];
    for query in forbidden {
        let body = app.graphql(query, json!({}), Some(&attacker)).await;
        assert_eq!(first_error(&body).0, Some("FORBIDDEN"), "{query}: {body}");
    }
    nothing_sent_since(&app, &before).await;

    // The attacker's own history holds only their payment, whatever cursor they forge.
    let forged = hex::encode(format!("{}|{}", i64::MAX / 2, paid));
    for after in [None, Some(forged.as_str())] {
        let body = app
            .graphql(
                "query($after: String) { payments(first: 50, after: $after) { edges { node { userId } } } }",
                json!({"after": after}),
                Some(&attacker),
            )
            .await;
        let owners: Vec<&str> = body["data"]["payments"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["node"]["userId"].as_str())
            .collect();
        assert!(owners.iter().all(|o| *o == "attacker"), "{body}");
    }
    for garbage in ["zz", "00", &"ab".repeat(500), "<script>"] {
        let body = app
            .graphql(
                "query($after: String) { payments(after: $after) { totalCount } }",
                json!({"after": garbage}),
                Some(&attacker),
            )
            .await;
        assert_eq!(
            first_error(&body).0,
            Some("INVALID_INPUT"),
            "{garbage}: {body}"
        );
    }
    still_healthy(&app).await;
}
