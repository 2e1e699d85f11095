//! Relay object identification: `Node` on every type a client refetches by id, and
//! `Query.node(id:)` with each type's own authorisation. Before, relay-compiler refused
//! `@refetchable` on `Payment`: there was no `Node` and no `node`.

use serde_json::{json, Value};

use crate::{
    helpers::{eventually, spawn_app, TestApp, WEBHOOK_SECRET},
    subscriptions::monthly_price,
};

const NODE: &str = "query($id: ID!) { node(id: $id) { __typename id
    ... on Payment { status amount { amount } }
    ... on Refund { paymentId status }
    ... on Subscription { status }
    ... on Product { name }
    ... on Price { stripePriceId }
    ... on PaymentMethod { last4 isDefault }
    ... on WebhookEvent { stripeEventId } } }";

async fn node(app: &TestApp, id: &str, token: Option<&str>) -> Value {
    app.graphql(NODE, json!({ "id": id }), token).await
}

/// The node's `__typename`, asserting it came back with its own id and nothing hidden.
fn typename_of(body: &Value, id: &str) -> String {
    let node = &body["data"]["node"];
    assert_eq!(node["id"], id, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    let fields = node.as_object().expect("an object");
    assert!(
        fields.keys().all(|k| !k.starts_with("__tollgate")),
        "no hidden field leaks: {body}"
    );
    node["__typename"].as_str().expect("typename").to_owned()
}

fn assert_not_found(body: &Value, what: &str) {
    assert_eq!(body["data"]["node"], Value::Null, "{what}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{what}: {body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["node"]), "{what}: {body}");
}

#[tokio::test]
async fn every_refetchable_type_is_a_node_with_its_own_authorisation() {
    let app = spawn_app().await;
    let alice = app.token("alice", false);
    let mallory = app.token("mallory", false);
    let admin = app.token("root", true);
    app.emulator
        .register_webhook(&app.url("/webhooks/stripe"), WEBHOOK_SECRET, None)
        .await;

    let payment = app.pay_ok(&alice, "12.00", "usd").await;
    let refunded = app
        .graphql(
            "mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { id } }",
            json!({"input": {"paymentId": payment, "amount": "2.00"}}),
            Some(&admin),
        )
        .await;
    let refund = refunded["data"]["refundPayment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{refunded}"))
        .to_owned();
    let card = app
        .graphql(
            "mutation { attachPaymentMethod(paymentMethodId: \"pm_card_visa\") { id } }",
            json!({}),
            Some(&alice),
        )
        .await["data"]["attachPaymentMethod"]["id"]
        .as_str()
        .expect("card")
        .to_owned();
    let price = monthly_price(&app, 900).await;
    let subscribed = app
        .graphql(
            "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }",
            json!({"input": {"priceId": price}}),
            Some(&alice),
        )
        .await;
    let subscription = subscribed["data"]["createSubscription"]["subscription"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{subscribed}"))
        .to_owned();
    let product = app.graphql("{ products { id } }", json!({}), None).await["data"]["products"][0]
        ["id"]
        .as_str()
        .expect("product")
        .to_owned();
    let event = eventually(
        std::time::Duration::from_secs(10),
        "a stored event",
        || async {
            let body = app
                .graphql(
                    "{ webhookEvents(first: 1) { edges { node { id } } } }",
                    json!({}),
                    Some(&admin),
                )
                .await;
            body["data"]["webhookEvents"]["edges"][0]["node"]["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or(body)
        },
    )
    .await;

    // The owner sees their own; everyone sees the catalog; admins see events.
    for (id, typename) in [
        (&payment, "Payment"),
        (&refund, "Refund"),
        (&card, "PaymentMethod"),
        (&subscription, "Subscription"),
        (&product, "Product"),
        (&price, "Price"),
    ] {
        assert_eq!(
            typename_of(&node(&app, id, Some(&alice)).await, id),
            typename
        );
    }
    assert_eq!(
        typename_of(&node(&app, &event, Some(&admin)).await, &event),
        "WebhookEvent"
    );
    assert_eq!(
        typename_of(&node(&app, &product, None).await, &product),
        "Product"
    );
    let body = node(&app, &payment, Some(&alice)).await;
    assert_eq!(body["data"]["node"]["amount"]["amount"], "12.00", "{body}");

    // Another user's, a non-admin asking for an event, an anonymous caller, an unknown or
    // malformed id: all alike, `null` with `NOT_FOUND`.
    for id in [&payment, &refund, &card, &subscription, &event] {
        assert_not_found(&node(&app, id, Some(&mallory)).await, id);
        assert_not_found(&node(&app, id, None).await, id);
    }
    assert_not_found(&node(&app, &event, Some(&alice)).await, "event for a user");
    assert_not_found(
        &node(&app, &uuid::Uuid::new_v4().to_string(), Some(&admin)).await,
        "unknown",
    );
    assert_not_found(&node(&app, "../payments", Some(&admin)).await, "malformed");
    // Admins refetch anything.
    assert_eq!(
        typename_of(&node(&app, &payment, Some(&admin)).await, &payment),
        "Payment"
    );
}

#[tokio::test]
async fn fragments_on_the_interface_and_its_types_are_completed_by_runtime_type() {
    let app = spawn_app().await;
    let alice = app.token("relay", false);
    let payment = app.pay_ok(&alice, "3.00", "usd").await;
    // Relay's refetch query shape: a fragment on the concrete type spread inside `node`.
    let body = app
        .graphql(
            "query Refetch($id: ID!) { node(id: $id) { ...PaymentRow ...N ... on Product { name } } }
             fragment PaymentRow on Payment { id status cardLast4 }
             fragment N on Node { id }",
            json!({ "id": payment }),
            Some(&alice),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let node = body["data"]["node"].as_object().expect("node");
    let mut keys: Vec<&str> = node.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cardLast4", "id", "status"], "{body}");
}
