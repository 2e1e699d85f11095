//! Both WebSocket protocols are doors like `POST /graphql`: the same guard decides what runs
//! and charges the same limits. Before, the legacy subscriptions-transport-ws protocol
//! (subprotocol `graphql-ws`) was served by async-graphql's handler: six `createPaymentIntent`
//! over one legacy socket all succeeded while HTTP answered `RATE_LIMITED`, 10,000 `start`s
//! took the process from 44 MB to 600 MB, a user limit of 20/min answered 60 queries, and a
//! socket that never sent `connection_init` stayed open.

use std::time::Duration;

use serde_json::{json, Value};

use super::{first_error, nothing_sent_since, still_healthy, stripe_log};
use crate::helpers::{spawn_app_with, ws_closed_with, ws_next_json, ws_send, TestApp, Ws, PAY};

const PROTOCOLS: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];

/// `subscribe` in graphql-transport-ws, `start` in the legacy protocol.
async fn start(ws: &mut Ws, protocol: &str, id: &str, query: &str, variables: Value) {
    let kind = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    ws_send(
        ws,
        json!({"type": kind, "id": id, "payload": {"query": query, "variables": variables}}),
    )
    .await;
}

fn result_type(protocol: &str) -> &'static str {
    if protocol == "graphql-ws" {
        "data"
    } else {
        "next"
    }
}

fn error_code(message: &Value) -> Option<&str> {
    message["payload"][0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn mutations_are_refused_on_both_protocols_and_reach_no_stripe() {
    let app = spawn_app_with(|v| {
        v.insert("RATE_LIMIT_MUTATIONS_PER_MINUTE".into(), "3".into());
    })
    .await;
    let before = stripe_log(&app).await;
    for protocol in PROTOCOLS {
        let mut ws = app.ws_acked_as(protocol, "spender", false).await;
        for i in 0..6 {
            let id = format!("m{i}");
            let input = json!({"input": {"amount": "1.00", "currency": "usd", "paymentMethodId": "pm_card_visa"}});
            start(&mut ws, protocol, &id, PAY, input).await;
            let answer = ws_next_json(&mut ws).await;
            assert_eq!(answer["type"], "error", "{protocol} #{i}: {answer}");
            assert_eq!(
                error_code(&answer),
                Some("BAD_REQUEST"),
                "{protocol}: {answer}"
            );
        }
        // Whatever operationName selects: a query first in the text does not carry a
        // mutation through.
        let doc = "query Q { __typename } mutation M { createSetupIntent { clientSecret } }";
        ws_send(
            &mut ws,
            json!({"type": if protocol == "graphql-ws" { "start" } else { "subscribe" },
                   "id": "named", "payload": {"query": doc, "operationName": "M"}}),
        )
        .await;
        let answer = ws_next_json(&mut ws).await;
        assert_eq!(
            error_code(&answer),
            Some("BAD_REQUEST"),
            "{protocol}: {answer}"
        );
    }
    nothing_sent_since(&app, &before).await;
    // HTTP still has the whole mutation budget: the sockets charged nothing.
    let token = app.token("spender", false);
    for _ in 0..3 {
        let (status, body) = app
            .graphql_raw(
                PAY,
                json!({"input": {"amount": "1.00", "currency": "usd"}}),
                Some(&token),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
    }
}

#[tokio::test]
async fn the_user_limit_counts_operations_on_both_protocols_and_http_alike() {
    let app = spawn_app_with(|v| {
        v.insert("RATE_LIMIT_USER_PER_MINUTE".into(), "20".into());
    })
    .await;
    for protocol in PROTOCOLS {
        let user = format!("busy-{protocol}");
        let mut ws = app.ws_acked_as(protocol, &user, false).await;
        let (mut answered, mut limited) = (0, 0);
        for i in 0..60 {
            start(
                &mut ws,
                protocol,
                &format!("q{i}"),
                "{ __typename }",
                json!({}),
            )
            .await;
            let answer = ws_next_json(&mut ws).await;
            if answer["type"] == result_type(protocol) {
                answered += 1;
                assert_eq!(ws_next_json(&mut ws).await["type"], "complete");
            } else {
                assert_eq!(error_code(&answer), Some("RATE_LIMITED"), "{answer}");
                limited += 1;
            }
        }
        assert_eq!((answered, limited), (20, 40), "{protocol}");
        // The same user over HTTP is out of budget too: one limit per user, every door.
        let (status, body) = app
            .graphql_raw("{ __typename }", json!({}), Some(&app.token(&user, false)))
            .await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(first_error(&body).0, Some("RATE_LIMITED"));
    }
}

#[tokio::test]
async fn one_socket_holds_at_most_64_operations_on_both_protocols() {
    let app = spawn_app_with(|_| {}).await;
    for protocol in PROTOCOLS {
        let mut ws = app.ws_acked_as(protocol, "hoarder", false).await;
        let live = "subscription { paymentUpdated { id } }";
        for i in 0..64 {
            start(&mut ws, protocol, &format!("s{i}"), live, json!({})).await;
        }
        for i in 64..300 {
            start(&mut ws, protocol, &format!("s{i}"), live, json!({})).await;
            let answer = ws_next_json(&mut ws).await;
            assert_eq!(answer["type"], "error", "{protocol} #{i}: {answer}");
            assert_eq!(error_code(&answer), Some("BAD_REQUEST"), "{answer}");
        }
        // Stopping one frees a place.
        let stop = if protocol == "graphql-ws" {
            "stop"
        } else {
            "complete"
        };
        ws_send(&mut ws, json!({"type": stop, "id": "s0"})).await;
        if protocol == "graphql-ws" {
            assert_eq!(
                ws_next_json(&mut ws).await,
                json!({"type": "complete", "id": "s0"})
            );
        }
        start(&mut ws, protocol, "again", "{ __typename }", json!({})).await;
        assert_eq!(ws_next_json(&mut ws).await["type"], result_type(protocol));
    }
    still_healthy(&app).await;
}

#[tokio::test]
async fn sockets_that_never_initialise_are_closed_on_both_protocols() {
    let app = spawn_app_with(|v| {
        v.insert("GRAPHQL_WS_INIT_TIMEOUT_MS".into(), "300".into());
    })
    .await;
    for protocol in PROTOCOLS {
        let mut ws = app.ws_connect_as(protocol).await;
        assert_eq!(ws_closed_with(&mut ws).await.0, 4408, "{protocol}");
        // Operations before the handshake: 4401.
        let mut ws = app.ws_connect_as(protocol).await;
        start(&mut ws, protocol, "1", "{ __typename }", json!({})).await;
        assert_eq!(ws_closed_with(&mut ws).await.0, 4401, "{protocol}");
    }
    // Refused credentials on the legacy protocol: `connection_error`, then 4403.
    let mut ws = app.ws_connect_as("graphql-ws").await;
    ws_send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"authToken": "forged"}}),
    )
    .await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "connection_error");
    assert_eq!(ws_closed_with(&mut ws).await.0, 4403);
}

/// A token that expires in two seconds, with the leeway at one.
async fn short_lived(app: &TestApp, sub: &str) -> String {
    tollgate::auth::mint(&app.jwt, sub, None, false, Duration::from_secs(2)).expect("mint")
}

#[tokio::test]
async fn a_session_ends_with_its_token_on_both_protocols() {
    let app = spawn_app_with(|v| {
        v.insert("JWT_LEEWAY_SECS".into(), "1".into());
    })
    .await;
    for protocol in PROTOCOLS {
        let sub = format!("expiring-{protocol}");
        let token = short_lived(&app, &sub).await;
        let mut ws = app.ws_connect_as(protocol).await;
        ws_send(
            &mut ws,
            json!({"type": "connection_init", "payload": {"token": token}}),
        )
        .await;
        assert_eq!(ws_next_json(&mut ws).await["type"], "connection_ack");
        start(
            &mut ws,
            protocol,
            "live",
            "subscription { paymentUpdated { id } }",
            json!({}),
        )
        .await;
        let started = std::time::Instant::now();
        // Past the token's end (2 s + 1 s leeway) the server closes: 4403, no `next` after.
        let (code, reason) = ws_closed_with(&mut ws).await;
        assert_eq!(
            (code, reason.as_str()),
            (4403, "Token expired"),
            "{protocol}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{protocol}: closed late"
        );
        // HTTP refuses the same token by now.
        let (status, _) = app
            .graphql_raw("{ viewer { id } }", json!({}), Some(&token))
            .await;
        assert_eq!(status, 401, "{protocol}");
        // The client renews by reconnecting with a fresh token.
        let mut ws = app.ws_acked_as(protocol, &sub, false).await;
        start(
            &mut ws,
            protocol,
            "live",
            "subscription { paymentUpdated { id } }",
            json!({}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let paid = app.pay_ok(&app.token(&sub, false), "2.00", "usd").await;
        let update = ws_next_json(&mut ws).await;
        assert_eq!(
            update["payload"]["data"]["paymentUpdated"]["id"],
            paid.as_str(),
            "{update}"
        );
    }
}

#[tokio::test]
async fn the_legacy_protocol_runs_queries_and_subscriptions_as_its_clients_expect() {
    let app = spawn_app_with(|_| {}).await;
    let mut ws = app.ws_acked_as("graphql-ws", "old-apollo", false).await;
    start(
        &mut ws,
        "graphql-ws",
        "q",
        "{ products { name } }",
        json!({}),
    )
    .await;
    let data = ws_next_json(&mut ws).await;
    assert_eq!(
        (data["type"].as_str(), data["id"].as_str()),
        (Some("data"), Some("q")),
        "{data}"
    );
    assert!(data["payload"]["data"]["products"].is_array(), "{data}");
    assert_eq!(
        ws_next_json(&mut ws).await,
        json!({"type": "complete", "id": "q"})
    );
    // Validation errors are `error`; variables that are not an object too.
    start(
        &mut ws,
        "graphql-ws",
        "bad",
        "subscription { nope }",
        json!({}),
    )
    .await;
    let error = ws_next_json(&mut ws).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(
        error_code(&error),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{error}"
    );
    start(&mut ws, "graphql-ws", "vars", "{ __typename }", json!([1])).await;
    assert_eq!(
        error_code(&ws_next_json(&mut ws).await),
        Some("BAD_REQUEST")
    );
    // The same id again replaces the running operation, as the legacy server did.
    let live = "subscription { paymentUpdated { id status } }";
    start(&mut ws, "graphql-ws", "live", live, json!({})).await;
    start(&mut ws, "graphql-ws", "live", live, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let paid = app
        .pay_ok(&app.token("old-apollo", false), "4.00", "usd")
        .await;
    let update = ws_next_json(&mut ws).await;
    assert_eq!(update["type"], "data", "{update}");
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["id"],
        paid.as_str()
    );
    // connection_terminate ends the connection.
    ws_send(&mut ws, json!({"type": "connection_terminate"})).await;
    assert_eq!(ws_closed_with(&mut ws).await.0, 1000);
}
