use crate::helpers::{spawn_app, Backend};

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
}

#[tokio::test]
async fn readyz_turns_unhealthy_when_the_database_is_gone() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    match app.db.backend {
        // PostgreSQL: the database really disappears under the running app.
        Backend::Postgres => app.db.drop_database().await,
        // SQLite has no server to lose; closing the pool is the same failure seen from the app.
        Backend::Sqlite => app.db().close_by_ref().await.expect("close pool"),
    }
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    // Liveness is about the process, not its dependencies.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn graceful_shutdown_stops_accepting() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await;
    let err = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(err.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn a_bad_token_is_refused_not_ignored() {
    let app = spawn_app().await;
    let query = "{ products { name } }";
    let (status, body) = app
        .graphql_raw(query, serde_json::json!({}), Some("not.a.jwt"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(crate::helpers::error_code(&body), Some("UNAUTHENTICATED"));
    let token = app.token("u1", false);
    let (status, body) = app
        .graphql_raw(query, serde_json::json!({}), Some(&token))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["products"], serde_json::json!([]));
}

#[tokio::test]
async fn shutdown_closes_open_websockets_with_going_away() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{protocol::frame::coding::CloseCode, Message};
    let app = spawn_app().await;
    let token = app.token("listener", false);
    let mut ws = app.ws_connect().await;
    let init = serde_json::json!({"type": "connection_init", "payload": {"token": token}});
    ws.send(Message::text(init.to_string()))
        .await
        .expect("init");
    let ack = ws.next().await.expect("open").expect("frame");
    assert!(ack.to_text().unwrap_or_default().contains("connection_ack"));
    app.stop().await;
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .expect("a close frame in time")
        .expect("a frame")
        .expect("readable");
    match frame {
        Message::Close(Some(close)) => assert_eq!(close.code, CloseCode::Away, "{close:?}"),
        other => panic!("expected a close frame, got {other:?}"),
    }
}
