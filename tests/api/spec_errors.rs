//! Answers by the GraphQL spec's rules for errors (§6.4.4 "Handling Field Errors") and order
//! (§7.1.1), on every path: async-graphql's executor (with compiled plans on and off) and both
//! WebSocket protocols. Before, a failing field's key was left out of its object (Apollo's
//! `cache.readQuery` then read `null` for the whole query), a failing non-null root kept its
//! siblings, and a subscription with two root fields was accepted.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, ws_next_json, ws_send, TestApp};

async fn apps() -> Vec<(&'static str, TestApp)> {
    let compiled = spawn_app_with(|_| {}).await;
    let executor = spawn_app_with(|v| {
        v.insert("GRAPHQL_COMPILED_OPERATIONS".into(), "false".into());
    })
    .await;
    vec![
        ("compiled plans on", compiled),
        ("compiled plans off", executor),
    ]
}

/// An object's keys, in the order the server wrote them. (`serde_json::Value` sorts its
/// keys, so the order is read from the text.)
fn keys(raw: &str, object: &str) -> Vec<String> {
    let mut stream = serde_json::Deserializer::from_str(raw).into_iter::<Ordered>();
    let Some(Ok(Ordered(root))) = stream.next() else {
        panic!("not JSON: {raw}");
    };
    let mut at = &root;
    for part in object.split('.').filter(|p| !p.is_empty()) {
        at = match at {
            OrderedValue::Object(fields) => fields
                .iter()
                .find(|(k, _)| k == part)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no {part} in {raw}")),
            _ => panic!("{object} is not an object in {raw}"),
        };
    }
    match at {
        OrderedValue::Object(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    }
}

/// JSON with objects as ordered lists of fields.
enum OrderedValue {
    Object(Vec<(String, OrderedValue)>),
    Other,
}

struct Ordered(OrderedValue);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Ordered, M::Error> {
                let mut fields = Vec::new();
                while let Some((k, Ordered(v))) = m.next_entry::<String, Ordered>()? {
                    fields.push((k, v));
                }
                Ok(Ordered(OrderedValue::Object(fields)))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut s: S,
            ) -> Result<Ordered, S::Error> {
                while s.next_element::<Ordered>()?.is_some() {}
                Ok(Ordered(OrderedValue::Other))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered(OrderedValue::Other))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered(OrderedValue::Other))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered(OrderedValue::Other))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered(OrderedValue::Other))
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered(OrderedValue::Other))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered(OrderedValue::Other))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Sends a query; the body as text and as JSON.
async fn ask(app: &TestApp, query: &str, token: &str) -> (String, Value) {
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("app reachable");
    let raw = res.text().await.expect("body");
    let body = serde_json::from_str(&raw).expect("JSON");
    (raw, body)
}

#[tokio::test]
async fn a_failing_nullable_field_is_null_and_its_siblings_stay() {
    for (path, app) in apps().await {
        let token = app.token("nuller", false);
        let (raw, body) = ask(
            &app,
            "{ payment(id: \"nope\") { id } viewer { id } }",
            &token,
        )
        .await;
        let data = &body["data"];
        assert_eq!(keys(&raw, "data"), ["payment", "viewer"], "{path}: {body}");
        assert_eq!(data["payment"], Value::Null, "{path}");
        assert_eq!(data["viewer"]["id"], "nuller", "{path}");
        assert_eq!(
            body["errors"][0]["path"],
            json!(["payment"]),
            "{path}: {body}"
        );
        // Aliased, twice, and inside a fragment: every key is there.
        let (raw, body) = ask(
            &app,
            "query { a: payment(id: \"x\") { id } ...F b: viewer { id } }
             fragment F on Query { c: payment(id: \"y\") { status } }",
            &token,
        )
        .await;
        assert_eq!(keys(&raw, "data"), ["a", "c", "b"], "{path}: {body}");
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(2), "{body}");
    }
}

#[tokio::test]
async fn a_failing_non_null_root_nulls_all_of_data() {
    for (path, app) in apps().await {
        let token = app.token("not-admin", false);
        let (status, body) = app
            .graphql_raw(
                "{ products { name } adminPayments { edges { node { id } } } viewer { id } }",
                json!({}),
                Some(&token),
            )
            .await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["data"], Value::Null, "{path}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["path"],
            json!(["adminPayments"]),
            "{body}"
        );
        // A non-null field under a nullable one nulls only up to it.
        let (raw, body) = ask(&app, "{ viewer { id } ok: products { name } }", &token).await;
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!(keys(&raw, "data"), ["viewer", "ok"], "{path}");
    }
}

#[tokio::test]
async fn keys_come_in_selection_order_and_skipped_objects_stay_objects() {
    for (path, app) in apps().await {
        let token = app.token("orderly", true);
        app.pay_ok(&token, "1.00", "usd").await;
        // `totalCount` waits on the database: it used to come after what finished first.
        let (raw, body) = ask(
            &app,
            "{ payments(first: 5) { totalCount pageInfo { hasNextPage } edges { cursor } }
               viewer { email id } products { name } }",
            &token,
        )
        .await;
        assert!(body["errors"].is_null(), "{path}: {body}");
        assert_eq!(
            keys(&raw, "data"),
            ["payments", "viewer", "products"],
            "{path}"
        );
        assert_eq!(
            keys(&raw, "data.payments"),
            ["totalCount", "pageInfo", "edges"],
            "{path}"
        );
        assert_eq!(keys(&raw, "data.viewer"), ["email", "id"], "{path}");
        // Every field of a non-null object skipped: `{}`, not `null`.
        let body = app
            .graphql(
                "query($no: Boolean = false) { viewer { id @include(if: $no) } }",
                json!({}),
                Some(&token),
            )
            .await;
        assert_eq!(body["data"], json!({"viewer": {}}), "{path}: {body}");
    }
}

#[tokio::test]
async fn websocket_results_follow_the_same_rules() {
    let (_, app) = apps().await.remove(0);
    for (protocol, start, result) in [
        ("graphql-transport-ws", "subscribe", "next"),
        ("graphql-ws", "start", "data"),
    ] {
        let mut ws = app.ws_acked_as(protocol, "socket-nuller", false).await;
        let doc = "{ payment(id: \"nope\") { id } viewer { id } }";
        ws_send(
            &mut ws,
            json!({"type": start, "id": "q", "payload": {"query": doc}}),
        )
        .await;
        let answer = ws_next_json(&mut ws).await;
        assert_eq!(answer["type"], result, "{protocol}: {answer}");
        let data = answer["payload"]["data"].as_object().expect("data");
        assert!(
            data.contains_key("payment") && data.contains_key("viewer"),
            "{answer}"
        );
        assert_eq!(answer["payload"]["data"]["payment"], Value::Null);
        // A failing non-null root is a result with `data: null`, not a request error.
        let doc = "{ adminPayments { totalCount } }";
        ws_send(
            &mut ws,
            json!({"type": start, "id": "a", "payload": {"query": doc}}),
        )
        .await;
        let mut answer = ws_next_json(&mut ws).await;
        if answer["type"] == "complete" {
            answer = ws_next_json(&mut ws).await;
        }
        assert_eq!(answer["type"], result, "{protocol}: {answer}");
        assert_eq!(answer["payload"]["data"], Value::Null, "{answer}");
    }
}

#[tokio::test]
async fn a_subscription_selects_exactly_one_root_field() {
    let (_, app) = apps().await.remove(0);
    let refused = [
        "subscription { paymentUpdated { id } subscriptionUpdated { id } }",
        "subscription { paymentUpdated { id } ...F } fragment F on SubscriptionRoot { subscriptionUpdated { id } }",
        "subscription { paymentUpdated { id } ... on SubscriptionRoot { other: paymentUpdated { id } } }",
        "subscription { __typename }",
        "subscription { paymentUpdated { id } __typename }",
    ];
    for (protocol, start) in [
        ("graphql-transport-ws", "subscribe"),
        ("graphql-ws", "start"),
    ] {
        let mut ws = app.ws_acked_as(protocol, "two-roots", false).await;
        for (i, doc) in refused.iter().enumerate() {
            let id = format!("s{i}");
            ws_send(
                &mut ws,
                json!({"type": start, "id": id, "payload": {"query": doc}}),
            )
            .await;
            let answer = ws_next_json(&mut ws).await;
            assert_eq!(answer["type"], "error", "{protocol} {doc}: {answer}");
            assert_eq!(
                answer["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
                "{answer}"
            );
        }
        // One root field, even selected twice under the same key, is fine.
        let doc = "subscription { paymentUpdated { id } paymentUpdated { status } }";
        ws_send(
            &mut ws,
            json!({"type": start, "id": "one", "payload": {"query": doc}}),
        )
        .await;
        ws_send(
            &mut ws,
            json!({"type": start, "id": "probe", "payload": {"query": "{ __typename }"}}),
        )
        .await;
        let answer = ws_next_json(&mut ws).await;
        assert_eq!(
            answer["id"], "probe",
            "the single-root subscription runs: {answer}"
        );
    }
    // Over HTTP too.
    let (_, body) = app.graphql_raw(refused[0], json!({}), None).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
}
