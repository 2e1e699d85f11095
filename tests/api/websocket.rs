//! graphql-ws (`graphql-transport-ws`) as its protocol document says: the close codes clients
//! act on, short close reasons, errors as `error` messages, live results as `next`. The npm
//! `graphql-ws` client is run against the same server by `web/tests/protocol`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{
    spawn_app, spawn_app_with, ws_closed_with as closed_with, ws_next_json as next_json,
    ws_send as send, TestApp, Ws,
};

async fn acked(app: &TestApp, sub: &str, admin: bool) -> Ws {
    let mut ws = app.ws_connect().await;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {}", app.token(sub, admin))}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    ws
}

#[tokio::test]
async fn protocol_violations_close_with_the_protocols_codes_and_short_reasons() {
    let app = spawn_app_with(|v| {
        v.insert("GRAPHQL_WS_INIT_TIMEOUT_MS".into(), "300".into());
    })
    .await;
    let subscribe = json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription { paymentUpdated { id } }"}});

    // Credentials refused: 4403.
    let mut ws = app.ws_connect().await;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}),
    )
    .await;
    assert_eq!(closed_with(&mut ws).await.0, 4403);
    let mut ws = app.ws_connect().await;
    send(&mut ws, json!({"type": "connection_init"})).await;
    assert_eq!(closed_with(&mut ws).await.0, 4403, "no credentials at all");

    // Subscribe before the handshake: 4401.
    let mut ws = app.ws_connect().await;
    send(&mut ws, subscribe.clone()).await;
    assert_eq!(closed_with(&mut ws).await.0, 4401);

    // Silence after connecting: 4408 once the init timeout passes.
    let mut ws = app.ws_connect().await;
    assert_eq!(closed_with(&mut ws).await.0, 4408);

    // The same id twice while the first runs: 4409.
    let mut ws = acked(&app, "dup", false).await;
    send(&mut ws, subscribe.clone()).await;
    send(&mut ws, subscribe.clone()).await;
    assert_eq!(closed_with(&mut ws).await.0, 4409);

    // A second connection_init: 4429.
    let mut ws = acked(&app, "twice", false).await;
    send(&mut ws, json!({"type": "connection_init", "payload": {}})).await;
    assert_eq!(closed_with(&mut ws).await.0, 4429);

    // Anything the protocol does not define: 4400, with a reason a control frame can carry.
    let long_id = "x".repeat(300);
    for bad in [
        json!({"type": "start", "id": "1", "payload": {"query": "{ products { name } }"}}),
        json!({"type": "x".repeat(500)}),
        json!({"type": "subscribe", "id": "1"}),
        json!([1, 2, 3]),
        json!({"type": "subscribe", "id": long_id, "payload": {"query": "{ products { name } }"}}),
    ] {
        let mut ws = acked(&app, "odd", false).await;
        send(&mut ws, bad.clone()).await;
        let (code, reason) = closed_with(&mut ws).await;
        assert_eq!(code, 4400, "{bad}");
        assert!(reason.len() <= 123 && !reason.contains("xxx"), "{reason}");
    }
    let mut ws = acked(&app, "binary", false).await;
    ws.send(Message::binary(vec![0_u8; 16]))
        .await
        .expect("send");
    assert_eq!(closed_with(&mut ws).await.0, 4400);
}

#[tokio::test]
async fn operations_stream_next_then_complete_and_errors_end_them() {
    let app = spawn_app().await;
    let mut ws = acked(&app, "watcher", false).await;

    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");

    // A query over the socket: one `next`, then `complete`.
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "q", "payload": {"query": "{ products { name } }"}}),
    )
    .await;
    let next = next_json(&mut ws).await;
    assert_eq!(
        (next["type"].as_str(), next["id"].as_str()),
        (Some("next"), Some("q")),
        "{next}"
    );
    assert!(next["payload"]["data"]["products"].is_array(), "{next}");
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "complete", "id": "q"})
    );

    // An invalid document is an `error` message (no `complete` follows), and the id is free again.
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "bad", "payload": {"query": "subscription { nope }"}}),
    )
    .await;
    let error = next_json(&mut ws).await;
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("bad")),
        "{error}"
    );
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{error}"
    );

    // Mutations move money and go through POST /graphql with its limits.
    send(&mut ws, json!({"type": "subscribe", "id": "m", "payload": {"query": "mutation { createSetupIntent { clientSecret } }"}})).await;
    let refused = next_json(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "BAD_REQUEST",
        "{refused}"
    );

    // A live subscription: the viewer's payment arrives as `next`, with its refunds loaded.
    send(&mut ws, json!({"type": "subscribe", "id": "live", "payload": {"query": "subscription { paymentUpdated { id status refunds { id } } }"}})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let token = app.token("watcher", false);
    let paid = app.pay_ok(&token, "3.00", "usd").await;
    let update = next_json(&mut ws).await;
    assert_eq!(update["type"], "next", "{update}");
    assert_eq!(update["id"], "live");
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["id"],
        paid.as_str(),
        "{update}"
    );

    // The client completes it; the server stops without answering, and the id can be reused.
    send(&mut ws, json!({"type": "complete", "id": "live"})).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "live", "payload": {"query": "{ __typename }"}}),
    )
    .await;
    let reused = next_json(&mut ws).await;
    assert_eq!(reused["payload"]["data"]["__typename"], "Query", "{reused}");
}

#[tokio::test]
async fn an_oversized_message_ends_its_connection_and_nothing_else() {
    let app = spawn_app().await;
    let mut ws = acked(&app, "flooder", false).await;
    // 1 MiB, sixteen times the cap, as one text message: refused before it is parsed.
    let query = format!("{{ products {{ name {} }} }}", "x ".repeat(512 * 1024));
    let _ = ws
        .send(Message::text(
            json!({"type": "subscribe", "id": "big", "payload": {"query": query}}).to_string(),
        ))
        .await;
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the server ends the connection in time")
        {
            Some(Ok(Message::Close(close))) => break close.map(|c| u16::from(c.code)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => panic!("answered an oversized message: {other:?}"),
            Some(Err(_)) | None => break None,
        }
    };
    assert!(
        matches!(ended, None | Some(1009)),
        "closed as too big (1009) or dropped, not {ended:?}"
    );
    // The server itself is unharmed: the next connection works.
    let mut ws = acked(&app, "next-in-line", false).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "q", "payload": {"query": "{ products { name } }"}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["type"], "next");
}
