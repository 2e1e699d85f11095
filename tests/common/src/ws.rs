//! A GraphQL WebSocket client for the app: connect in either protocol, send, read, and see
//! how the server closed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::TestApp;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TestApp {
    /// A graphql-transport-ws connection to the app, before `connection_init`.
    pub async fn ws_connect(&self) -> Ws {
        self.ws_connect_as("graphql-transport-ws").await
    }

    /// A connection offering `subprotocol` (`graphql-ws` is the legacy
    /// subscriptions-transport-ws), before `connection_init`.
    pub async fn ws_connect_as(&self, subprotocol: &str) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/graphql/ws", self.addr)
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            subprotocol.parse().expect("header"),
        );
        tokio_tungstenite::connect_async(request)
            .await
            .expect("connect")
            .0
    }

    /// A socket past `connection_init` (acknowledged) as `sub`, in `subprotocol`.
    pub async fn ws_acked_as(&self, subprotocol: &str, sub: &str, admin: bool) -> Ws {
        let mut ws = self.ws_connect_as(subprotocol).await;
        let token = self.token(sub, admin);
        ws_send(
            &mut ws,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await;
        assert_eq!(ws_next_json(&mut ws).await["type"], "connection_ack");
        ws
    }
}

/// Sends one JSON text message.
pub async fn ws_send(ws: &mut Ws, message: Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        message.to_string(),
    ))
    .await
    .expect("send");
}

/// The next text message, as JSON (WebSocket pings and the legacy protocol's `ka` skipped).
pub async fn ws_next_json(ws: &mut Ws) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("readable");
        match frame {
            Message::Text(t) => {
                let value: Value = serde_json::from_str(t.as_str()).expect("JSON");
                if value["type"] != "ka" {
                    return value;
                }
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server closes; its close code and reason.
pub async fn ws_closed_with(ws: &mut Ws) -> (u16, String) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed in time");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => {
                return (u16::from(close.code), close.reason.to_string())
            }
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("error instead of a close frame: {e}"),
        }
    }
}
